"""MNIST idx files: reading files the test writes, clear errors for broken ones, real data if present."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from minigan.data import DataLoader, IdxFormatError, MNISTFormat, read_idx

FASHION = Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion-mnist"


def idx_bytes(array):
    """Encode an array in the idx format (uint8 or big-endian int32)."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def write_split(root, prefix, images, labels, compress=False):
    for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
        name = f"{prefix}-{kind}-idx{dims}-ubyte"
        data = idx_bytes(array)
        if compress:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = (np.arange(12) % 10).astype(np.uint8)
    write_split(tmp_path, "train", images, labels)
    write_split(tmp_path, "t10k", images[:5], labels[:5], compress=True)
    return tmp_path, images, labels


def test_read_idx_round_trip(tmp_path):
    array = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a", "b.gz"):
        got = read_idx(tmp_path / name)
        assert got.shape == (2, 3, 4) and got.dtype == np.int32 and got.dtype.isnative
        np.testing.assert_array_equal(got, np.arange(24).reshape(2, 3, 4))


def test_dataset_values_and_splits(mnist_dir):
    root, images, labels = mnist_dir
    train = MNISTFormat(root)
    assert len(train) == 12
    image, label = train[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == 3
    np.testing.assert_allclose(image[0], images[3] / 127.5 - 1, atol=1e-6)
    test = MNISTFormat(root, train=False, size=32)
    assert len(test) == 5 and test[4][0].shape == (1, 32, 32)
    assert -1 <= test[4][0].min() and test[4][0].max() <= 1
    x, y = next(iter(DataLoader(train, batch_size=12)))
    assert x.shape == (12, 1, 28, 28) and y.numpy().tolist() == labels.tolist()


def test_missing_folder_and_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder not found: .*nowhere"):
        MNISTFormat(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        MNISTFormat(tmp_path)
    write_split(tmp_path, "train", np.zeros((2, 4, 4), np.uint8), np.zeros(2, np.uint8))
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="no train-labels-idx1-ubyte in"):
        MNISTFormat(tmp_path)


def test_bad_magic(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(IdxFormatError, match=r"bad magic number 12340803"):
        read_idx(path)
    path.write_bytes(b"")
    with pytest.raises(IdxFormatError, match=r"empty file"):
        read_idx(path)


def test_truncated_and_overlong_files(tmp_path):
    data = idx_bytes(np.zeros((3, 4, 4), np.uint8))           # 16 + 48 bytes
    path = tmp_path / "x"
    path.write_bytes(data[:-5])
    with pytest.raises(IdxFormatError, match=r"truncated: .*\(3, 4, 4\) needs 64 bytes, got 59"):
        read_idx(path)
    path.write_bytes(data[:10])
    with pytest.raises(IdxFormatError, match="truncated header: expected 16 bytes, got 10"):
        read_idx(path)
    path.write_bytes(data + b"\x00")
    with pytest.raises(IdxFormatError, match="too long"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.zeros((3, 8, 8), np.uint8)))
    path = tmp_path / "x.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IdxFormatError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_mismatched_counts(tmp_path):
    write_split(tmp_path, "train", np.zeros((3, 4, 4), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(IdxFormatError, match="holds 3 images but .* holds 2 labels"):
        MNISTFormat(tmp_path)


@pytest.mark.skipif(not FASHION.is_dir(), reason="no shared/data/fashion-mnist on this machine")
def test_real_fashion_mnist():
    test = MNISTFormat(FASHION, train=False)
    assert len(test) == 10000
    image, label = test[0]
    assert image.shape == (1, 28, 28) and 0 <= label <= 9
    assert np.bincount(test.labels).tolist() == [1000] * 10
