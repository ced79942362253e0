"""Image transforms: small callables that map one image to another.

Every transform is called as ``transform(x, rng=None)``. ``x`` is an image: a Pillow image, or a NumPy
array laid out channels-first, ``(C, H, W)``, float32. Transforms that draw random numbers (crops, flips)
take them from ``rng``, a ``numpy.random.Generator``, and raise if none is given; the others ignore it.
Each transform has a ``random`` attribute saying whether it needs ``rng``.

Where the generator comes from: a dataset that holds a random transform receives, for each sample, a
generator derived from ``(seed, epoch, index)`` by the ``DataLoader`` (see ``minigan.data.sample_rng``),
so augmented batches are the same on every run with the same seed, and differ from epoch to epoch.

A usual pipeline, from a Pillow image to a normalised array::

    t = Compose([ToArray(), Resize(72), RandomCrop(64), RandomHorizontalFlip(), Normalize()])
    x = t(Image.open("a.png").convert("RGB"), rng)   # (3, 64, 64) float32 in [-1, 1]

Crops and flips work on any number of channels, so two aligned images (a pix2pix pair) get the same
crop and flip when stacked along the channel axis first and split afterwards.
"""
import numpy as np
from PIL import Image

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


def _pair(size, name):
    """``size`` as a ``(height, width)`` pair of positive ints; an int means a square."""
    pair = (size, size) if isinstance(size, (int, np.integer)) else size
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                       for s in pair)):
        raise ValueError(f"{name}: expected a positive int or a (height, width) pair, got {size!r}")
    return int(pair[0]), int(pair[1])


def _check_chw(x, name):
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        got = f"array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{name}: expected a (C, H, W) array (apply ToArray first), got {got}")


def _check_rng(rng, name):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} is random: it needs a numpy.random.Generator as rng, got {rng!r}")


def is_random(transform):
    """True when ``transform`` needs an ``rng``; callables of unknown kind are assumed random."""
    return transform is not None and bool(getattr(transform, "random", True))


class Compose:
    """Apply transforms in order, passing the same ``rng`` to each.

    Example: ``Compose([ToArray(), Resize(32), Normalize()])(pil_image)`` -> (C, 32, 32) float32.
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: expected callables, got {t!r}")
        self.random = any(is_random(t) for t in self.transforms)

    def __call__(self, x, rng=None):
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self):
        return f"Compose({self.transforms!r})"


class ToArray:
    """Pillow image or HWC/HW array -> float32 array (C, H, W) in [0, 1].

    uint8 values are divided by 255, uint16 by 65535; float input is taken to be in [0, 1] already.
    """

    random = False

    def __call__(self, x, rng=None):
        if isinstance(x, Image.Image):
            x = np.asarray(x.convert("RGB") if x.mode in ("P", "PA", "CMYK", "YCbCr") else x)
        if not isinstance(x, np.ndarray) or x.ndim not in (2, 3):
            raise TypeError(f"ToArray: expected a Pillow image or an (H, W[, C]) array, "
                            f"got {type(x).__name__}")
        if x.ndim == 2:
            x = x[:, :, None]                       # (H, W) -> (H, W, 1)
        x = np.ascontiguousarray(x.transpose(2, 0, 1))  # (H, W, C) -> (C, H, W)
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255)
        if x.dtype == np.uint16:
            return x.astype(np.float32) / np.float32(65535)
        if x.dtype == np.bool_:
            return x.astype(np.float32)
        return x.astype(np.float32, copy=False)

    def __repr__(self):
        return "ToArray()"


class Normalize:
    """(x - mean) / std per channel; the defaults map [0, 1] to [-1, 1]. Input and output (C, H, W)."""

    random = False

    def __init__(self, mean=0.5, std=0.5):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)  # (C or 1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std!r}")

    def __call__(self, x, rng=None):
        _check_chw(x, "Normalize")
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class Resize:
    """Resize to ``size`` = (height, width), or a square when an int (unlike torchvision, whose int
    means the shorter side). Works on Pillow images (returns one) and on (C, H, W) float arrays
    (each channel resized as a float image; returns (C, height, width) float32).
    ``resample``: "nearest", "bilinear" (default), "bicubic", "lanczos" or "box".
    """

    random = False

    def __init__(self, size, resample="bilinear"):
        self.size = _pair(size, "Resize size")
        if resample not in _RESAMPLE:
            raise ValueError(f"Resize: resample must be one of {sorted(_RESAMPLE)}, "
                             f"got {resample!r}")
        self.resample = resample

    def __call__(self, x, rng=None):
        height, width = self.size
        method = _RESAMPLE[self.resample]
        if isinstance(x, Image.Image):
            return x if x.size == (width, height) else x.resize((width, height), method)
        _check_chw(x, "Resize")
        if x.shape[1:] == self.size:
            return x
        channels = [Image.fromarray(np.asarray(c, dtype=np.float32)).resize((width, height), method)
                    for c in x]
        return np.stack([np.asarray(c) for c in channels])  # C x (h, w) -> (C, h, w)

    def __repr__(self):
        return f"Resize({self.size}, resample={self.resample!r})"


class CenterCrop:
    """Crop the central (height, width) window of a (C, H, W) array."""

    random = False

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop size")

    def __call__(self, x, rng=None):
        _check_chw(x, "CenterCrop")
        top, left = _crop_room(x, self.size, "CenterCrop")
        return x[:, top // 2: top // 2 + self.size[0], left // 2: left // 2 + self.size[1]]

    def __repr__(self):
        return f"CenterCrop({self.size})"


class RandomCrop:
    """Crop a (height, width) window at a uniformly random position of a (C, H, W) array."""

    random = True

    def __init__(self, size):
        self.size = _pair(size, "RandomCrop size")

    def __call__(self, x, rng=None):
        _check_chw(x, "RandomCrop")
        _check_rng(rng, "RandomCrop")
        top_room, left_room = _crop_room(x, self.size, "RandomCrop")
        top = int(rng.integers(0, top_room + 1))
        left = int(rng.integers(0, left_room + 1))
        return x[:, top: top + self.size[0], left: left + self.size[1]]

    def __repr__(self):
        return f"RandomCrop({self.size})"


def _crop_room(x, size, name):
    """How far a crop of ``size`` can move inside ``x``: (rows, columns) of slack."""
    top_room, left_room = x.shape[1] - size[0], x.shape[2] - size[1]
    if top_room < 0 or left_room < 0:
        raise ValueError(f"{name}: crop {size} is larger than the image {x.shape[1:]}")
    return top_room, left_room


class RandomHorizontalFlip:
    """Mirror a (C, H, W) array left-right with probability ``p``."""

    random = True

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, x, rng=None):
        _check_chw(x, "RandomHorizontalFlip")
        _check_rng(rng, "RandomHorizontalFlip")
        if rng.random() < self.p:
            return np.ascontiguousarray(x[:, :, ::-1])
        return x

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"
