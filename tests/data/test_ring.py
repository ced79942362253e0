"""Ring of Gaussians: sampling and the Unrolled-GAN metrics on constructed point sets."""
import numpy as np
import pytest

import minigan as mg
from minigan.data import DataLoader, RingDataset, RingOfGaussians, ring_metrics


def test_modes_lie_evenly_on_the_circle():
    ring = RingOfGaussians()
    assert ring.modes.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring.modes, axis=1), 2.0)
    np.testing.assert_allclose(ring.modes[2], [0.0, 2.0], atol=1e-12)


def test_samples_are_seeded_and_score_perfectly():
    ring = RingOfGaussians()
    x = ring.sample(2500, np.random.default_rng(0))
    assert x.shape == (2500, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ring.sample(2500, np.random.default_rng(0)))
    m = ring.metrics(x)
    assert m["modes_covered"] == 8
    assert m["high_quality_fraction"] > 0.99
    assert sum(m["mode_counts"]) == round(m["high_quality_fraction"] * 2500)
    assert ring.metrics(mg.tensor(x))["modes_covered"] == 8   # Tensors are accepted


def test_collapsed_generator_covers_one_mode():
    ring = RingOfGaussians()
    x = ring.modes[3] + 0.01 * np.random.default_rng(1).standard_normal((2500, 2))
    m = ring.metrics(x)
    assert m["modes_covered"] == 1 and m["high_quality_fraction"] == 1.0
    assert m["mode_counts"][3] == 2500


def test_off_mode_points_are_low_quality():
    ring = RingOfGaussians()
    centre = np.zeros((1000, 2))                               # the ring's centre: 2 from every mode
    between = 2.0 * np.array([[np.cos(np.pi / 8), np.sin(np.pi / 8)]]).repeat(1000, 0)
    m = ring.metrics(np.concatenate([centre, between]))
    assert m == {"modes_covered": 0, "high_quality_fraction": 0.0, "mode_counts": [0] * 8}


def test_threshold_of_twenty_high_quality_points_per_mode():
    modes = RingOfGaussians().modes
    points = np.concatenate([modes[0].repeat(20).reshape(2, 20).T * 1.0,   # 20 at mode 0
                             np.tile(modes[1], (19, 1)),                    # 19 at mode 1
                             np.tile(modes[2] + [0.061, 0.0], (30, 1))])    # just beyond 3 std
    m = ring_metrics(points, modes, 0.02)
    assert m["mode_counts"][:3] == [20, 19, 0]
    assert m["modes_covered"] == 1
    np.testing.assert_allclose(m["high_quality_fraction"], 39 / 69)


def test_dataset_form_and_errors():
    data = RingDataset(n=100, seed=3)
    assert len(data) == 100 and data[0][0].shape == (2,)
    (x,) = next(iter(DataLoader(data, batch_size=100)))
    assert x.shape == (100, 2)
    assert RingDataset(n=100, seed=3)[5][0].tolist() == data[5][0].tolist()
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\).*\(4, 3\)"):
        ring_metrics(np.zeros((4, 3)), RingOfGaussians().modes, 0.02)
    with pytest.raises(ValueError, match="n_modes must be a positive int, got 0"):
        RingOfGaussians(n_modes=0)
