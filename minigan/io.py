"""Files: checkpoints (safetensors, see ``minigan.serialization``), image grids (PNG via Pillow),
and plots (matplotlib).

Every writer is atomic: it writes a temporary file in the target's folder, flushes and fsyncs it,
then ``os.replace``s it over the target, so a crash or a full disk never leaves a half-written file
where a good one was. A temporary file left by a killed writer is removed by the next write to the
same target.

A checkpoint is any nested structure of dicts, lists and tuples whose leaves are arrays (NumPy,
CuPy, or minigan Tensors), numbers, strings, booleans or None: model and optimizer state dicts,
scheduler state, random-generator state, an image pool. It is one safetensors file: arrays under
their key path (``"G/0.weight"``), everything else as JSON in the file's metadata. Loading never
unpickles anything; the ``.npz`` checkpoints of minigan 0.1 still load.

    >>> save_checkpoint("run/checkpoint.safetensors", {"G": G.state_dict(), "step": 1200})
    >>> state = load_checkpoint("run/checkpoint.safetensors")  # arrays come back as NumPy arrays
    >>> G.load_state_dict(state["G"])
"""
import json
import os

import numpy as np

from . import serialization
from .atomic import atomic_write  # noqa: F401  (io.atomic_write, as before)
from .serialization import CheckpointError, as_numpy

CHECKPOINT_NAME = "checkpoint.safetensors"
LEGACY_CHECKPOINT_NAME = "checkpoint.npz"   # what minigan 0.1 wrote; still read


def checkpoint_path(out_dir):
    """The checkpoint of the run in ``out_dir``: ``checkpoint.safetensors``, or a minigan 0.1
    ``checkpoint.npz`` when only that one exists (so an old run resumes; the next save writes the
    new name)."""
    path = os.path.join(os.fspath(out_dir), CHECKPOINT_NAME)
    legacy = os.path.join(os.fspath(out_dir), LEGACY_CHECKPOINT_NAME)
    return legacy if not os.path.exists(path) and os.path.isfile(legacy) else path


def save_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path, obj):
    """Write ``obj`` (nested dicts of arrays, numbers, strings: see the module docstring) to a file.

    Atomic: a failed write leaves any earlier file at ``path`` untouched. Tensors and CuPy arrays
    are copied to the host. Raises TypeError, naming the key, for a value that would need pickle.
    """
    data = serialization.to_bytes(obj, "save_checkpoint")
    with atomic_write(path) as f:
        f.write(data)


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint`` (or an 0.1 ``.npz`` one); arrays come back
    as NumPy arrays.

    Raises FileNotFoundError for a missing file and ``CheckpointError`` (naming the file) for one
    that is truncated, corrupt, oversized in what it declares, or not a minigan checkpoint.
    """
    return serialization.read_file(path, "load_checkpoint")


# ---------------------------------------------------------------- images
def _to_numpy(value):
    array = as_numpy(value)
    return np.asarray(value) if array is None else array


def save_image_grid(path, images, nrow=8, padding=2, value_range=(-1.0, 1.0)):
    """Save (N, C, H, W) images with values in ``value_range`` (default [-1, 1]) as one PNG grid.

    ``nrow`` images per row (torchvision's convention). Values outside the range are clipped; the
    padding is black. Atomic. The same as ``minigan.utils.save_image(images, path, nrow, padding,
    normalize=True, value_range=value_range)``, the one grid implementation.

        >>> save_image_grid("out/samples_epoch3.png", G(z), nrow=8)
    """
    from .utils.image import save_image
    save_image(images, path, nrow=nrow, padding=padding, normalize=True,
               value_range=tuple(value_range), format="PNG")


# ---------------------------------------------------------------- plots
def _save_figure(fig, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")


def plot_points(path, real, fake, title=None, limit=None):
    """Scatter plot of 2-D points, real vs generated, saved as a PNG (matplotlib, Agg; no pyplot).

    real, fake: (N, 2) arrays or Tensors. ``limit`` sets both axes to [-limit, limit].
    """
    from matplotlib.figure import Figure
    real, fake = _to_numpy(real), _to_numpy(fake)
    for name, points in (("real", real), ("fake", fake)):
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"plot_points: {name} must have shape (N, 2), got {points.shape}")
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.5, c="tab:blue", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.5, c="tab:orange", label="generated")
    if limit is not None:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3)
    if title:
        ax.set_title(title)
    _save_figure(fig, path)


def plot_losses(path, history, steps=None, title="losses", smooth=None):
    """Loss curves: ``history`` maps a name to a sequence of values (one per step), saved as a PNG.

    ``steps`` gives the x values (default 1..N). ``smooth`` (default: about 1% of the run) draws a
    moving average over the raw curve.
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for name, values in history.items():
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            continue
        x = np.arange(1, values.size + 1) if steps is None else np.asarray(steps)
        window = smooth if smooth is not None else max(1, values.size // 100)
        line, = ax.plot(x, values, alpha=0.3 if window > 1 else 1.0, lw=0.8)
        if window > 1 and values.size >= window:
            kernel = np.ones(window) / window
            ax.plot(x[window - 1:], np.convolve(values, kernel, mode="valid"), lw=1.5,
                    color=line.get_color(), label=name)
        else:
            line.set_label(name)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    _save_figure(fig, path)
