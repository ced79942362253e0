"""``mg.save`` / ``mg.load`` and the checkpoint format: safetensors, plus JSON for everything else.

One file format serves model weights (``mg.save(G.state_dict(), "G.safetensors")``) and training
checkpoints (``minigan.io.save_checkpoint``): a safetensors file, written through the ``safetensors``
package's NumPy API. It holds

- every array leaf of the saved object as a tensor. A flat state dict keeps its keys as they are,
  so ``safetensors.torch.load_file(path)`` feeds straight into a torch module's
  ``load_state_dict``. Nested leaves are named by their key path (``"G/0.weight"``);
- in the safetensors ``__metadata__`` string map: ``format`` ("minigan"), ``version`` ("2"),
  ``tree`` (JSON of the object with each array replaced by ``{"__array__": name}``, tuples as
  ``{"__tuple__": [...]}``, dicts with non-string keys as ``{"__items__": [[k, v], ...]}``) and
  ``crc32`` (of the tensors' bytes, in name order: safetensors itself has no checksum).

A safetensors file from anywhere else (no ``tree``) loads as a flat dict, name -> array. The
checkpoints of minigan 0.1 (``.npz`` with a ``__meta__`` entry) still load, so old runs resume.
Nothing is ever unpickled. The reader bounds what it trusts: safetensors checks its header's
size and every declared tensor against the file's size; the JSON tree here is checked for size
and nesting depth before it is parsed, and the old npz reader checks each array's declared size
against the bytes stored for it. Anything wrong gives ``CheckpointError``, naming the file.

    >>> mg.save({"G": G.state_dict(), "epoch": 3}, "run.safetensors")
    >>> state = mg.load("run.safetensors")          # Tensors, numbers, strings, as saved
    >>> G.load_state_dict(state["G"])
"""
import json
import os
import re
import struct
import zipfile
import zlib

import numpy as np
import safetensors
import safetensors.numpy

from . import backend
from .atomic import atomic_write
from .autograd import Tensor, tensor

FORMAT = "minigan"
VERSION = "2"
LEGACY_FORMAT = "minigan-checkpoint"  # the .npz checkpoints of minigan 0.1
MAX_TREE_CHARS = 64 << 20             # the JSON tree of a checkpoint: at most 64 MiB ...
MAX_TREE_DEPTH = 100                  # ... nested at most this deep
_TAGS = ("__array__", "__tuple__", "__items__")  # JSON objects with these keys encode structure
_META = "__meta__"                    # the legacy npz entry holding the JSON tree
_RESERVED = "__metadata__"            # safetensors' own header key: never a tensor name
_STORABLE = "biuf"                    # dtype kinds safetensors stores: bool, ints, floats


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read: truncated, corrupt, or not a checkpoint."""


class _OtherKind(Exception):
    """A well-formed file of another kind (a plain .npz, a torch pickle): said as it is."""


# ---------------------------------------------------------------- object <-> (tree, arrays)
def as_numpy(value):
    """An ndarray for an array-like leaf (NumPy, CuPy, Tensor), else None."""
    if isinstance(value, np.ndarray):
        return value
    if backend.is_cupy_array(value):
        return backend.to_device(value, "cpu")
    if isinstance(value, Tensor):       # a Tensor or Parameter: its values, on the host
        return value.numpy()
    return None


def _encode(value, key, arrays, caller):
    """JSON-able tree for ``value``; arrays are moved into ``arrays`` under their key path."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.bool_, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    array = as_numpy(value)
    if array is not None:
        if array.dtype.kind not in _STORABLE:
            what = "an object array, which needs pickle" if array.dtype.hasobject else \
                f"of dtype {array.dtype}, which safetensors cannot store"
            raise TypeError(f"{caller}: {key or 'the object'} is {what}; store bool, int or "
                            f"float arrays, numbers, strings or nested dicts instead")
        name, n = key or "array", 1
        while name in arrays or name == _RESERVED:  # "/" in keys can collide with nested paths
            name, n = f"{key}~{n}", n + 1
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)   # little-endian
        arrays[name] = np.require(array, requirements="C")  # (ascontiguousarray makes 0-d 1-d)
        return {"__array__": name}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{key}/{i}" if key else str(i), arrays, caller)
                 for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not any(t in value for t in _TAGS):
            return {k: _encode(v, f"{key}/{k}" if key else k, arrays, caller)
                    for k, v in value.items()}
        return {"__items__": [[_encode(k, f"{key}/key", {}, caller),
                               _encode(v, f"{key}/{k}" if key else str(k), arrays, caller)]
                              for k, v in value.items()]}
    hint = "; save its state_dict() instead" if hasattr(value, "state_dict") else ""
    raise TypeError(f"{caller}: cannot store {key or 'the object'} of type "
                    f"{type(value).__name__}; expected arrays, Tensors, numbers, strings, None, "
                    f"or dicts/lists/tuples of them{hint}")


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


def _checksum(arrays):
    """CRC-32 of the arrays' bytes, in name order, as a decimal string."""
    crc = 0
    for name in sorted(arrays):
        array = np.require(arrays[name], requirements="C")
        if array.size:                                      # (a view: no copy of the bytes)
            crc = zlib.crc32(memoryview(array.reshape(-1)).cast("B"), crc)
    return str(crc)


def to_bytes(obj, caller="save"):
    """The safetensors file for ``obj`` (nested dicts/lists/tuples of arrays and plain values)."""
    arrays = {}
    tree = json.dumps(_encode(obj, "", arrays, caller))
    metadata = {"format": FORMAT, "version": VERSION, "tree": tree, "crc32": _checksum(arrays)}
    return safetensors.numpy.save(arrays, metadata=metadata)


# ---------------------------------------------------------------- reading
def _parse_tree(text):
    """json.loads with the size and nesting depth checked first (no RecursionError, no MemoryError)."""
    if len(text) > MAX_TREE_CHARS:
        raise ValueError(f"its JSON tree is {len(text)} characters, more than {MAX_TREE_CHARS}")
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)   # strings may hold brackets: drop them
    steps = np.frombuffer(brackets.encode("utf-8", "replace"), np.uint8)
    depth = np.cumsum(np.isin(steps, (91, 123)).astype(np.int64)             # "[" "{"
                      - np.isin(steps, (93, 125)).astype(np.int64))          # "]" "}"
    if depth.size and depth.max() > MAX_TREE_DEPTH:
        raise ValueError(f"its JSON tree nests {int(depth.max())} levels deep, more than "
                         f"{MAX_TREE_DEPTH}")
    return json.loads(text)


def _from_safetensors(path):
    """(tree or None, arrays, metadata) of a safetensors file."""
    with safetensors.safe_open(path, framework="np") as f:
        metadata = f.metadata() or {}
        arrays = {name: f.get_tensor(name) for name in f.keys()}
    if metadata.get("format") != FORMAT or "tree" not in metadata:
        return None, arrays, metadata
    if metadata.get("version") != VERSION:
        raise ValueError(f"it is version {metadata.get('version')!r}; this minigan reads {VERSION}")
    if "crc32" in metadata and _checksum(arrays) != metadata["crc32"]:
        raise ValueError("its tensors fail the CRC-32 check (the file is corrupt)")
    return _parse_tree(metadata["tree"]), arrays, metadata


def _from_legacy_npz(path):
    """(tree, arrays) of a minigan 0.1 checkpoint (uncompressed .npz with a ``__meta__`` entry)."""
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as z:
        members = z.infolist()
        names = {m.filename[:-4] for m in members if m.filename.endswith(".npy")}
        if _META not in names:
            raise _OtherKind(f"an .npz file but not a minigan checkpoint (no {_META!r} entry)")
        for m in members:  # declared sizes vs stored bytes, before anything is allocated
            if m.compress_type != zipfile.ZIP_STORED or m.file_size != m.compress_size \
                    or m.header_offset + m.compress_size > size:
                raise ValueError(f"entry {m.filename!r} is compressed or larger than the file")
            with z.open(m) as member:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"entry {m.filename!r} is .npy version {version}")
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
                need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if dtype.hasobject or need != m.file_size - member.tell():
                    raise ValueError(f"entry {m.filename!r} declares {shape} {dtype}, which "
                                     f"does not match its {m.file_size} stored bytes")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    header = arrays.pop(_META)
    if header.dtype != np.uint8 or header.ndim != 1:
        raise ValueError("the header is not a byte array")
    meta = _parse_tree(header.tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != LEGACY_FORMAT \
            or meta.get("version") != 1 or "tree" not in meta:
        raise ValueError(f"its header is not a minigan 0.1 checkpoint's ({str(meta)[:80]})")
    return meta["tree"], arrays


def read_file(path, caller="load"):
    """The object saved at ``path``, arrays as NumPy arrays: a minigan safetensors file, any other
    safetensors file (a flat dict, name -> array) or a minigan 0.1 ``.npz`` checkpoint.

    Raises FileNotFoundError for a missing file and ``CheckpointError`` naming the file otherwise.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{caller}: no checkpoint file at {path!r}")
    with open(path, "rb") as f:
        head = f.read(9)
    try:
        if head[:4] == b"PK\x03\x04":
            _reject_torch_pickle(path)
            tree, arrays = _from_legacy_npz(path)
        else:
            if len(head) < 9 or head[8:9] != b"{":
                raise ValueError("it is neither a safetensors file nor a minigan .npz checkpoint")
            tree, arrays, _ = _from_safetensors(path)
            if tree is None:
                return arrays
        return _decode(tree, arrays)
    except _OtherKind as e:
        raise CheckpointError(f"{caller}: {path!r} is {e}") from None
    except (safetensors.SafetensorError, zipfile.BadZipFile, ValueError, OSError, EOFError,
            KeyError, TypeError, UnicodeDecodeError, RecursionError, MemoryError) as e:
        raise CheckpointError(f"{caller}: {path!r} is truncated, corrupt or not a checkpoint "
                              f"and cannot be read ({type(e).__name__}: {e})") from None


def _reject_torch_pickle(path):
    with zipfile.ZipFile(path) as z:
        if any(name.endswith("data.pkl") for name in z.namelist()):
            raise _OtherKind(f"a PyTorch pickle (torch.save) file, which minigan never "
                              f"unpickles; convert it once with: python -m minigan.convert "
                              f"{path} out.safetensors")


# ---------------------------------------------------------------- torch-shaped API
def save(obj, f):
    """Save ``obj`` to ``f`` (a path or a binary file object), like ``torch.save``, as safetensors.

    obj: a Tensor, a state dict, or nested dicts/lists/tuples of Tensors, arrays, numbers,
    strings, booleans and None. A path is written atomically (a crash leaves any earlier file).
    A flat state dict keeps its keys, so torch reads it with ``safetensors.torch.load_file``.

        >>> mg.save(G.state_dict(), "G.safetensors")
    """
    data = to_bytes(obj, "save")
    if hasattr(f, "write"):
        f.write(data)
        return
    with atomic_write(f) as out:
        out.write(data)


def load(f, map_location=None, weights_only=True):
    """Load what ``save`` wrote (or any safetensors file), like ``torch.load``.

    f: a path or a binary file object. Arrays come back as Tensors on ``map_location`` ("cpu",
    "cuda", "auto"; default: the CPU), everything else as saved. Nothing is unpickled, so
    ``weights_only`` is always true. Raises FileNotFoundError or ``CheckpointError``.

        >>> G.load_state_dict(mg.load("G.safetensors"))
    """
    if weights_only is False:
        raise ValueError("load: weights_only=False would need pickle, which minigan never uses; "
                         "save with mg.save (or convert a .pth with python -m minigan.convert)")
    if hasattr(f, "read"):
        obj = _read_bytes(f.read())
    else:
        obj = read_file(f, "load")
    device = backend.parse_device(map_location if map_location is not None else "cpu")
    return _to_tensors(obj, device)


def _read_bytes(data):
    """The object in safetensors bytes (a file object's contents)."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        if length > len(data) - 8:
            raise ValueError(f"the header declares {length} bytes; the data has {len(data)}")
        header = _parse_tree(bytes(data[8:8 + length]).decode("utf-8"))   # bounded first
        metadata = (header.get("__metadata__") if isinstance(header, dict) else None) or {}
        arrays = safetensors.numpy.load(bytes(data))
        if metadata.get("format") != FORMAT or "tree" not in metadata:
            return arrays
        if "crc32" in metadata and _checksum(arrays) != metadata["crc32"]:
            raise ValueError("its tensors fail the CRC-32 check (the data is corrupt)")
        return _decode(_parse_tree(metadata["tree"]), arrays)
    except (safetensors.SafetensorError, ValueError, KeyError, TypeError, AttributeError,
            struct.error, UnicodeDecodeError, RecursionError, MemoryError) as e:
        raise CheckpointError(f"load: the file object does not hold a readable safetensors "
                              f"checkpoint ({type(e).__name__}: {e})") from None


def _to_tensors(obj, device):
    if isinstance(obj, np.ndarray):
        return tensor(obj, device=device)
    if isinstance(obj, dict):
        return {k: _to_tensors(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_to_tensors(v, device) for v in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    return obj

