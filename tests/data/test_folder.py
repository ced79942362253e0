"""ImageFolder and the image-reading helpers: images the test writes, including broken ones."""
import numpy as np
import pytest
from PIL import Image

from minigan.data import (DataLoader, ImageFolder, ImageReadError, list_images, load_image,
                          read_image)
from minigan.data.transforms import RandomHorizontalFlip


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("b.png", "a.jpg", "c.PNG"):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_lists_images_sorted_and_skips_other_files(folder):
    assert [p.name for p in list_images(folder)] == ["a.jpg", "b.png", "c.PNG"]


def test_rgb_samples(folder):
    data = ImageFolder(folder, 16)
    assert len(data) == 3 and data.channels == 3
    (image,) = data[1]
    assert image.shape == (3, 16, 16) and image.dtype == np.float32
    assert -1 <= image.min() < -0.5 and 0.5 < image.max() <= 1
    (batch,) = next(iter(DataLoader(data, batch_size=3)))
    assert batch.shape == (3, 3, 16, 16)


def test_values_are_normalised_pixels(tmp_path):
    pixels = np.array([[0, 255], [51, 102]], np.uint8)
    Image.fromarray(pixels).save(tmp_path / "g.png")
    data = ImageFolder(tmp_path, (2, 2))
    assert data.channels == 1
    np.testing.assert_allclose(data[0][0][0], pixels / 127.5 - 1, atol=1e-6)
    assert load_image(tmp_path / "g.png", 2, channels=3).shape == (3, 2, 2)


def test_grayscale_by_request_and_transform(folder):
    data = ImageFolder(folder, (8, 12), channels=1, transform=RandomHorizontalFlip(p=1.0))
    (image,) = data[0]
    assert image.shape == (1, 8, 12) and data.needs_rng
    np.testing.assert_array_equal(image, ImageFolder(folder, (8, 12), channels=1)[0][0][:, :, ::-1])


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found: .*missing"):
        ImageFolder(tmp_path / "missing", 8)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match=r"no images in .*empty \(looked for files ending in .png"):
        ImageFolder(tmp_path / "empty", 8)
    with pytest.raises(NotADirectoryError, match="readme.md"):
        ImageFolder(tmp_path / "empty" / "readme.md", 8)


def test_corrupt_and_truncated_images_are_named(folder):
    """Issue 11 item 4: a file whose header is bad is named when the folder is opened, all of
    them in one error; skip_bad leaves them out; damage past the header is named on reading."""
    (folder / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (folder / "f.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match=r"2 of 5 .*d\.png.*f\.jpg.*--skip-bad-images"):
        ImageFolder(folder, 8)
    data = ImageFolder(folder, 8, skip_bad=True)
    assert [p.name for p in data.paths] == ["a.jpg", "b.png", "c.PNG"]
    good = (folder / "b.png").read_bytes()
    (folder / "e.png").write_bytes(good[: len(good) // 2])
    data = ImageFolder(folder, 8, skip_bad=True)
    assert len(data) == 4
    with pytest.raises(ImageReadError, match=r"cannot read image .*e\.png"):
        data[3]
    with pytest.raises(ImageReadError, match=r"e\.png"):
        list(DataLoader(data, batch_size=4))
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*zz\.png"):
        read_image(folder / "zz.png")


def test_channels_follow_every_image(folder):
    """Issue 11 item 5: one grayscale image sorting first does not make a colour folder gray."""
    Image.new("L", (16, 16), 30).save(folder / "0_gray.png")
    assert ImageFolder(folder, 8).channels == 3
    assert ImageFolder(folder, 8, channels=1)[0][0].shape == (1, 8, 8)


def test_bad_channels(folder):
    with pytest.raises(ValueError, match="channels must be 1, 3 or None, got 4"):
        ImageFolder(folder, 8, channels=4)
