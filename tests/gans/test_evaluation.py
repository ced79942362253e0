"""Offline evaluation: the Fréchet distance against closed forms, slerp, cross-entropy, and the
digit classifier (training, caching, accuracy, features)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
from minigan import io
from minigan import random as mg_random
from minigan.autograd import gradcheck
from minigan.data import SyntheticDigits
from minigan.gans import evaluation
from minigan.gans.evaluation import (FrechetDistance, cross_entropy, frechet_distance,
                                     gaussian_statistics, interpolation_latents, slerp, sqrtm_psd)


# ---------------------------------------------------------------- Fréchet distance
@settings(deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_frechet_distance_of_diagonal_gaussians_has_a_closed_form(dim, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    var1, var2 = rng.uniform(0.1, 3, size=dim), rng.uniform(0.1, 3, size=dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000))
def test_frechet_distance_of_full_covariances(dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
    s1, s2 = a @ a.T, b @ b.T
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    # tr((S1 S2)^(1/2)) from the eigenvalues of S1 S2 (real and non-negative: it is similar to a PSD
    # matrix), an independent route from the one the code takes
    trace_root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_root
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert got == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-6, abs=1e-6)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_matches_scipy():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    f1, f2 = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16)) + 1
    (mu1, s1), (mu2, s2) = gaussian_statistics(f1), gaussian_statistics(f2)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_sqrtm_psd_squares_back_and_clips_round_off():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 3))
    m = a @ a.T                                     # rank 3: two eigenvalues ~ 0 (maybe -1e-16)
    root = sqrtm_psd(m)
    np.testing.assert_allclose(root @ root, m, atol=1e-10)
    np.testing.assert_allclose(root, root.T)
    assert not np.isnan(root).any()


def test_frechet_errors():
    with pytest.raises(ValueError, match=r"features must be \(N, D\) with N >= 2, got \(1, 4\)"):
        gaussian_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="expected means .* of one D"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ---------------------------------------------------------------- slerp
def test_slerp_ends_and_stays_on_the_sphere():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=(4, 16)), rng.normal(size=(4, 16))
    z0 /= np.linalg.norm(z0, axis=1, keepdims=True)
    z1 /= np.linalg.norm(z1, axis=1, keepdims=True)
    path = slerp(z0, z1, np.linspace(0, 1, 7))                     # (7, 4, 16)
    assert path.shape == (7, 4, 16)
    np.testing.assert_allclose(path[0], z0, atol=1e-12)
    np.testing.assert_allclose(path[-1], z1, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1.0, atol=1e-12)
    angles = np.arccos(np.clip((path[:-1] * path[1:]).sum(-1), -1, 1))  # equal steps along the arc
    np.testing.assert_allclose(angles, angles[:1].repeat(6, 0), atol=1e-9)
    middle = slerp(z0[0], z1[0], 0.5)
    assert middle.shape == (16,)
    np.testing.assert_allclose(slerp(z0[0], 2 * z0[0], 0.25), 1.25 * z0[0])  # parallel: a line


def test_interpolation_latents_rows_are_paths():
    z = interpolation_latents(3, 5, (8, 1, 1), np.random.default_rng(0))
    assert z.shape == (15, 8, 1, 1) and z.dtype == np.float32
    again = interpolation_latents(3, 5, (8, 1, 1), np.random.default_rng(0))
    np.testing.assert_array_equal(z, again)
    rows = z.reshape(3, 5, 8)
    assert not np.allclose(rows[0, 0], rows[1, 0])                # rows start at different points
    step = np.linalg.norm(np.diff(rows, axis=1), axis=-1)         # neighbours closer than the ends
    assert np.all(step < np.linalg.norm(rows[:, -1] - rows[:, 0], axis=-1)[:, None])


# ---------------------------------------------------------------- cross-entropy, predictions
def test_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)) * 5
    labels = np.array([0, 1, 2, 3, 3, 1])
    shifted = logits - logits.max(1, keepdims=True)
    expected = -np.mean(shifted[np.arange(6), labels] - np.log(np.exp(shifted).sum(1)))
    got = cross_entropy(mg.tensor(logits), mg.tensor(labels)).item()
    assert got == pytest.approx(expected, rel=1e-12)
    big = cross_entropy(mg.tensor([[1000.0, 0.0]], dtype=mg.float64), mg.tensor(np.array([1])))
    assert big.item() == pytest.approx(1000.0)                    # no overflow
    assert gradcheck(lambda x: cross_entropy(x, mg.tensor(labels)),
                     (mg.tensor(logits, requires_grad=True),))


def test_isolated_rng_restores_the_global_stream():
    mg.manual_seed(5)
    expected = mg_random.generator().normal(size=3)
    mg.manual_seed(5)
    with evaluation.isolated_rng(123):
        mg.randn(10)
    np.testing.assert_array_equal(mg_random.generator().normal(size=3), expected)


# ---------------------------------------------------------------- the classifier
@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """A 16x16 classifier trained for two epochs on 3,000 digits (a few seconds), cached."""
    cache = tmp_path_factory.mktemp("cache")
    model, info = evaluation.digit_classifier(16, cache=str(cache), n_train=3000, n_test=500,
                                              epochs=2, progress=False)
    return model, info, cache


def test_classifier_learns_digits(tiny_classifier):
    model, info, _ = tiny_classifier
    assert info["source"] == "trained" and info["seconds"] > 0
    assert info["accuracy"] > 0.6                    # chance is 0.1; the full recipe gets > 0.99
    images, labels = evaluation.dataset_arrays(SyntheticDigits(200, size=16, seed=77))
    assert evaluation.class_accuracy(model, images, labels) > 0.6
    rgb = np.repeat(images, 3, axis=1)                            # grey read back from RGB
    np.testing.assert_array_equal(evaluation.predict(model, rgb), evaluation.predict(model, images))


def test_classifier_cache_and_run_folder(tiny_classifier, tmp_path):
    model, info, cache = tiny_classifier
    kwargs = dict(cache=str(cache), n_train=3000, n_test=500, epochs=2, progress=False)
    state = mg_random.get_state()
    again, info2 = evaluation.digit_classifier(16, out_dir=str(tmp_path), **kwargs)
    assert mg_random.get_state() == state          # loading leaves the caller's stream alone
    assert info2["source"] == "cache" and info2["accuracy"] == info["accuracy"]
    assert (tmp_path / evaluation.CLASSIFIER_FILE).is_file()      # copied into the run's folder
    x = mg.randn(4, 1, 16, 16)
    np.testing.assert_array_equal(again(x).numpy(), model.eval()(x).numpy())
    _, info3 = evaluation.digit_classifier(16, out_dir=str(tmp_path), **{**kwargs, "cache": False})
    assert info3["source"] == "run"


def test_classifier_retrains_on_other_settings_or_a_damaged_file(tmp_path):
    kwargs = dict(cache=str(tmp_path), n_train=200, n_test=50, epochs=1, progress=False)
    _, first = evaluation.digit_classifier(16, **kwargs)
    path = next(tmp_path.glob("classifier-*.safetensors"))
    path.write_bytes(path.read_bytes()[:100])                     # truncated
    _, second = evaluation.digit_classifier(16, **kwargs)
    assert second["source"] == "trained"
    io.load_checkpoint(path)                                      # rewritten, readable again
    _, third = evaluation.digit_classifier(16, **{**kwargs, "seed": 1})
    assert third["source"] == "trained"
    assert len(list(tmp_path.glob("classifier-*.safetensors"))) == 2      # one file per settings


def test_frechet_distance_separates_real_from_noise(tiny_classifier):
    model, _, _ = tiny_classifier
    real = evaluation.dataset_arrays(SyntheticDigits(300, size=16, seed=5))[0]
    other_real = evaluation.dataset_arrays(SyntheticDigits(300, size=16, seed=6))[0]
    noise = np.random.default_rng(0).uniform(-1, 1, size=real.shape).astype(np.float32)
    fd = FrechetDistance(model, real)
    assert abs(fd(real)) < 1e-4 * fd(other_real)                 # round-off only
    assert fd(noise) > 5 * fd(other_real)
