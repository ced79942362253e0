"""Array backends: NumPy on the CPU, CuPy on the GPU.

This is the only module that imports CuPy. Everything else asks it which array module an array belongs
to (`get_array_module`) and where a device string points (`parse_device`).

    >>> from minigan.backend import get_array_module, parse_device
    >>> parse_device("cpu")
    'cpu'
"""
import os

import numpy as np

try:  # CuPy is optional (the `gpu` extra); a broken install counts as absent.
    import cupy as cp
    cupy_available = True
except Exception:  # pragma: no cover - depends on the machine
    cp = None
    cupy_available = False

DEVICES = ("cpu", "cuda", "auto")


def gpu_available():
    """True when CuPy imports and sees at least one CUDA device."""
    if not cupy_available:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover - no driver
        return False


def default_device():
    """The device used when none is given: `MINIGAN_DEVICE` if set, else "cpu"."""
    return parse_device(os.environ.get("MINIGAN_DEVICE", "cpu"))


def parse_device(device=None):
    """Turn "cpu", "cuda", "cuda:0", "auto" or None into "cpu" or "cuda"."""
    if device is None:
        return default_device()
    name = str(device).lower()
    if name.startswith("cuda:"):
        name = "cuda"
    if name not in DEVICES:
        raise ValueError(f"device: expected one of 'cpu', 'cuda', 'auto', got {device!r}")
    if name == "auto":
        return "cuda" if gpu_available() else "cpu"
    if name == "cuda" and not gpu_available():
        why = "CuPy is not installed (pip install 'minigan[gpu]')" if not cupy_available else \
            "CuPy sees no CUDA device"
        raise RuntimeError(f"device: 'cuda' was requested but {why}")
    return name


def is_cupy_array(array):
    return cp is not None and isinstance(array, cp.ndarray)


def get_array_module(x):
    """numpy or cupy, whichever holds `x` (an array or a Tensor, whose `.array` is one)."""
    # `x` itself first, then a Tensor's raw array
    return cp if is_cupy_array(x) or is_cupy_array(getattr(x, "array", None)) else np


def device_of(array):
    """"cuda" for a CuPy array, "cpu" otherwise."""
    return "cuda" if is_cupy_array(array) else "cpu"


def to_device(array, device):
    """Return `array` on `device` ("cpu" or "cuda"), copying only when it has to move."""
    device = parse_device(device)
    if device == "cpu":
        return cp.asnumpy(array) if is_cupy_array(array) else np.asarray(array)
    return cp.asarray(array)
