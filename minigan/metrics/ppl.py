"""The perceptual path length (Karras et al. 2019, "A Style-Based Generator Architecture for
GANs", section 3): how fast a generator's images change, in a feature network's eyes, as z moves.

For each sample: two latents z0, z1 and a point t on the way; the images at t and t + epsilon
along the spherical path between them; their squared feature distance divided by epsilon^2:

    d = |phi(G(slerp(z0, z1, t + eps))) - phi(G(slerp(z0, z1, t)))|^2 / eps^2.

As StyleGAN's ``metrics/perceptual_path_length.py`` (NVlabs/stylegan): epsilon = 1e-4, t uniform
in [0, 1] ("full" sampling; "end" takes t = 0), and the mean over the samples after the outliers
go: those below the 1st percentile (numpy's ``"lower"`` method) or above the 99th (``"higher"``).
Two things differ, both stated here:
- the feature distance: StyleGAN measures LPIPS (VGG-16 features, a squared distance); here the
  caller chooses ``features_fn`` and the distance is the squared Euclidean one of its outputs.
  For digits, the digit classifier's penultimate features (``DigitClassifier.features``, fed
  G's [-1, 1] images as they are); for photos, the Inception's pool3 (``inception_features``,
  which maps [-1, 1] to [0, 1]). Values from different feature networks do not compare.
- the path: ``minigan.utils.latent.slerp`` (White 2016), which keeps z at the length G was
  trained on; StyleGAN's slerp returns unit vectors, because its mapping network normalises z.

z0, z1 and t come from three generators spawned from ``np.random.SeedSequence(seed)``, batch by
batch, so the paths (and the result, up to float32 round-off) do not depend on ``batch_size``, and
100,000 paths never sit in memory at once.

    >>> ppl(G, (100, 1, 1), classifier.features, n_samples=2000)      # a DCGAN on digits
    183.4
"""
import numpy as np
from tqdm import tqdm

from .. import backend
from ..autograd import Tensor, cat, no_grad, tensor
from ..nn.utils.modes import evaluating
from ..utils.latent import slerp
from ..nn import Module
from .extract import model_device


def inception_features(model, value_range=(-1, 1)):
    """A ``features_fn`` for ``ppl``: the pool3 features of the FID Inception ``model`` for
    images in ``value_range`` (a generator's tanh: (-1, 1)); grey images are repeated to RGB."""
    low, high = value_range

    def features(images):
        x = (images - low) / (high - low)                              # -> [0, 1]
        if x.shape[1] == 1:
            x = cat([x, x, x], dim=1)                              # (B, 1, H, W) -> (B, 3, H, W)
        return model(x)[0]
    features.module = model                                            # (ppl puts it in eval mode)
    return features


def discard_outliers(distances, lower=1, upper=99):
    """The distances between the ``lower`` percentile (method "lower") and the ``upper`` one
    (method "higher"), both kept, as StyleGAN filters them."""
    low = np.percentile(distances, lower, method="lower")
    high = np.percentile(distances, upper, method="higher")
    return distances[(low <= distances) & (distances <= high)]


def _latent_sampler(latent):
    """(draw(n, rng) -> (n, dim) float64, the shape G reads) for an int, a shape or a callable."""
    if callable(latent):
        return latent, None
    shape = (latent,) if isinstance(latent, (int, np.integer)) else tuple(latent)
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in shape):
        raise ValueError(f"ppl: latent must be a positive int, a shape such as (100, 1, 1), or a "
                         f"sampler(n, rng) -> (n, dim) array; got {latent!r}")
    dim = int(np.prod(shape))
    return (lambda n, rng: rng.standard_normal((n, dim))), shape


def _path_ends(draw, streams, n, epsilon, sampling):
    """Latents at t and t + epsilon on ``n`` slerp paths: (n, 2, dim) float64."""
    z0 = np.asarray(draw(n, streams[0]), np.float64)
    z1 = np.asarray(draw(n, streams[1]), np.float64)
    if z0.shape != z1.shape or z0.ndim != 2 or len(z0) != n:
        raise ValueError(f"ppl: the sampler must return (n, dim) arrays, asked for n = {n}, got "
                         f"{z0.shape}")
    t = streams[2].uniform(0.0, 1.0, n) if sampling == "full" else np.zeros(n)
    return np.stack([slerp(z0[i], z1[i], [t[i], t[i] + epsilon]) for i in range(n)])


def _distances(generator, features_fn, z_a, z_b, shape, device):
    """Squared feature distances between G(z_a) and G(z_b), per sample: (B,)."""
    z = np.concatenate([z_a, z_b]).astype(np.float32)                  # (2B, dim)
    if shape is not None:
        z = z.reshape(len(z), *shape)                                  # (2B, dim) -> (2B, *shape)
    out = features_fn(generator(tensor(backend.to_device(z, device))))
    out = out.numpy() if isinstance(out, Tensor) else backend.to_device(out, "cpu")
    out = np.asarray(out, np.float64).reshape(len(z), -1)              # (2B, F)
    half = len(z) // 2
    return ((out[half:] - out[:half]) ** 2).sum(axis=1)


def ppl(generator, latent, features_fn, n_samples=10000, epsilon=1e-4, batch_size=64, seed=0,
        sampling="full", discard=(1, 99), device=None, progress=True):
    """The perceptual path length of ``generator``: a float >= 0.

    Args:
        generator: maps latents (B, *shape) to images (B, C, H, W). It and the feature network
            (a Module, a Module's method, or ``inception_features``) run in eval mode, no graph.
        latent: the latent's size (int), its shape (e.g. (100, 1, 1) for a DCGAN), or a
            sampler ``draw(n, rng) -> (n, dim)`` array (rng: a NumPy Generator).
        features_fn: images (B, C, H, W) -> features (B, ...): ``DigitClassifier.features`` for
            digits, ``inception_features(model)`` for photos (see the module docstring).
        n_samples: paths measured (StyleGAN: 100,000). epsilon: the step along the path.
        batch_size: paths per forward pass (2 x batch_size images). seed: the latents' seed.
        sampling: "full" (t uniform in [0, 1]) or "end" (t = 0).
        discard: (lower, upper) percentiles kept (StyleGAN's (1, 99)), or None to keep all.
        device: where the latents go (default: the generator's parameters' device, else cpu).
    """
    if sampling not in ("full", "end"):
        raise ValueError(f"ppl: sampling must be 'full' or 'end', got {sampling!r}")
    for value, what in ((n_samples, "n_samples"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"ppl: {what} must be a positive int, got {value!r}")
    if not epsilon > 0:
        raise ValueError(f"ppl: epsilon must be > 0, got {epsilon!r}")
    draw, shape = _latent_sampler(latent)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    device = device or model_device(generator)
    modules = [m for m in (generator, getattr(features_fn, "__self__", None),
                           getattr(features_fn, "module", None)) if isinstance(m, Module)]
    distances = []
    with evaluating(*modules), no_grad():
        for start in tqdm(range(0, n_samples, batch_size), desc="ppl", disable=not progress,
                          leave=False, dynamic_ncols=True):
            ends = _path_ends(draw, streams, min(batch_size, n_samples - start), epsilon,
                              sampling)                               # (B, 2, dim)
            distances.append(_distances(generator, features_fn, ends[:, 0], ends[:, 1], shape,
                                        device))
    distances = np.concatenate(distances) / epsilon ** 2
    if discard is not None:
        distances = discard_outliers(distances, *discard)
    return float(distances.mean())
