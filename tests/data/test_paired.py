"""Aligned (pix2pix) and unpaired (CycleGAN) folders, on images the tests write, plus facades."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minigan.data import DataLoader
from minigan.data.folder import ImageReadError
from minigan.data.paired import AlignedFolder, UnpairedFolder, detect_layout

FACADES = Path("/work/shared/data/facades")


def _pattern(h, w, seed):
    """A uint8 (h, w) image with structure in both directions, so crops and flips show."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


def _write_aligned(root, n=3, h=20, w=24, gray=False):
    """<root>/train/i.png = [A | B], each half (h, w), B = 255 - A (RGB: three channel patterns)."""
    (root / "train").mkdir(parents=True)
    for i in range(n):
        if gray:
            a = _pattern(h, w, i)
        else:
            a = np.stack([_pattern(h, w, 10 * i + c) for c in range(3)], axis=-1)
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / "train" / f"{i}.png")
    return root


def _write_domain(folder, n, h, w, gray, seed):
    folder.mkdir(parents=True)
    for i in range(n):
        a = _pattern(h, w, seed + i)
        Image.fromarray(a if gray else np.stack([a, a // 2, 255 - a], -1)).save(folder / f"{i}.png")


@pytest.fixture
def unpaired(tmp_path):
    _write_domain(tmp_path / "trainA", 3, 16, 16, gray=False, seed=0)
    _write_domain(tmp_path / "trainB", 2, 20, 18, gray=True, seed=100)
    return tmp_path


@pytest.mark.parametrize("gray", [False, True])
def test_aligned_halves_and_direction(tmp_path, gray):
    root = _write_aligned(tmp_path, gray=gray)
    ab = AlignedFolder(root, direction="AtoB", preprocess="none", flip=False)
    ba = AlignedFolder(root, direction="BtoA", preprocess="none", flip=False)
    assert len(ab) == 3 and ab.channels == (1 if gray else 3) and not ab.needs_rng
    a, b = ab[1]
    assert a.shape == b.shape == ((1 if gray else 3), 20, 24) and a.dtype == np.float32
    pixels = np.asarray(Image.open(root / "train" / "1.png"), np.float32)
    left = pixels[:, :24].reshape(20, 24, -1)                # (H, W[, C]) -> (H, W, C)
    left = left.transpose(2, 0, 1) / 127.5 - 1                 # (H, W, C) -> (C, H, W)
    np.testing.assert_allclose(a, left, atol=1e-6)
    np.testing.assert_allclose(b, -a, atol=1e-6)
    np.testing.assert_array_equal(ba[1][0], b)
    np.testing.assert_array_equal(ba[1][1], a)


def test_aligned_pair_shares_crop_and_flip(tmp_path):
    root = _write_aligned(tmp_path, h=20, w=24)
    data = AlignedFolder(root, preprocess="crop", crop_size=8, flip=True)
    assert data.needs_rng
    seen = set()
    for k in range(12):
        a, b = data.get(0, np.random.default_rng(k))
        assert a.shape == (3, 8, 8)
        np.testing.assert_allclose(b, -a, atol=1e-6)  # same window and same flip for both halves
        seen.add(a.tobytes())
    assert len(seen) > 6
    again = data.get(0, np.random.default_rng(3))
    np.testing.assert_array_equal(again[0], data.get(0, np.random.default_rng(3))[0])


def test_resize_and_crop(tmp_path):
    root = _write_aligned(tmp_path, h=20, w=24)
    data = AlignedFolder(root, load_size=14, crop_size=10)
    a, b = data.get(2, np.random.default_rng(0))
    assert a.shape == b.shape == (3, 10, 10)
    (x, y), = [next(iter(DataLoader(data, batch_size=3, seed=1)))]
    assert x.shape == y.shape == (3, 3, 10, 10)
    whole = AlignedFolder(root, load_size=10, crop_size=10, flip=False)
    assert not whole.needs_rng and whole[0][0].shape == (3, 10, 10)


def test_unpaired_channels_detected_per_domain(unpaired):
    data = UnpairedFolder(unpaired, preprocess="none", flip=False, serial=True)
    assert data.channels == [3, 1] and len(data) == 3 and not data.needs_rng
    a, b = data[2]
    assert a.shape == (3, 16, 16) and b.shape == (1, 20, 18)
    np.testing.assert_array_equal(b, data[0][1])          # serial: B index 2 % 2 = 0
    ba = UnpairedFolder(unpaired, direction="BtoA", preprocess="none", flip=False, serial=True)
    assert ba.channels == [1, 3] and len(ba) == 3
    np.testing.assert_array_equal(ba[1][0], data[1][1])
    forced = UnpairedFolder(unpaired, preprocess="none", flip=False, serial=True, channels=(1, 3))
    assert forced[0][0].shape == (1, 16, 16) and forced[0][1].shape == (3, 20, 18)


def test_unpaired_random_b_from_sample_rng(unpaired):
    data = UnpairedFolder(unpaired, load_size=16, crop_size=12)
    assert data.needs_rng
    bs = [data.get(0, np.random.default_rng(k))[1] for k in range(16)]
    assert all(b.shape == (1, 12, 12) for b in bs)
    assert len({b.tobytes() for b in bs}) > 2
    np.testing.assert_array_equal(bs[5], data.get(0, np.random.default_rng(5))[1])
    plain = UnpairedFolder(unpaired, preprocess="none", flip=False)   # randomness: the B index only
    serial = UnpairedFolder(unpaired, preprocess="none", flip=False, serial=True)
    both_b = {serial[0][1].tobytes(), serial[1][1].tobytes()}         # B images 0 and 1
    picks = {plain.get(0, np.random.default_rng(k))[1].tobytes() for k in range(16)}
    assert picks == both_b
    batches = list(DataLoader(data, batch_size=2, shuffle=True, seed=4))
    assert [tuple(t.shape) for t in batches[0]] == [(2, 3, 12, 12), (2, 1, 12, 12)]


def test_detect_layout(tmp_path, unpaired):
    assert detect_layout(unpaired) == "unpaired"
    aligned = _write_aligned(tmp_path / "facades")
    assert detect_layout(aligned) == "aligned"
    with pytest.raises(FileNotFoundError,
                       match=r"neither layout.*side by side.*trainA/ and .*trainB/"):
        detect_layout(tmp_path / "facades" / "train")


def test_missing_folders_named_with_the_layout(tmp_path, unpaired):
    with pytest.raises(FileNotFoundError,
                       match=r"missing folder .*testA: expected .*testA/ and .*testB/"):
        UnpairedFolder(unpaired, phase="test")
    with pytest.raises(FileNotFoundError,
                       match=r"missing folder .*val: expected .*val/ holding images "
                                                r"that are \[A \| B\].*holds trainA/, trainB/"):
        AlignedFolder(unpaired, phase="val")
    with pytest.raises(FileNotFoundError, match="data folder not found: .*nowhere"):
        AlignedFolder(tmp_path / "nowhere")


def test_empty_domain(unpaired):
    (unpaired / "testA").mkdir()
    (unpaired / "testB").mkdir()
    (unpaired / "testB" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"domain A is empty: no images in .*testA"):
        UnpairedFolder(unpaired, phase="test")


def test_crop_too_big(tmp_path, unpaired):
    with pytest.raises(ValueError, match="crop_size 300 is larger than load_size 286"):
        UnpairedFolder(unpaired, crop_size=300)
    with pytest.raises(ValueError,
                       match=r"crop_size 17 is larger than the image .*trainA.0\.png \(16 x 16\)"):
        UnpairedFolder(unpaired, preprocess="crop", crop_size=17)
    Image.fromarray(_pattern(12, 30, 7)).save(unpaired / "trainA" / "small.png")
    data = UnpairedFolder(unpaired, preprocess="crop", crop_size=14, serial=True)
    assert data.get(0, np.random.default_rng(0))[0].shape == (3, 14, 14)
    with pytest.raises(ValueError,
                       match=r"crop_size 14 is larger than the image .*small\.png \(12 x 30\)"):
        data.get(3, np.random.default_rng(0))
    root = _write_aligned(tmp_path / "aligned", h=20, w=24)
    with pytest.raises(ValueError, match=r"larger than the image .*0\.png \(20 x 24\)"):
        AlignedFolder(root, preprocess="crop", crop_size=21)
    assert AlignedFolder(root, preprocess="crop", crop_size=20)[0][0].shape == (3, 20, 20)


def test_bad_arguments(unpaired):
    with pytest.raises(ValueError, match="direction must be 'AtoB' or 'BtoA', got 'AB'"):
        UnpairedFolder(unpaired, direction="AB")
    with pytest.raises(ValueError, match="preprocess must be one of"):
        UnpairedFolder(unpaired, preprocess="scale")
    with pytest.raises(ValueError, match="channels must be 1, 3 or None, got 2"):
        UnpairedFolder(unpaired, channels=(2, None))


def test_corrupt_images_all_named_up_front_or_skipped(unpaired):
    """Issue 11 item 4: every unreadable file is named in one error when the dataset is built
    (not mid-epoch), and skip_bad goes on without them."""
    (unpaired / "trainB" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (unpaired / "trainA" / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"2 of .*empty\.png.*broken\.jpg|2 of .*broken"):
        UnpairedFolder(unpaired, preprocess="none", flip=False, serial=True)
    aligned = _write_aligned(unpaired / "al", n=1, h=8, w=8)
    (aligned / "train" / "x.png").write_bytes(b"junk")
    with pytest.raises(ImageReadError, match=r"1 of 2 .*x\.png.*--skip-bad-images"):
        AlignedFolder(aligned, preprocess="none")
    assert len(AlignedFolder(aligned, preprocess="none", skip_bad=True)) == 1
    data = UnpairedFolder(unpaired, preprocess="none", flip=False, serial=True, skip_bad=True)
    assert [p.name for p in data.paths[1]] == ["0.png", "1.png"]
    assert "empty.png" not in [p.name for p in data.paths[0]]


@pytest.mark.skipif(not (FACADES / "val").is_dir(), reason="facades not present")
def test_facades_labels_to_photo():
    photo_to_labels = AlignedFolder(FACADES, "val", "AtoB", load_size=64, crop_size=64, flip=False)
    labels_to_photo = AlignedFolder(FACADES, "val", "BtoA", load_size=64, crop_size=64, flip=False)
    photo, labels = photo_to_labels[0]
    assert photo.shape == labels.shape == (3, 64, 64) and labels_to_photo.channels == 3
    np.testing.assert_array_equal(labels_to_photo[0][0], labels)
    np.testing.assert_array_equal(labels_to_photo[0][1], photo)
    # the label map (right half) is flat colour regions: more of it is flat than of the photo
    flat = [np.mean(np.abs(np.diff(x, axis=2)).max(axis=0) < 0.03) for x in (labels, photo)]
    assert flat[0] > flat[1] + 0.1


def test_channels_follow_all_images_not_the_first(tmp_path):
    """Issue 11 item 5: one grayscale image that sorts first no longer makes an RGB set gray."""
    _write_domain(tmp_path / "trainA", 3, 16, 16, gray=False, seed=0)
    _write_domain(tmp_path / "trainB", 2, 16, 16, gray=False, seed=1)
    Image.new("L", (16, 16), 80).save(tmp_path / "trainA" / "000_gray.png")
    data = UnpairedFolder(tmp_path, preprocess="none", flip=False, serial=True)
    assert data.channels == [3, 3] and data[0][0].shape == (3, 16, 16)
    assert UnpairedFolder(tmp_path, preprocess="none", channels=(1, None)).channels == [1, 3]


def test_scale_width_keeps_the_aspect(tmp_path):
    root = _write_aligned(tmp_path, n=1, h=10, w=20)                   # halves 10 x 20
    a, b = AlignedFolder(root, preprocess="scale_width", load_size=40, crop_size=8, flip=False)[0]
    assert a.shape == b.shape == (3, 20, 40)
