"""Images as the Inception network reads them: float32 (N, 3, H, W) in [0, 1], RGB.

A file is read as pytorch-fid reads it (its ``ImagePathDataset`` and ``ToTensor``): decoded by
Pillow, converted to RGB (grey is repeated into three channels, alpha dropped), divided by 255.
No resizing here: the network resizes every image to 299x299, bilinearly, itself. Images of
different sizes in one folder are fine (each run of same-sized files is its own batch).

Arrays are taken in the two layouts images usually come in:
- uint8 (N, H, W, 3) or (N, H, W, 1) or (N, H, W): pixels 0..255, as Pillow and ``np.asarray``;
- float (N, 3, H, W) or (N, 1, H, W), values in [0, 1], as minigan Tensors. A generator's tanh
  output is in [-1, 1]: map it with ``(x + 1) / 2`` first.

    >>> batch = check_images(np.zeros((8, 32, 32, 3), np.uint8))     # (8, 3, 32, 32) float32
"""
import numpy as np

from ..autograd import Tensor
from ..data.folder import list_images, read_image, scan_images

_RANGE_SLACK = 1e-3     # float images may stray this far outside [0, 1] (round-off of a mapping)


def folder_images(folder, skip_bad=False):
    """The image files directly in ``folder``, sorted by name, every header checked up front:
    FileNotFoundError, NotADirectoryError or ValueError (no images) in one line, ImageReadError
    naming every unreadable file (or, with ``skip_bad``, those left out)."""
    paths, _ = scan_images(list_images(folder), skip_bad, f"images in {folder}")
    return paths


def read_rgb(path):
    """One image file as float32 (3, H, W) in [0, 1], RGB."""
    pixels = np.asarray(read_image(path, "RGB"), dtype=np.float32)     # (H, W, 3), 0..255
    return (pixels / 255).transpose(2, 0, 1)                          # (H, W, 3) -> (3, H, W)


def check_images(images, caller="fid"):
    """An image array (see the module docstring) as float32 (N, 3, H, W) in [0, 1]; ValueError in
    one line for any other shape, dtype or range."""
    data = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
    if data.dtype == np.uint8:
        if data.ndim == 3:
            data = data[..., None]                                    # (N, H, W) -> (N, H, W, 1)
        if data.ndim != 4 or data.shape[-1] not in (1, 3):
            raise ValueError(f"{caller}: uint8 images must be (N, H, W, 3), (N, H, W, 1) or "
                             f"(N, H, W), got shape {data.shape}")
        data = (data.astype(np.float32) / 255).transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    elif data.dtype.kind == "f":
        if data.ndim != 4 or data.shape[1] not in (1, 3):
            raise ValueError(f"{caller}: float images must be (N, 3, H, W) or (N, 1, H, W) in "
                             f"[0, 1], got shape {data.shape}")
        low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
        if not (low >= -_RANGE_SLACK and high <= 1 + _RANGE_SLACK):
            hint = "; a generator's [-1, 1] output maps with (x + 1) / 2" if low < 0 else ""
            raise ValueError(f"{caller}: float images must be in [0, 1], got values from "
                             f"{low:.3g} to {high:.3g}{hint}")
        data = np.clip(data.astype(np.float32, copy=False), 0, 1)
    else:
        raise ValueError(f"{caller}: images must be uint8 (N, H, W, 3) or float (N, 3, H, W), got "
                         f"dtype {data.dtype}")
    if len(data) == 0:
        raise ValueError(f"{caller}: no images (an array of shape {data.shape})")
    if data.shape[1] == 1:
        data = np.repeat(data, 3, axis=1)                             # grey -> (N, 3, H, W)
    return data


def batches(images, batch_size):
    """Yield float32 (B, 3, H, W) batches in order from a checked array or a list of paths;
    files of different sizes go in separate batches (a batch never mixes sizes)."""
    if isinstance(images, np.ndarray):
        for start in range(0, len(images), batch_size):
            yield images[start:start + batch_size]
        return
    run = []
    for path in images:
        image = read_rgb(path)
        if run and (len(run) == batch_size or run[0].shape != image.shape):
            yield np.stack(run)
            run = []
        run.append(image)
    if run:
        yield np.stack(run)
