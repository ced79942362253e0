"""Image grids: ``make_grid`` and ``save_image`` with torchvision's signatures and semantics.

The one implementation of grids in minigan (``minigan.io.save_image_grid`` calls it too).

- ``normalize=True`` maps ``value_range`` = (low, high) (default: the min and max of the whole
  batch, or of each image with ``scale_each=True``) to [0, 1], clamping values outside the range;
  without it values are taken to be in [0, 1] already.
- A batch is tiled ``nrow`` images to a row with ``padding`` pixels of ``pad_value`` (in the
  normalised scale) around and between the tiles; a single image is returned as it is.
- Single-channel images become 3-channel grids, as torchvision's; ``save_image`` writes them as
  8-bit grayscale PNGs (the same pixels, a third of the file).
- ``save_image`` turns [0, 1] into bytes as ``floor(x * 255 + 0.5)`` clamped to [0, 255], and
  writes atomically.

    >>> save_image(G(z), "samples.png", nrow=8, normalize=True)   # tanh outputs, min-max scaled
    >>> save_image(G(z), "samples.png", normalize=True, value_range=(-1, 1))
"""
import os

import numpy as np

from ..atomic import atomic_write
from ..autograd import Tensor, tensor as _tensor


def _as_batch(images):
    """(B, C, H, W) float32 NumPy array from a Tensor, array or list of (C, H, W) images."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("make_grid: got an empty list of images")
        parts = [_host(image) for image in images]
        shapes = {p.shape for p in parts}
        if len(shapes) > 1 or parts[0].ndim != 3:
            raise ValueError(f"make_grid: a list must hold (C, H, W) images of one shape, got "
                             f"shapes {sorted(shapes)}")
        array = np.stack(parts)                               # B x (C, H, W) -> (B, C, H, W)
    else:
        array = _host(images)
    if array.ndim == 2:
        array = array[None, None]                             # (H, W) -> (1, 1, H, W)
    elif array.ndim == 3:
        array = array[None]                                   # (C, H, W) -> (1, C, H, W)
    if array.ndim != 4 or 0 in array.shape:
        raise ValueError(f"make_grid: images must have shape (B, C, H, W), (C, H, W) or (H, W), "
                         f"none of them empty, got {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"make_grid: images must hold numbers, got dtype {array.dtype}")
    return array.astype(np.float32, copy=True)


def _host(value):
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


def _normalize(batch, value_range, scale_each):
    """In place: clamp to the range and map it to [0, 1], as torchvision's ``normalize=True``."""
    if value_range is not None:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"make_grid: value_range must be a (min, max) pair, got "
                             f"{value_range!r}")
    parts = batch if scale_each else batch[None]              # scale each image, or all at once
    for part in parts:
        low, high = value_range if value_range is not None else (part.min(), part.max())
        np.clip(part, low, high, out=part)
        part -= np.float32(low)
        part /= np.float32(max(float(high) - float(low), 1e-5))


def grid_array(images, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
               pad_value=0.0):
    """``make_grid``'s work on the host: a (C, H', W') float32 array, C as the input's."""
    for name, value, low in (("nrow", nrow, 1), ("padding", padding, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            kind = "positive" if low else "non-negative"
            raise ValueError(f"make_grid: {name} must be a {kind} int, got {value!r}")
    batch = _as_batch(images)
    if normalize:
        _normalize(batch, value_range, scale_each)
    if batch.shape[0] == 1:
        return batch[0]
    n, c, h, w = batch.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                   pad_value, dtype=np.float32)
    for i in range(n):
        top = padding + (i // cols) * (h + padding)
        left = padding + (i % cols) * (w + padding)
        grid[:, top:top + h, left:left + w] = batch[i]
    return grid


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile a batch of images into one image, like ``torchvision.utils.make_grid``.

    tensor: (B, C, H, W) Tensor or array, or a list of (C, H, W) images; (C, H, W) and (H, W) are
    one image. Returns a (C', rows * (H + padding) + padding, min(nrow, B) * (W + padding) +
    padding) float32 Tensor on the CPU, C' = 3 for single-channel input, else C.

        >>> make_grid(mg.rand(10, 3, 8, 8), nrow=5).shape
        (3, 22, 52)
    """
    grid = grid_array(tensor, nrow, padding, normalize, value_range, scale_each, pad_value)
    if grid.shape[0] == 1:
        grid = np.repeat(grid, 3, axis=0)                     # (1, H, W) -> (3, H, W)
    return _tensor(grid)


def to_pixels(grid):
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8, as ``floor(x * 255 + 0.5)`` clamped."""
    scaled = np.clip(np.floor(grid.astype(np.float32) * np.float32(255) + np.float32(0.5)), 0, 255)
    return scaled.astype(np.uint8).transpose(1, 2, 0)        # (C, H, W) -> (H, W, C)


def save_image(tensor, fp, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
               pad_value=0.0, format=None):
    """Save images (a batch as a ``make_grid`` grid) to ``fp``, like ``torchvision.utils.save_image``.

    fp: a path (written atomically; the format from its extension, PNG when unknown) or a binary
    file object (then give ``format``). Values in [0, 1], or any range with ``normalize=True``.
    The image has 1, 3 or 4 channels (grayscale, RGB, RGBA).

        >>> save_image(fake, "fake_samples.png", nrow=8, normalize=True)
    """
    from PIL import Image

    grid = grid_array(tensor, nrow, padding, normalize, value_range, scale_each, pad_value)
    if grid.shape[0] not in (1, 3, 4):
        raise ValueError(f"save_image: images must have 1, 3 or 4 channels, got {grid.shape[0]}")
    pixels = to_pixels(grid)
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if hasattr(fp, "write"):
        picture.save(fp, format=format or "PNG")
        return
    if format is None:
        extension = os.path.splitext(os.fspath(fp))[1].lower()
        format = Image.registered_extensions().get(extension, "PNG")
    with atomic_write(fp) as f:
        picture.save(f, format=format)
