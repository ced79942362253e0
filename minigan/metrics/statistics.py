"""Statistics files (mu and sigma of a set's features) and the per-folder cache.

A statistics file is what pytorch-fid's ``--save-stats`` writes, as safetensors: tensors ``mu``
(D,) and ``sigma`` (D, D), float64, written with ``mg.save`` (atomically), so
``safetensors.numpy.load_file`` reads it too. Read back: that format, any safetensors file with
``mu`` and ``sigma``, and pytorch-fid's own ``.npz`` files.

The cache keeps one such file per image folder, in ``<cache>/fid-stats/`` (``cache_dir()``:
``$MINIGAN_CACHE``, else ``~/.cache/minigan``), named by a hash of the folder's path. The file
also holds the key it was made for: a hash of the folder's image files (names, sizes,
modification times), of the network (its weights' bytes and input settings) and of the
settings, so a changed folder or other weights is measured again, never reused. When KID or IS
asked for them, the entry also keeps the features and logits (float32; 12 KB an image).

    >>> save_statistics("real.safetensors", mu, sigma)
    >>> load_statistics("real.safetensors")["sigma"].shape
    (2048, 2048)
"""
import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from ..utils.cache import cache_dir
from ..serialization import CheckpointError, read_file, save

CACHE_VERSION = 1          # bump when what a cache entry means changes
CACHE_FOLDER = "fid-stats"


def save_statistics(path, mu, sigma, **extra):
    """Write ``mu`` (D,) and ``sigma`` (D, D) (and ``extra`` arrays, numbers or strings) to a
    safetensors file, atomically."""
    save({"mu": np.asarray(mu, np.float64), "sigma": np.asarray(sigma, np.float64), **extra},
         os.fspath(path))


def _read_npz(path):
    """pytorch-fid's ``np.savez_compressed(path, mu=..., sigma=...)`` files (no pickle)."""
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def load_statistics(path):
    """The statistics in a file: a dict with float64 ``mu`` (D,) and ``sigma`` (D, D), and the
    ``features`` / ``logits`` arrays when the file holds them.

    Raises FileNotFoundError, or ValueError in one line naming the file when it cannot be read
    or holds no ``mu`` and ``sigma`` of fitting shapes.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no statistics file at {path}")
    try:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
        content = _read_npz(path) if zipped else read_file(path, "load_statistics")
    except CheckpointError as e:
        raise ValueError(f"cannot read statistics file {path}: it is not a safetensors or .npz "
                         f"file of mu and sigma ({e})") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"cannot read statistics file {path}: {type(e).__name__}: {e}") from None
    if not isinstance(content, dict) or "mu" not in content or "sigma" not in content:
        found = ", ".join(sorted(map(str, content))) if isinstance(content, dict) else "no dict"
        raise ValueError(f"statistics file {path} holds no 'mu' and 'sigma' (it has: {found})")
    mu = np.asarray(content["mu"], np.float64)
    sigma = np.asarray(content["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise ValueError(f"statistics file {path}: expected mu (D,) and sigma (D, D), got "
                         f"{mu.shape} and {sigma.shape}")
    stats = {"mu": mu, "sigma": sigma}
    for name in ("features", "logits", "key"):
        if name in content:
            stats[name] = content[name]
    return stats


# ---------------------------------------------------------------- the per-folder cache
def files_digest(paths):
    """A hash of the files' names, sizes and modification times (nanoseconds)."""
    h = hashlib.blake2b(digest_size=12)
    for path in paths:
        info = os.stat(path)
        h.update(f"{os.path.basename(path)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_key(paths, model_digest, **settings):
    """The key a folder's cache entry must carry to be reused."""
    text = json.dumps({"version": CACHE_VERSION, "files": files_digest(paths),
                       "model": model_digest, **settings}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def cache_file(folder, cache=None):
    """Where ``folder``'s entry lives (None when ``cache`` is False: no cache)."""
    if cache is False:
        return None
    root = cache_dir() if cache is None or cache is True else os.fspath(cache)
    name = hashlib.blake2b(os.path.abspath(folder).encode(), digest_size=10).hexdigest()
    return os.path.join(root, CACHE_FOLDER, f"{name}.safetensors")


def read_cached(path, key, need=()):
    """The entry at ``path`` if it was made for ``key`` and holds every name in ``need``
    ("features", "logits"), else None (a missing or unreadable entry is simply remade)."""
    if path is None or not os.path.isfile(path):
        return None
    try:
        stats = load_statistics(path)
    except (OSError, ValueError):
        return None
    if str(stats.get("key")) != key or any(name not in stats for name in need):
        return None
    return stats


def write_cached(path, key, stats):
    """Store ``stats`` (mu, sigma, and features / logits when present) as ``key``'s entry; a
    cache that cannot be written gives a warning, not an error."""
    if path is None:
        return
    extra = {name: np.asarray(stats[name], np.float32) for name in ("features", "logits")
             if name in stats}
    try:
        save_statistics(path, stats["mu"], stats["sigma"], key=key, **extra)
    except OSError as e:
        warnings.warn(f"the statistics cache {path} cannot be written ({e}); going on without "
                      f"it", RuntimeWarning, stacklevel=2)
