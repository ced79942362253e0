"""Transforms: shapes, value ranges, determinism of the random ones, clear errors."""
import numpy as np
import pytest
from PIL import Image

from minigan.data.transforms import (CenterCrop, Compose, Normalize, RandomCrop,
                                     RandomHorizontalFlip, Resize, ToArray, is_random)


def test_to_array_and_normalize_map_uint8_to_minus_one_one():
    hwc = np.array([[[0, 255, 51]]], np.uint8)                 # (1, 1, 3)
    x = ToArray()(Image.fromarray(hwc))
    assert x.shape == (3, 1, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [0, 1, 0.2], atol=1e-7)
    np.testing.assert_allclose(Normalize()(x).ravel(), [-1, 1, -0.6], atol=1e-6)
    assert ToArray()(np.zeros((5, 4), np.uint8)).shape == (1, 5, 4)


def test_resize_on_images_and_arrays():
    image = Image.new("RGB", (10, 6))
    assert Resize((3, 8))(image).size == (8, 3)
    x = np.random.default_rng(0).random((2, 6, 10)).astype(np.float32)
    y = Resize(5)(x)
    assert y.shape == (2, 5, 5) and y.dtype == np.float32
    np.testing.assert_allclose(Resize((3, 5), "box")(x).mean(), x.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"Resize size.*got -2"):
        Resize(-2)


def test_crops_and_flip():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)   # (C, H, W)
    np.testing.assert_array_equal(CenterCrop((3, 2))(x), x[:, 1:4, 2:4])
    rng = np.random.default_rng(0)
    crops = [RandomCrop(3)(x, rng) for _ in range(20)]
    assert all(c.shape == (2, 3, 3) for c in crops)
    assert len({c[0, 0, 0] for c in crops}) > 1                   # the window moves
    flipped = RandomHorizontalFlip(p=1.0)(x, rng)
    np.testing.assert_array_equal(flipped, x[:, :, ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x, rng), x)
    with pytest.raises(ValueError, match=r"crop \(6, 6\) is larger than the image \(5, 6\)"):
        RandomCrop(6)(x, rng)


def test_random_transforms_need_and_follow_rng():
    x = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    t = Compose([RandomCrop(5), RandomHorizontalFlip()])
    assert t.random and is_random(t) and not Compose([Normalize()]).random
    a = [t(x, np.random.default_rng([4, i])) for i in range(6)]
    b = [t(x, np.random.default_rng([4, i])) for i in range(6)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="RandomCrop is random: it needs a numpy.random.Generator"):
        t(x)


def test_stacked_pairs_get_the_same_crop_and_flip():
    a = np.random.default_rng(2).random((3, 8, 8)).astype(np.float32)
    pair = np.concatenate([a, a * 2])                              # (6, 8, 8)
    out = Compose([RandomCrop(5), RandomHorizontalFlip()])(pair, np.random.default_rng(0))
    np.testing.assert_allclose(out[3:], out[:3] * 2)


def test_array_transforms_reject_hwc_images():
    with pytest.raises(TypeError, match=r"expected a \(C, H, W\) array .*got Image"):
        CenterCrop(2)(Image.new("L", (4, 4)))
