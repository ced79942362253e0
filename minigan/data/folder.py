"""A folder of images of one class, and the image-reading helpers other folder layouts share.

Helpers: ``list_images(root)`` (sorted image paths; clear errors for a missing or empty folder),
``read_image(path, mode)`` (a loaded Pillow image; ``ImageReadError`` naming the file when it cannot
be decoded) and ``load_image(path, size, channels)`` (a (C, H, W) float32 array in [-1, 1]).
"""
from pathlib import Path

import numpy as np
from PIL import Image

from .loader import Dataset
from .transforms import Normalize, Resize, ToArray, is_random

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
_MODES = {1: "L", 3: "RGB"}
_to_array, _normalize = ToArray(), Normalize()


class ImageReadError(OSError):
    """An image file that exists but cannot be decoded (corrupt, truncated, not an image)."""


def list_images(root):
    """The image files directly in ``root`` (by extension, case-insensitive), sorted by name.

    Raises FileNotFoundError (no such folder), NotADirectoryError, or ValueError (no images).
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"image folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"expected a folder of images, got a file: {root}")
    paths = sorted(p for p in root.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"no images in {root} (looked for files ending in "
                         f"{', '.join(IMAGE_EXTENSIONS)})")
    return paths


def read_image(path, mode=None):
    """Open and fully decode an image with Pillow, converted to ``mode`` ("L", "RGB", ...) if given.

    Raises FileNotFoundError for a missing file and ImageReadError, naming the file, for one that
    cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            if mode is not None and image.mode != mode:
                return image.convert(mode)
            return image.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err


def image_channels(image):
    """1 for a grayscale Pillow image, 3 otherwise (alpha is dropped)."""
    return 1 if image.mode in _GRAY_MODES else 3


def load_image(path, size, channels):
    """Read an image as a (channels, height, width) float32 array in [-1, 1].

    size: int (square) or (height, width); resized bilinearly. channels: 1 (grayscale) or 3 (RGB).
    """
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    image = Resize(size)(read_image(path, _MODES[channels]))
    return _normalize(_to_array(image))


class ImageFolder(Dataset):
    """Every image directly in one folder, sorted by name; samples are ``(image,)``.

    image: (C, height, width) float32 in [-1, 1].

    Args:
        root: the folder.
        size: int (square) or (height, width) to resize to.
        channels: 1 (grayscale), 3 (RGB), or None to follow the first image.
        transform: optional ``transform(x, rng)`` applied to the normalised image (see transforms).

    Images are read when asked for, so a corrupt file raises ImageReadError (naming it) then.
    Example: ``ImageFolder("photos", 64, channels=3)[0][0].shape`` -> (3, 64, 64).
    """

    def __init__(self, root, size, channels=None, transform=None):
        self.root = Path(root)
        self.paths = list_images(self.root)
        Resize(size)  # validates size
        self.size = size
        if channels is None:
            channels = image_channels(read_image(self.paths[0]))
        if channels not in _MODES:
            raise ValueError(f"ImageFolder: channels must be 1, 3 or None, got {channels!r}")
        self.channels = channels
        self.transform = transform
        self.needs_rng = is_random(transform)

    def __len__(self):
        return len(self.paths)

    def get(self, index, rng):
        image = load_image(self.paths[index], self.size, self.channels)
        if self.transform is not None:
            image = self.transform(image, rng)
        return (image,)
