"""minigan.utils.make_grid / save_image: torchvision's signature and normalize/value_range rules."""
import io as bytesio

import numpy as np
import pytest
from PIL import Image

import minigan as mg
from minigan.utils import make_grid, save_image


def _ramp_batch(n=5, h=2, w=3):
    """n single-channel images; image i is filled with i: (n, 1, h, w)."""
    return np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones((1, 1, h, w), np.float32)


def test_grid_layout_padding_and_gray_to_rgb():
    grid = make_grid(mg.tensor(_ramp_batch()), nrow=3, padding=1, pad_value=0.5)
    assert isinstance(grid, mg.Tensor) and grid.shape == (3, 2 * 3 + 1, 3 * 4 + 1)
    g = grid.numpy()
    for i in range(5):                                   # tile i at row i // 3, column i % 3
        top, left = 1 + (i // 3) * 3, 1 + (i % 3) * 4
        assert (g[:, top:top + 2, left:left + 3] == i).all()
    assert g[:, 0, :].tolist() == [[0.5] * 13] * 3      # the padding
    assert (g[:, 4:6, 9:12] == 0.5).all()               # the empty sixth slot
    assert make_grid(_ramp_batch(), nrow=8).shape == (3, 2 + 4, 5 * 5 + 2)   # one row of 5


def test_single_images_come_back_unpadded():
    image = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(make_grid(image).numpy(), image)
    np.testing.assert_array_equal(make_grid(image[None], padding=9).numpy(), image)
    assert make_grid(image[0]).shape == (3, 4, 5)         # (H, W): one gray image, as RGB
    assert make_grid([image, image], nrow=1, padding=0).shape == (3, 8, 5)   # a list of images


def test_normalize_by_min_max_by_range_and_each():
    batch = _ramp_batch()                                 # values 0..4
    g = make_grid(batch, nrow=5, padding=0, normalize=True).numpy()
    np.testing.assert_allclose(g[0, 0, ::3], [0, 0.25, 0.5, 0.75, 1.0])
    g = make_grid(batch, nrow=5, padding=0, normalize=True, value_range=(-2, 2)).numpy()
    np.testing.assert_allclose(g[0, 0, ::3], [0.5, 0.75, 1.0, 1.0, 1.0])   # clamped to 2
    each = batch + np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)      # i + 0..5
    g = make_grid(each, nrow=5, padding=0, normalize=True, scale_each=True).numpy()
    np.testing.assert_allclose(g[0, :, :3], np.arange(6).reshape(2, 3) / 5, rtol=1e-6)
    np.testing.assert_allclose(g[0, :, 12:], np.arange(6).reshape(2, 3) / 5, rtol=1e-6)
    flat = make_grid(np.full((2, 1, 2, 2), 3.0), normalize=True, padding=0).numpy()
    assert (flat == 0).all()                              # max == min: no division by zero
    assert batch.max() == 4                               # the input is not changed


def test_save_image_pixels_and_modes(tmp_path):
    values = np.array([[[0.5, 1.2, -0.1, 0.25]]], np.float32)          # (1, 1, 4)
    save_image(mg.tensor(values), tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as image:
        assert image.mode == "L" and np.asarray(image).tolist() == [[128, 255, 0, 64]]
    rgb = np.random.default_rng(1).random((4, 3, 5, 5)).astype(np.float32) * 2 - 1
    save_image(rgb, tmp_path / "rgb.png", nrow=2, normalize=True, value_range=(-1, 1))
    with Image.open(tmp_path / "rgb.png") as image:
        expected = np.floor(make_grid(rgb, nrow=2, normalize=True, value_range=(-1, 1))
                            .numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), expected.transpose(1, 2, 0))
    buffer = bytesio.BytesIO()
    save_image(rgb[0], buffer, format="JPEG")
    assert buffer.getvalue()[:2] == b"\xff\xd8"
    save_image(rgb[:2], tmp_path / "x.jpg")
    with Image.open(tmp_path / "x.jpg") as image:
        assert image.format == "JPEG"


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="nrow must be a positive int, got 0"):
        make_grid(_ramp_batch(), nrow=0)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        make_grid(_ramp_batch(), padding=-1)
    with pytest.raises(ValueError, match=r"value_range must be a \(min, max\) pair"):
        make_grid(_ramp_batch(), normalize=True, value_range=1)
    with pytest.raises(ValueError, match="1, 3 or 4 channels, got 2"):
        save_image(np.zeros((2, 2, 3, 3)), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\).*got \(0, 1, 2, 2\)"):
        make_grid(np.zeros((0, 1, 2, 2)))


def test_matches_torchvision_when_installed():
    torch = pytest.importorskip("torch")
    vutils = pytest.importorskip("torchvision.utils")
    rng = np.random.default_rng(2)
    for shape in ((7, 3, 4, 5), (3, 1, 6, 6), (1, 3, 4, 4)):
        x = (rng.random(shape).astype(np.float32) * 3 - 1)
        for options in ({}, {"normalize": True}, {"normalize": True, "value_range": (-1, 1)},
                        {"normalize": True, "scale_each": True}, {"nrow": 2, "padding": 3,
                                                                   "pad_value": 0.7}):
            ours = make_grid(x, **options).numpy()
            theirs = vutils.make_grid(torch.from_numpy(x), **options).numpy()
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
