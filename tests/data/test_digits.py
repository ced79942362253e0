"""Synthetic digits: shapes, ranges, labels, determinism, and that digits look like themselves."""
import numpy as np
import pytest

from minigan.data import DataLoader, SyntheticDigits, render_digit
from minigan.data.transforms import RandomHorizontalFlip


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_range_and_labels(size):
    digits = SyntheticDigits(n=30, size=size, seed=0)
    for i in (0, 7, 29):
        image, label = digits[i]
        assert image.shape == (1, size, size) and image.dtype == np.float32
        assert label == i % 10
        assert image.min() == -1.0 and image.max() > 0.9          # black ground, bright strokes
        ink = (image > 0).mean()
        assert 0.03 < ink < 0.6


def test_same_seed_same_images_other_seed_other_images():
    a, b = SyntheticDigits(20, seed=4), SyntheticDigits(20, seed=4, cache=False)
    c = SyntheticDigits(20, seed=5)
    for i in range(20):
        np.testing.assert_array_equal(a[i][0], b[i][0])
        np.testing.assert_array_equal(a[i][0], a[i][0])           # cached copy equals the render
    assert sum(np.array_equal(a[i][0], c[i][0]) for i in range(20)) == 0


def test_styles_vary_within_a_class():
    images = [SyntheticDigits(100, seed=0)[i][0] for i in range(3, 100, 10)]  # ten 3s
    ink = [float((x > 0).sum()) for x in images]
    assert max(ink) > 1.5 * min(ink)                              # sizes and strokes differ


def test_labels_match_images():
    """1-nearest-neighbour (cosine) from seed-0 digits labels seed-1 digits far above chance."""
    def unit_rows(digits):
        rows = np.stack([digits[i][0].ravel() for i in range(len(digits))])  # (N, 784)
        rows = rows - rows.mean(axis=1, keepdims=True)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    train = unit_rows(SyntheticDigits(1000, 28, seed=0))
    test = unit_rows(SyntheticDigits(200, 28, seed=1))
    predicted = np.argmax(test @ train.T, axis=1) % 10            # label of sample i is i % 10
    assert (predicted == np.arange(200) % 10).mean() > 0.4        # chance: 0.1


def test_render_digit_and_loader():
    image = render_digit(8, 32, np.random.default_rng(0))
    assert image.shape == (32, 32) and image.dtype == np.uint8
    x, y = next(iter(DataLoader(SyntheticDigits(64), batch_size=64, shuffle=True, seed=1)))
    assert x.shape == (64, 1, 32, 32) and sorted(np.bincount(y.numpy())) == [6] * 6 + [7] * 4


def test_transform_gets_a_sample_rng():
    flipped = SyntheticDigits(10, transform=RandomHorizontalFlip(p=1.0))
    np.testing.assert_array_equal(flipped[2][0], SyntheticDigits(10)[2][0][:, :, ::-1])
    assert flipped.needs_rng


def test_bad_arguments():
    with pytest.raises(ValueError, match="size must be an int >= 8, got 4"):
        SyntheticDigits(10, size=4)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        SyntheticDigits(0)
