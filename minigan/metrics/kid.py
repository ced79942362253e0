"""The kernel Inception distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the squared
maximum mean discrepancy between two sets of features under the cubic polynomial kernel

    k(x, y) = (gamma x.y + coef0) ** degree,      gamma = 1 / D, coef0 = 1, degree = 3,

estimated without bias (the diagonals of K_XX and K_YY are left out) on ``subsets`` random
subsets of ``subset_size`` features from each set, drawn without replacement; the result is the
mean and the (population) standard deviation over the subsets.

The same estimate as torch-fidelity's ``kid_features_to_metric`` (toshas/torch-fidelity,
torch_fidelity/metric_kid.py; its ``mmd2`` and kernel adapted from Bińkowski's MMD-GAN code): with
the same ``seed`` (2020, its ``rng_seed``) the subsets are the same, drawn by
``np.random.RandomState(seed).choice(n, subset_size, replace=False)``, one set then the other for
each subset. Unlike FID, the estimate is unbiased, so KIDs from different sample counts compare,
and it can be slightly negative when the two sets come from one distribution. Here the kernel is
evaluated in float64; torch-fidelity uses the features' dtype (float32).

    >>> mean, std = kid_from_features(real_features, fake_features, subset_size=500)
"""
import numpy as np
from tqdm import tqdm


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """(gamma x @ y.T + coef0) ** degree for features x (M, D), y (N, D): (M, N); gamma = 1 / D
    when None."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx, k_xy, k_yy):
    """The unbiased MMD^2 estimate from the kernel matrices of two samples of m each:
    mean of K_XX and K_YY off their diagonals, less twice the mean of K_XY."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx)) + (k_yy.sum() - np.trace(k_yy))
    return within / (m * (m - 1)) - 2 * k_xy.sum() / (m * m)


def kid_from_features(features1, features2, subsets=100, subset_size=1000, degree=3, gamma=None,
                      coef0=1.0, seed=2020, progress=False):
    """KID between features (N1, D) and (N2, D): (mean, std) over ``subsets`` subsets.

    Raises ValueError in one line for features that are not 2-D or of different D, and when
    either set holds fewer than ``subset_size`` features (as torch-fidelity refuses; pass a
    smaller ``subset_size``, at least 2).
    """
    features1 = np.asarray(features1, dtype=np.float64)
    features2 = np.asarray(features2, dtype=np.float64)
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(f"kid: expected two sets of features (N, D) of one D, got shapes "
                         f"{features1.shape} and {features2.shape}")
    n1, n2 = len(features1), len(features2)
    if isinstance(subsets, bool) or not isinstance(subsets, int) or subsets < 1:
        raise ValueError(f"kid: subsets must be a positive int, got {subsets!r}")
    if isinstance(subset_size, bool) or not isinstance(subset_size, int) or subset_size < 2:
        raise ValueError(f"kid: subset_size must be an int >= 2, got {subset_size!r}")
    if subset_size > min(n1, n2):
        raise ValueError(f"kid: subset_size {subset_size} is more than the samples there are "
                         f"({n1} and {n2}); use subset_size={min(n1, n2)} or less, or more "
                         f"images")
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in tqdm(range(subsets), desc="KID subsets", disable=not progress, leave=False):
        x = features1[rng.choice(n1, subset_size, replace=False)]      # (m, D)
        y = features2[rng.choice(n2, subset_size, replace=False)]      # (m, D)
        k_xx, k_xy, k_yy = (polynomial_kernel(a, b, degree, gamma, coef0)
                            for a, b in ((x, x), (x, y), (y, y)))
        mmds[i] = mmd2_unbiased(k_xx, k_xy, k_yy)
    return float(mmds.mean()), float(mmds.std())
