"""Array kernels behind nn.functional, dispatched on the array type: NumPy -> cpu.py, CuPy -> gpu.py.

Every name below exists with the same signature in `reference` (readable NumPy, the test oracle),
`cpu` (Numba + BLAS) and `gpu` (CuPy). They take and return raw arrays, never Tensors; reference.py
documents the shapes and layouts. A call goes to the GPU module when any argument is a CuPy array.

    >>> import numpy as np
    >>> from minigan import kernels
    >>> kernels.leaky_relu_forward(np.array([-1.0, 2.0]), 0.2)
    array([-0.2,  2. ])
"""
import functools
import importlib

import numpy as np

from .. import backend
from ..backend import is_cupy_array
from . import cpu, cpu_blas

NAMES = (
    "conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward",
    "im2col", "col2im",
    "batch_norm_stats", "batch_norm_apply", "batch_norm_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "binary_cross_entropy_forward", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits_forward", "binary_cross_entropy_with_logits_backward",
    "reflection_pad2d_forward", "reflection_pad2d_backward",
)


@functools.lru_cache(maxsize=None)
def _gpu():
    """The CuPy kernels, imported on first use (importing them needs CuPy)."""
    try:
        return importlib.import_module(".gpu", __name__)
    except ImportError as e:
        raise RuntimeError(f"CuPy arrays were given but the GPU kernels could not be imported: {e}") from e


def module_for(*arrays):
    """cpu, or the gpu module when any of `arrays` is a CuPy array."""
    return _gpu() if any(is_cupy_array(a) for a in arrays) else cpu


def _dispatching(name):
    cpu_fn = getattr(cpu, name)

    @functools.wraps(cpu_fn)
    def call(*args, **kwargs):
        if any(is_cupy_array(a) for a in args):
            return getattr(_gpu(), name)(*args, **kwargs)
        return cpu_fn(*args, **kwargs)
    return call


for _name in NAMES:
    globals()[_name] = _dispatching(_name)
del _name



def matmul(a, b, out=None):
    """a @ b. 2-D NumPy products go through cpu_blas (numpy's BLAS runs on one thread once minigan is
    imported, and cpu_blas splits large products over minigan's own threads); anything else is xp.matmul."""
    if is_cupy_array(a) or is_cupy_array(b) or a.ndim != 2 or b.ndim != 2:
        return backend.get_array_module(a).matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    return cpu_blas.matmul(a, b, out)


__all__ = list(NAMES) + ["matmul", "module_for", "cpu"]
