"""frechet_distance, kid_from_features and inception_score_from_logits against pytorch-fid's
``calculate_frechet_distance`` and torch-fidelity's KID and IS on the same numbers (1e-6
relative), plus closed forms and the one-line errors, which need no oracle.

The features are 2048-d like pool3 only where it is cheap: scipy's sqrtm of a 2048 x 2048 product
takes 15-35 s here (rank-deficient products the longer), once for pytorch-fid and once for us. The
default run holds D = 256 with N below D (a singular product: sqrtm comes back complex) and above
it; ``MINIGAN_SLOW_TESTS=1`` adds D = 512 (N = 300) and D = 2048 (N = 1000 and 2500).
"""
import os
import warnings

import numpy as np
import pytest

from minigan.metrics import (frechet_distance, gaussian_statistics, inception_score_from_logits,
                             kid_from_features)
from minigan.metrics.inception_score import log_softmax
from minigan.metrics.ppl import discard_outliers

SLOW = os.environ.get("MINIGAN_SLOW_TESTS") == "1"


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def pool3_like(rng, n, d, shift=0.0, scale=1.0):
    """Non-negative, correlated features, as pool3 (ReLU then average) gives: (n, d)."""
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.abs(rng.standard_normal((n, d)) @ mixing * scale + shift)


# ---------------------------------------------------------------- Fréchet distance
@pytest.mark.parametrize("d, n", [(256, 150), (256, 600)] +
                         ([(512, 300), (2048, 1000), (2048, 2500)] if SLOW else []))
def test_frechet_distance_matches_pytorch_fid(d, n, pytorch_fid_score):
    rng = np.random.default_rng(d + n)
    mu1, sigma1 = gaussian_statistics(pool3_like(rng, n, d))
    mu2, sigma2 = gaussian_statistics(pool3_like(rng, n, d, shift=0.05, scale=1.1))
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)      # scipy 1.16+: sqrtm's disp
        theirs = float(pytorch_fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
    assert theirs > 0
    assert relative(ours, theirs) <= 1e-6, (ours, theirs)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    mu, sigma = gaussian_statistics(rng.standard_normal((200, 16)))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8
    shift = np.full(16, 0.5)                                     # same covariance, shifted mean
    assert frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(16 * 0.25, rel=1e-8)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1, rel=1e-12)


def test_frechet_distance_errors_are_one_line():
    with pytest.raises(ValueError, match=r"means \(D,\) and covariances \(D, D\) of one D"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    negative = np.diag([1.0, -1.0])                              # not a covariance
    with pytest.raises(ValueError, match="imaginary part") as info:
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), negative)
    assert "\n" not in str(info.value)


def test_frechet_distance_retries_a_non_finite_root_with_eps_on_the_diagonals(monkeypatch):
    """pytorch-fid's guard: a non-finite sqrtm is computed again from (S1 + eps I)(S2 + eps I)."""
    from minigan.metrics import frechet
    seen, real_sqrtm = [], frechet._sqrtm

    def first_fails(matrix):
        seen.append(matrix)
        return np.full_like(matrix, np.nan) if len(seen) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(frechet, "_sqrtm", first_fails)
    sigma1, sigma2 = np.diag([1.0, 2.0]), np.diag([3.0, 0.0])
    with pytest.warns(RuntimeWarning, match="adding 0.001 to the diagonal"):
        value = frechet_distance(np.zeros(2), sigma1, np.zeros(2), sigma2, eps=1e-3)
    assert np.allclose(seen[1], (sigma1 + 1e-3 * np.eye(2)) @ (sigma2 + 1e-3 * np.eye(2)))
    root_trace = np.sqrt(1.001 * 3.001) + np.sqrt(2.001 * 0.001)
    assert value == pytest.approx(1 + 2 + 3 + 0 - 2 * root_trace, rel=1e-12)


# ---------------------------------------------------------------- KID
def torch_fidelity_kid(kid, features1, features2, subsets, subset_size):
    import torch
    out = kid.kid_features_to_metric(
        torch.from_numpy(features1), torch.from_numpy(features2), kid_subsets=subsets,
        kid_subset_size=subset_size, kid_kernel="poly", kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1, rng_seed=2020, verbose=False)
    return out[kid.KEY_METRIC_KID_MEAN], out[kid.KEY_METRIC_KID_STD]


@pytest.mark.parametrize("n1, n2, subset_size", [(300, 250, 200), (120, 400, 100)])
def test_kid_matches_torch_fidelity(n1, n2, subset_size, torch_fidelity):
    rng = np.random.default_rng(n1)
    real, fake = pool3_like(rng, n1, 2048), pool3_like(rng, n2, 2048, shift=0.02)
    mean, std = kid_from_features(real, fake, subsets=10, subset_size=subset_size)
    ref_mean, ref_std = torch_fidelity_kid(torch_fidelity[0], real, fake, 10, subset_size)
    assert relative(mean, ref_mean) <= 1e-6 and relative(std, ref_std) <= 1e-6
    assert mean > 0


def test_kid_is_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng(1)
    a, b = np.split(pool3_like(rng, 800, 64), 2)                # one distribution, two halves
    mean, std = kid_from_features(a, b, subsets=50, subset_size=100)
    far, _ = kid_from_features(a, b + 0.2, subsets=50, subset_size=100)
    assert abs(mean) < 3 * std and far > 20 * std


def test_kid_errors_are_one_line():
    a = np.zeros((50, 8))
    with pytest.raises(ValueError, match=r"subset_size 100 is more than the samples there are "
                                         r"\(50 and 50\); use subset_size=50"):
        kid_from_features(a, a, subset_size=100)
    with pytest.raises(ValueError, match=r"of one D, got shapes \(50, 8\) and \(50, 9\)"):
        kid_from_features(a, np.zeros((50, 9)), subset_size=10)


# ---------------------------------------------------------------- Inception score
@pytest.mark.parametrize("n, splits", [(1000, 10), (203, 7)])
def test_inception_score_matches_torch_fidelity(n, splits, torch_fidelity):
    import torch
    isc = torch_fidelity[1]
    logits = (np.random.default_rng(n).standard_normal((n, 1008)) * 3).astype(np.float32)
    ours = inception_score_from_logits(logits, splits)
    out = isc.isc_features_to_metric(torch.from_numpy(logits), splits, True, 2020)
    theirs = out[isc.KEY_METRIC_ISC_MEAN], out[isc.KEY_METRIC_ISC_STD]
    assert relative(ours[0], theirs[0]) <= 1e-6 and relative(ours[1], theirs[1]) <= 1e-6


def test_inception_score_closed_forms():
    confident = np.full((100, 10), -50.0)
    confident[np.arange(100), np.arange(100) % 10] = 50.0        # sure, and spread evenly
    assert inception_score_from_logits(confident, splits=1)[0] == pytest.approx(10, rel=1e-6)
    assert inception_score_from_logits(np.zeros((100, 10)), splits=5) == pytest.approx((1, 0))
    x = np.random.default_rng(0).standard_normal((4, 6)) * 30
    assert np.allclose(np.exp(log_softmax(x)).sum(axis=1), 1)
    with pytest.raises(ValueError, match="5 samples cannot make 10 splits; use splits=5"):
        inception_score_from_logits(np.zeros((5, 10)))


# ---------------------------------------------------------------- PPL's outlier rule
def test_discard_outliers_keeps_stylegans_percentile_range():
    distances = np.arange(1000.0)[::-1]
    kept = discard_outliers(distances)                           # 1st: 9.99 -> 9; 99th -> 990
    assert kept.min() == 9 and kept.max() == 990 and len(kept) == 982
