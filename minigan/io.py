"""Files: checkpoints (.npz without pickle), image grids (PNG via Pillow), and plots (matplotlib).

Every writer is atomic: it writes a temporary file in the target's folder, flushes and fsyncs it,
then ``os.replace``s it over the target, so a crash or a full disk never leaves a half-written file
where a good one was.

A checkpoint is any nested structure of dicts, lists and tuples whose leaves are arrays (NumPy,
CuPy, or minigan Tensors), numbers, strings, booleans or None: model and optimizer state dicts,
scheduler state, random-generator state, an image pool. Arrays go into the .npz under their
flattened key path (``"G/0.weight"``); everything else goes, as JSON, into one entry
(``__meta__``) that also records the structure. Loading never unpickles anything
(``allow_pickle=False``).

    >>> save_checkpoint("run/checkpoint.npz", {"G": G.state_dict(), "step": 1200})
    >>> state = load_checkpoint("run/checkpoint.npz")     # arrays come back as NumPy arrays
    >>> G.load_state_dict(state["G"])
"""
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend

FORMAT = "minigan-checkpoint"
VERSION = 1
_META = "__meta__"
_TAGS = ("__array__", "__tuple__", "__items__")  # JSON objects with these keys encode structure


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read: truncated, corrupt, or not a checkpoint."""


# ---------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success fsync it and rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.

        >>> with atomic_write("out/metrics.json", "w") as f:
        ...     json.dump(metrics, f)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _file_mode(path):
    """The mode of the file being replaced, else 0666 less the umask (what open() would give)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder):
    """Make the rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- checkpoints
def _as_numpy(value):
    """An ndarray for an array-like leaf (NumPy, CuPy, Tensor), else None."""
    if isinstance(value, np.ndarray):
        return value
    if backend.is_cupy_array(value):
        return backend.to_device(value, "cpu")
    data = getattr(value, "data", None)  # a Tensor (or Parameter): its array
    if data is not None and hasattr(data, "shape") and hasattr(data, "dtype"):
        return backend.to_device(data, "cpu")
    return None


def _to_numpy(value):
    array = _as_numpy(value)
    return np.asarray(value) if array is None else array


def _encode(value, key, arrays):
    """JSON-able tree for ``value``; arrays are moved into ``arrays`` under their key path."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.bool_, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    array = _as_numpy(value)
    if array is not None:
        if array.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {key or 'the object'} is an object array, which "
                            f"needs pickle; store numbers, strings or nested dicts instead")
        name, n = key or "array", 1
        while name in arrays:  # keys containing "/" can collide with nested paths
            name, n = f"{key}~{n}", n + 1
        arrays[name] = array
        return {"__array__": name}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{key}/{i}" if key else str(i), arrays) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not any(t in value for t in _TAGS)
        if plain:
            return {k: _encode(v, f"{key}/{k}" if key else k, arrays) for k, v in value.items()}
        return {"__items__": [[_encode(k, f"{key}/key", {}), _encode(v, f"{key}/{k}" if key else
                                                                      str(k), arrays)]
                              for k, v in value.items()]}
    raise TypeError(f"save_checkpoint: cannot store {key or 'the object'} of type "
                    f"{type(value).__name__}; expected arrays, numbers, strings, None, or "
                    f"dicts/lists/tuples of them")


def _decode(node, arrays):
    """Inverse of ``_encode``."""
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        return arrays[node["__array__"]]
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__items__" in node:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in node["__items__"]}
    return {k: _decode(v, arrays) for k, v in node.items()}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def save_checkpoint(path, obj):
    """Write ``obj`` (nested dicts of arrays, numbers, strings: see the module docstring) to a file.

    Atomic: a failed write leaves any earlier file at ``path`` untouched. Tensors and CuPy arrays
    are copied to the host. Raises TypeError, naming the key, for a value that would need pickle.
    """
    arrays = {}
    tree = _encode(obj, "", arrays)
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    if _META in arrays:
        raise ValueError(f"save_checkpoint: the key {_META!r} is reserved")
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; arrays come back as NumPy arrays.

    Raises FileNotFoundError for a missing file and ``CheckpointError`` (naming the file) for one
    that is truncated, corrupt, or not a minigan checkpoint.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise CheckpointError(f"load_checkpoint: {path!r} is truncated or corrupt and cannot be "
                              f"read ({type(e).__name__}: {e})") from e
    if _META not in arrays:
        raise CheckpointError(f"load_checkpoint: {path!r} is an .npz file but not a minigan "
                              f"checkpoint (no {_META!r} entry)")
    header = arrays.pop(_META)
    try:
        if not isinstance(header, np.ndarray) or header.dtype != np.uint8 or header.ndim != 1:
            raise ValueError("the header is not a byte array")
        meta = json.loads(header.tobytes().decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}")
        if meta.get("version") != VERSION:
            raise ValueError(f"version {meta.get('version')!r}, this minigan reads {VERSION}")
        return _decode(meta["tree"], arrays)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"load_checkpoint: {path!r} has an unreadable header: {e}") from e


# ---------------------------------------------------------------- images
def make_grid(images, nrow=8, padding=2, pad_value=0.0):
    """Tile images into one, like torchvision's make_grid.

    images: (N, C, H, W) array or Tensor, C in {1, 3}. Returns (C, rows*(H+p)+p, nrow*(W+p)+p)
    NumPy float array with ``pad_value`` between tiles.
    """
    array = _to_numpy(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] == 0:
        raise ValueError(f"make_grid: images must have shape (N, C, H, W) with N >= 1 and C in "
                         f"(1, 3), got {array.shape}")
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    n, c, h, w = array.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value,
                   dtype=np.float32)
    for i in range(n):
        top = padding + (i // cols) * (h + padding)
        left = padding + (i % cols) * (w + padding)
        grid[:, top:top + h, left:left + w] = array[i]
    return grid


def save_image_grid(path, images, nrow=8, padding=2, value_range=(-1.0, 1.0)):
    """Save (N, C, H, W) images with values in ``value_range`` (default [-1, 1]) as one PNG grid.

    ``nrow`` images per row (torchvision's convention). Values outside the range are clipped.
    Atomic, like every writer here.

        >>> save_image_grid("out/samples_epoch3.png", G(z), nrow=8)
    """
    from PIL import Image
    lo, hi = value_range
    grid = make_grid(images, nrow, padding, pad_value=lo)                  # (C, H', W')
    pixels = np.clip((grid - lo) / (hi - lo), 0.0, 1.0)
    pixels = np.round(pixels * 255).astype(np.uint8).transpose(1, 2, 0)   # (H', W', C)
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    with atomic_write(path) as f:
        image.save(f, format="PNG")


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
