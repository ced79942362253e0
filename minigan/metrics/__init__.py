"""The standard GAN metrics, computed with no deep-learning framework but minigan: FID, KID, the
Inception score and the perceptual path length (docs/metrics.md).

- ``fid(real, fake)``: the Fréchet distance between Gaussians fitted to the Inception's pool3
  features of two sets (Heusel et al. 2017), as pytorch-fid computes it (``frechet_distance``).
- ``kid(real, fake)``: the unbiased squared MMD under a cubic polynomial kernel, over subsets
  (Bińkowski et al. 2018), as torch-fidelity computes it: (mean, std).
- ``inception_score(fake)``: exp E KL(p(y|x) || p(y)) over 10 splits (Salimans et al. 2016), as
  torch-fidelity computes it: (mean, std).
- ``ppl(G, latent, features_fn)``: the perceptual path length (Karras et al. 2019).

A set may be a folder of images, a statistics file, an image array or features (``scores``).
Folder statistics are cached (``statistics``). The network is the FID Inception-v3
(``minigan.models.inception``), whose weights come from a local file:
``python -m minigan.convert pt_inception-2015-12-05-6726825d.pth pt_inception.safetensors``.

    >>> from minigan import metrics
    >>> metrics.fid("real/", "fake/", weights="pt_inception.safetensors")
    >>> python -m minigan.metrics fid real/ fake/ --weights pt_inception.safetensors --kid
"""
from .extract import activations, inception_model
from .frechet import frechet_distance, gaussian_statistics
from .inception_score import inception_score_from_logits
from .kid import kid_from_features
from .ppl import inception_features, ppl
from .scores import Extractor, fid, fid_and_kid, inception_score, kid, statistics
from .statistics import load_statistics, save_statistics

__all__ = [
    "fid", "kid", "inception_score", "ppl", "statistics", "fid_and_kid", "frechet_distance",
    "gaussian_statistics", "kid_from_features", "inception_score_from_logits", "activations",
    "inception_model", "inception_features", "Extractor", "load_statistics", "save_statistics",
]
