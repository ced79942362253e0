"""FID, KID and the Inception score of whatever holds the images: a folder, a statistics file,
an image array or features already extracted.

Each argument ``real`` / ``fake`` may be
- a folder of images (read as pytorch-fid reads them, see ``images``; the Inception statistics
  are cached per folder, see ``statistics``);
- a statistics file (``save_statistics``'s safetensors, or pytorch-fid's ``.npz``): FID only,
  unless it also holds the features (KID) or logits (IS);
- an image array or Tensor: uint8 (N, H, W, 3), or float (N, 3, H, W) in [0, 1];
- features (N, D), for FID and KID (e.g. pool3 from ``activations``), or logits (N, K) for IS;
- a dict with ``mu`` and ``sigma`` (FID).

The network (``model``, or the Inception loaded from ``weights``) is loaded only when images
must go through it. Reusing one over several calls: pass ``model=inception_model(weights)``.

    >>> fid("real_images/", "samples/", weights="pt_inception.safetensors")
    >>> kid(real_pool3, fake_pool3, subset_size=500)                   # (mean, std)
    >>> inception_score("samples/", weights="pt_inception.safetensors")  # (mean, std)
"""
import os

import numpy as np

from ..autograd import Tensor
from .extract import activations, inception_model, model_digest
from .frechet import frechet_distance, gaussian_statistics
from .images import check_images, folder_images
from .inception_score import inception_score_from_logits
from .kid import kid_from_features
from .statistics import cache_file, cache_key, load_statistics, read_cached, write_cached


class Extractor:
    """Gives each metric what it reads from a source: ``"stats"`` (mu, sigma), ``"features"``
    (N, D) or ``"logits"`` (N, K). The network is loaded on first use.

    Args:
        model: the feature network (see ``extract``), or None to load the FID Inception from
            ``weights`` (a safetensors file; None: ``$MINIGAN_INCEPTION_WEIGHTS`` or the cache).
        batch_size: images per forward pass. device: where a loaded network runs.
        cache: the folder statistics cache (None: the default folder, False: off, or a folder).
        progress: show a progress bar. skip_bad: leave out unreadable files of a folder.
        caller: the name errors start with.
    """

    def __init__(self, model=None, weights=None, batch_size=50, device="cpu", cache=None,
                 progress=True, skip_bad=False, caller="fid"):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{caller}: batch_size must be a positive int, got {batch_size!r}")
        self._model, self.weights, self.device = model, weights, device
        self.batch_size, self.cache, self.progress = batch_size, cache, progress
        self.skip_bad, self.caller = skip_bad, caller

    @property
    def model(self):
        if self._model is None:
            self._model = inception_model(self.weights, self.device)
        return self._model

    def get(self, source, need, name="real"):
        """What ``need`` names ("stats", "features" or "logits") from ``source`` (``name`` says
        which argument, for errors)."""
        return self.collect(source, (need,), name)[need]

    def collect(self, source, needs, name="real"):
        """A dict with each of ``needs`` from ``source``, the network run at most once."""
        if isinstance(source, dict):
            return self._from_stats(source, needs, f"{name} (a dict)")
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if os.path.isdir(path):
                return self._from_folder(path, needs)
            if os.path.isfile(path):
                return self._from_stats(load_statistics(path), needs, path)
            raise FileNotFoundError(f"{self.caller}: {name}: no such folder or statistics file: "
                                    f"{path}")
        data = source.numpy() if isinstance(source, Tensor) else np.asarray(source)
        if data.ndim == 2 and data.dtype.kind == "f":                 # features or logits
            return self._from_features(data, needs, name)
        features, logits = activations(check_images(data, self.caller), self.model,
                                       self.batch_size, self.progress, f"{self.caller} {name}")
        return self._from_stats(self._summary(features, logits, needs, name), needs, name)

    def _summary(self, features, logits, needs, name):
        """mu, sigma, and the features / logits that ``needs`` asks for."""
        if len(features) < 2:
            raise ValueError(f"{self.caller}: {name} holds {len(features)} image; at least 2 are "
                             f"needed (a covariance)")
        mu, sigma = gaussian_statistics(features)
        summary = {"mu": mu, "sigma": sigma}
        summary.update((k, v) for k, v in (("features", features), ("logits", logits))
                       if k in needs)
        return summary

    def _from_features(self, data, needs, name):
        """A 2-D array is the features for FID and KID, the logits for the score."""
        found = {"features": data, "logits": data}
        if "stats" in needs:
            found["stats"] = gaussian_statistics(data)
        return {need: found[need] for need in needs}

    def _from_stats(self, stats, needs, where):
        found = {}
        for need in needs:
            if need == "stats":
                if "mu" not in stats or "sigma" not in stats:
                    raise ValueError(f"{self.caller}: {where} has no 'mu' and 'sigma'")
                found[need] = (np.asarray(stats["mu"], np.float64),
                               np.asarray(stats["sigma"], np.float64))
            elif need in stats:
                found[need] = np.asarray(stats[need])
            else:
                metric = "KID" if need == "features" else "the Inception score"
                raise ValueError(f"{self.caller}: {where} holds statistics (mu, sigma) only; "
                                 f"{metric} needs the {need}: give the images or their folder")
        return found

    def _from_folder(self, folder, needs):
        paths = folder_images(folder, self.skip_bad)
        entry = cache_file(folder, self.cache)
        key = cache_key(paths, model_digest(self.model)) if entry else None
        extra = tuple(need for need in needs if need != "stats")
        summary = read_cached(entry, key, extra)
        if summary is None:
            features, logits = activations(paths, self.model, self.batch_size, self.progress,
                                           f"{self.caller} {folder}")
            summary = self._summary(features, logits, needs, folder)
            write_cached(entry, key, summary)
        return self._from_stats(summary, needs, folder)


def fid(real, fake, model=None, weights=None, batch_size=50, device="cpu", cache=None,
        progress=True, skip_bad=False, eps=1e-6):
    """The Fréchet Inception distance between two sets (see the module docstring for what
    ``real`` and ``fake`` may be): a float, 0 for identical statistics.

    Computed by ``frechet_distance`` from the pool3 means and covariances, as pytorch-fid does.
    It is biased upwards at small N: compare FIDs of the same sample counts (papers: 50,000 or
    10,000). Raises ValueError in one line for sets of different feature sizes.
    """
    extractor = Extractor(model, weights, batch_size, device, cache, progress, skip_bad, "fid")
    mu1, sigma1 = extractor.get(real, "stats", "real")
    mu2, sigma2 = extractor.get(fake, "stats", "fake")
    if mu1.shape != mu2.shape:
        raise ValueError(f"fid: real has {mu1.shape[0]}-d features and fake {mu2.shape[0]}-d; "
                         f"both must come from the same layer of the same network")
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps)


def kid(real, fake, subsets=100, subset_size=1000, degree=3, gamma=None, coef0=1, seed=2020,
        model=None, weights=None, batch_size=50, device="cpu", cache=None, progress=True,
        skip_bad=False):
    """The kernel Inception distance between two sets: (mean, std) over ``subsets`` subsets of
    ``subset_size`` samples each (``kid.kid_from_features``; torch-fidelity's defaults). Unbiased,
    so it compares across sample counts; both sets need ``subset_size`` samples at least.
    """
    extractor = Extractor(model, weights, batch_size, device, cache, progress, skip_bad, "kid")
    features1 = extractor.get(real, "features", "real")
    features2 = extractor.get(fake, "features", "fake")
    return kid_from_features(features1, features2, subsets, subset_size, degree, gamma, coef0,
                             seed, progress)


def inception_score(fake, splits=10, shuffle=True, seed=2020, model=None, weights=None,
                    batch_size=50, device="cpu", cache=None, progress=True, skip_bad=False):
    """The Inception score of a set (images, a folder, or logits (N, 1008)): (mean, std) over
    ``splits`` parts, as torch-fidelity computes it (``inception_score.py``)."""
    extractor = Extractor(model, weights, batch_size, device, cache, progress, skip_bad,
                          "inception_score")
    logits = extractor.get(fake, "logits", "fake")
    return inception_score_from_logits(logits, splits, shuffle, seed)


def statistics(source, model=None, weights=None, batch_size=50, device="cpu", cache=None,
               progress=True, skip_bad=False):
    """(mu (D,), sigma (D, D)) of a set: what ``save_statistics`` writes and ``fid`` compares."""
    extractor = Extractor(model, weights, batch_size, device, cache, progress, skip_bad,
                          "statistics")
    return extractor.get(source, "stats", "source")


def fid_and_kid(real, fake, model, value_range=(-1.0, 1.0), kid_subsets=100,
                kid_subset_size=1000, batch_size=50, progress=True):
    """FID and KID of generated images against real ones, in one pass of the network over each:
    what the examples' ``--eval-inception`` logs.

    Args:
        real, fake: images (N, C, H, W), arrays or Tensors, C 1 or 3, values in ``value_range``
            (a generator's tanh: (-1, 1)).
        model: the feature network (``inception_model(weights)``).
        kid_subset_size: at most this many per KID subset; fewer when a set is smaller (so with
            N below 1000 every subset is the whole set, up to order, and the std is 0).
    Returns {"fid", "kid", "kid_std", "kid_subsets", "kid_subset_size", "real_images",
    "fake_images"}.
    """
    low, high = value_range
    found = []
    for images, name in ((real, "real"), (fake, "fake")):
        data = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
        scaled = (data.astype(np.float32) - low) / (high - low)         # -> [0, 1]
        features, _ = activations(check_images(scaled, "fid_and_kid"), model, batch_size,
                                  progress, f"inception {name}")
        found.append(features)
    subset = min(kid_subset_size, len(found[0]), len(found[1]))
    kid_mean, kid_std = kid_from_features(found[0], found[1], kid_subsets, subset)
    mu1, sigma1 = gaussian_statistics(found[0])
    mu2, sigma2 = gaussian_statistics(found[1])
    return {"fid": frechet_distance(mu1, sigma1, mu2, sigma2), "kid": kid_mean,
            "kid_std": kid_std, "kid_subsets": kid_subsets, "kid_subset_size": subset,
            "real_images": len(found[0]), "fake_images": len(found[1])}
