"""A folder of images of one class, and the image-reading helpers other folder layouts share.

Helpers: ``list_images(root)`` (sorted image paths; clear errors for a missing or empty folder),
``scan_images(paths)`` (every file's header read up front: all unreadable files named in one error,
or left out with ``skip_bad``; the channel count that fits all of them), ``read_image(path, mode)``
(a loaded Pillow image; ``ImageReadError`` naming the file when it cannot be decoded) and
``load_image(path, size, channels)`` (a (C, H, W) float32 array in [-1, 1]).
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .loader import Dataset
from .transforms import Normalize, Resize, ToArray, is_random

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
MODES = {1: "L", 3: "RGB"}
_MODES = MODES
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


def scan_images(paths, skip_bad=False, what="images"):
    """Read the header of every file in ``paths`` (cheap: no pixels are decoded) and return
    (the readable paths, their channel count: 3 when any image is colour, else 1).

    Raises ImageReadError naming every unreadable file (and how to go on: ``--skip-bad-images``),
    unless ``skip_bad``, which leaves them out with a note on stderr; ValueError when none is left.
    """
    return scan_domains([paths], skip_bad, what)[0]


def scan_domains(domains, skip_bad=False, what="images"):
    """``scan_images`` over several lists of paths at once (the domains of an unpaired set), so
    one error names the unreadable files of all of them: [(paths, channels), ...]."""
    results, bad, total = [], [], 0
    for paths in domains:
        good, colour = [], False
        for path in paths:
            try:
                with Image.open(path) as image:
                    mode, size = image.mode, image.size
                if min(size) < 1:
                    raise ValueError(f"empty image {size}")
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
                bad.append(f"{path} ({err})")
                continue
            good.append(path)
            colour = colour or mode not in _GRAY_MODES
        results.append((good, 3 if colour else 1))
        total += len(paths)
    if bad and not skip_bad:
        listed = "; ".join(bad[:20]) + (f"; and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise ImageReadError(f"{len(bad)} of {total} {what} cannot be read: {listed} (remove "
                             f"them, or pass --skip-bad-images to go on without them)")
    if bad:
        print(f"note: skipping {len(bad)} unreadable {what}: {'; '.join(bad[:5])}"
              f"{' ...' if len(bad) > 5 else ''}", file=sys.stderr)
    for (good, _), paths in zip(results, domains):
        if not good:
            raise ValueError(f"none of the {len(paths)} {what} can be read")
    return results


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
        channels: 1 (grayscale), 3 (RGB), or None: 3 when any image is colour, else 1.
        transform: optional ``transform(x, rng)`` applied to the normalised image (see transforms).
        skip_bad: leave out the files whose header cannot be read instead of refusing.

    Every file's header is read up front (``scan_images``): unreadable ones are all named in one
    ImageReadError. A file whose pixels are damaged past its header fails when it is read.
    Example: ``ImageFolder("photos", 64, channels=3)[0][0].shape`` -> (3, 64, 64).
    """

    def __init__(self, root, size, channels=None, transform=None, skip_bad=False):
        self.root = Path(root)
        Resize(size)  # validates size
        self.paths, found = scan_images(list_images(self.root), skip_bad, f"images in {self.root}")
        self.size = size
        if channels is None:
            channels = found
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
