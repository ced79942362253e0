"""MNIST-format idx files (MNIST, Fashion-MNIST, KMNIST, ...), plain or gzipped.

An idx file is a 4-byte magic number -- two zero bytes, a type code, the number of dimensions --
then one big-endian uint32 per dimension, then the values, big-endian, in C order.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .loader import Dataset
from .transforms import is_random

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IdxFormatError(ValueError):
    """An idx file whose header or length is not what the format says."""


def _read_bytes(path):
    """The file's (uncompressed) bytes; a damaged gzip stream raises IdxFormatError."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(b"\x1f\x8b"):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise IdxFormatError(f"{path}: corrupt or truncated gzip data ({err})") from err


def read_idx(path):
    """Read one idx file (gzipped when it starts with the gzip magic) into a NumPy array.

    Returns an array of the stored shape, e.g. (60000, 28, 28) uint8 for images, (60000,) for labels,
    in native byte order. Raises FileNotFoundError for a missing file and IdxFormatError for a bad
    magic number, an unknown type code or a truncated file (naming expected and actual byte counts).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"idx file not found: {path}")
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise IdxFormatError(f"{path}: bad magic number {data[:4].hex() or '(empty file)'}; an idx "
                             f"file starts with 00 00, a type code in "
                             f"{[hex(t) for t in _TYPES]}, then the number of dimensions")
    dtype, ndim = np.dtype(_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{path}: truncated header: expected {header} bytes, got {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "too long"
        raise IdxFormatError(f"{path}: {problem}: a {dtype.name} array of shape {shape} needs "
                             f"{expected} bytes, got {len(data)}")
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)  # flat -> stored shape
    return array.astype(dtype.newbyteorder("="))


def find_idx(root, name):
    """The path of ``name`` (e.g. "train-images-idx3-ubyte") in ``root``: plain, ``.gz``, or with a
    dot before "idx" (some mirrors). FileNotFoundError lists every name that was tried."""
    root = Path(root)
    dotted = name.replace("-idx", ".idx")
    candidates = [name, name + ".gz", dotted, dotted + ".gz"]
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    raise FileNotFoundError(f"no {name} in {root}: looked for {', '.join(candidates)}")


class MNISTFormat(Dataset):
    """A folder of MNIST-format idx files; samples are ``(image, label)``.

    image: (1, size, size) float32 in [-1, 1] (28x28 unless ``size`` is given; resized bilinearly);
    label: int.

    Args:
        root: folder with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] and the t10k-
            pair for the test split.
        train: the training split (True) or the test split (False).
        size: output side, or None for the files' own size.
        transform: optional ``transform(x, rng)`` applied to the (1, size, size) image.

    Example: ``MNISTFormat("data/fashion-mnist", train=True, size=32)[0]`` -> ((1, 32, 32), 9).
    """

    def __init__(self, root, train=True, size=None, transform=None):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"MNISTFormat: data folder not found: {root}")
        prefix = "train" if train else "t10k"
        images_path = find_idx(root, f"{prefix}-images-idx3-ubyte")
        labels_path = find_idx(root, f"{prefix}-labels-idx1-ubyte")
        self.images = read_idx(images_path)
        self.labels = read_idx(labels_path)
        if self.images.ndim != 3 or self.labels.ndim != 1:
            raise IdxFormatError(f"MNISTFormat: expected (N, H, W) images and (N,) labels, got "
                                 f"{self.images.shape} from {images_path.name} and "
                                 f"{self.labels.shape} from {labels_path.name}")
        if len(self.images) != len(self.labels):
            raise IdxFormatError(f"MNISTFormat: {images_path.name} holds {len(self.images)} images "
                                 f"but {labels_path.name} holds {len(self.labels)} labels")
        if self.images.dtype != np.uint8:
            raise IdxFormatError(f"MNISTFormat: expected uint8 pixels in {images_path.name}, "
                                 f"got {self.images.dtype}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"MNISTFormat: size must be a positive int or None, got {size!r}")
        self.size = size
        self.transform = transform
        self.needs_rng = is_random(transform)

    def __len__(self):
        return len(self.labels)

    def get(self, index, rng):
        image = self.images[index]
        if self.size is not None and image.shape != (self.size, self.size):
            square = (self.size, self.size)
            image = np.asarray(Image.fromarray(image).resize(square, Image.Resampling.BILINEAR))
        image = image[None].astype(np.float32) * np.float32(2 / 255) - np.float32(1)  # (1, H, W)
        if self.transform is not None:
            image = self.transform(image, rng)
        return image, int(self.labels[index])
