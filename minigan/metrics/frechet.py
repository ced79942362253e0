"""The Fréchet distance between two Gaussians, as FID computes it (Heusel et al. 2017).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

``frechet_distance`` follows pytorch-fid's ``calculate_frechet_distance`` (mseitzer/pytorch-fid,
src/pytorch_fid/fid_score.py) step for step, so FIDs are comparable with papers: the square root
of the product S1 S2 by ``scipy.linalg.sqrtm`` (Schur method); when it is not finite (S1 S2 is
near singular, e.g. fewer images than feature dimensions), once more with ``eps`` added to both
diagonals; a complex result is accepted, as its real part, only when the imaginary part of its
diagonal is below 1e-3.

(``minigan.gans.evaluation.frechet_distance`` computes the same number through two symmetric
eigendecompositions; this one keeps pytorch-fid's numerics, including its guard.)

    >>> mu1, sigma1 = gaussian_statistics(features_a)      # features (N, 2048)
    >>> frechet_distance(mu1, sigma1, *gaussian_statistics(features_b))
    12.7
"""
import warnings

import numpy as np
import scipy
from scipy import linalg

_SCIPY = tuple(int(part) for part in scipy.__version__.split(".")[:2])
_IMAGINARY_TOLERANCE = 1e-3          # pytorch-fid's atol on the diagonal's imaginary part


def gaussian_statistics(features):
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64, as pytorch-fid's
    ``np.mean(act, axis=0)`` and ``np.cov(act, rowvar=False)``."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"gaussian_statistics: expected features (N, D) with N >= 2 (a "
                         f"covariance needs two samples), got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrtm(matrix):
    """scipy's matrix square root, quietly, as pytorch-fid's ``disp=False`` asks. SciPy 1.16
    deprecated ``disp`` and warns (LinAlgWarning) of a singular matrix instead; the root it
    returns is the same either way."""
    if _SCIPY < (1, 16):
        return linalg.sqrtm(matrix, disp=False)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(matrix)


def check_statistics(mu1, sigma1, mu2, sigma2, caller="frechet_distance"):
    """The four statistics as float64 arrays (means 1-D, covariances 2-D); ValueError in one line
    when their shapes do not fit one feature dimension D."""
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[-1]
    if mu1.ndim != 1 or mu2.shape != mu1.shape or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"{caller}: expected means (D,) and covariances (D, D) of one D, got "
                         f"mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, "
                         f"sigma2 {sigma2.shape}")
    return mu1, sigma1, mu2, sigma2


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2): a float >= 0 (up to
    round-off).

    Args:
        mu1, mu2: means (D,).
        sigma1, sigma2: covariances (D, D).
        eps: added to both diagonals when the square root of sigma1 @ sigma2 is not finite
            (a warning says so, as pytorch-fid prints).
    Raises ValueError for shapes of different D, and when the root has a significant
    imaginary part (the covariances are not positive semi-definite, or badly conditioned).
    """
    mu1, sigma1, mu2, sigma2 = check_statistics(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    root = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        warnings.warn(f"frechet_distance: sigma1 @ sigma2 is singular; adding {eps} to the "
                      f"diagonal of both covariances", RuntimeWarning, stacklevel=2)
        offset = np.eye(sigma1.shape[0]) * eps
        root = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        if not np.allclose(np.diagonal(root).imag, 0, atol=_IMAGINARY_TOLERANCE):
            largest = np.max(np.abs(root.imag))
            raise ValueError(f"frechet_distance: the square root of sigma1 @ sigma2 has an "
                             f"imaginary part up to {largest:.3g} (> {_IMAGINARY_TOLERANCE} on "
                             f"the diagonal): are both covariances positive semi-definite?")
        root = root.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root))
