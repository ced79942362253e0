"""Tensor: an n-d array (NumPy or CuPy) with an optional gradient and the node that made it.

    >>> import minigan as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy().tolist()
    [[2.0, 4.0], [6.0, 8.0]]

Operators and methods build the graph through the Functions in `ops.py`; `backward()` runs the
engine in `function.py`.
"""
import numpy as np

from .. import backend
from .function import is_grad_enabled, run_backward


def _as_array(data, dtype=None, device=None):
    """Array on `device` from a Tensor, array, scalar or nested list; Python floats become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if device is None:
        device = backend.device_of(data) if hasattr(data, "shape") else backend.default_device()
    device = backend.parse_device(device)
    xp = backend.cp if device == "cuda" else np
    if not hasattr(data, "dtype") and dtype is None:
        data = np.asarray(data)
        if data.dtype == np.float64:  # Python floats: PyTorch's default float32
            data = data.astype(np.float32)
    array = backend.to_device(data, device) if device == "cpu" or hasattr(data, "shape") \
        else xp.asarray(data)
    if dtype is not None and array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
    return array


class Tensor:
    """An array with autograd. Build one with `mg.tensor(...)`; see the module docstring."""
    __slots__ = ("data", "grad", "requires_grad", "_node", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's operators

    def __init__(self, data, requires_grad=False):
        self.data = data if hasattr(data, "dtype") and hasattr(data, "shape") else _as_array(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._retains_grad = False

    # ----- facts -----
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = ", device='cuda'" if self.device == "cuda" else ""
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        return f"tensor({body}{dev}{grad})"

    # ----- conversion -----
    def numpy(self):
        """The values as a NumPy array (copied from the GPU if needed)."""
        return backend.to_device(self.data, "cpu")

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): expected a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def to(self, target=None, dtype=None):
        """Move to a device ("cpu"/"cuda"/"auto") and/or cast to a dtype; differentiable."""
        from . import ops
        out = self
        if target is not None and not isinstance(target, str):
            target, dtype = None, target
        if target is not None and backend.parse_device(target) != self.device:
            out = ops.ToDevice.apply(out, backend.parse_device(target))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = ops.Cast.apply(out, np.dtype(dtype))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ----- autograd -----
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`; `gradient` defaults to 1 for scalars."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(was it computed under no_grad, or from tensors without requires_grad?)")
        xp = backend.get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for a scalar "
                                   f"output, got shape {self.shape}; pass gradient=")
            grad = xp.ones_like(self.data)
        else:
            grad = _as_array(gradient, dtype=self.dtype, device=self.device)
            if grad.shape != self.data.shape:
                raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)}, expected "
                                   f"{self.shape}")
        if self._node is None:
            from .function import _accumulate_leaf
            _accumulate_leaf(self, grad)
            return
        run_backward(self, grad, retain_graph)

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward."""
        self._retains_grad = True

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    # ----- in place (no graph; used by optimizers and init) -----
    def _check_inplace(self, name):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place "
                               f"outside mg.no_grad()")

    def zero_(self):
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src):
        self._check_inplace("copy_")
        src = _as_array(src, device=self.device)
        if tuple(src.shape) != self.shape:
            raise ValueError(f"copy_: src has shape {tuple(src.shape)}, expected {self.shape}")
        self.data[...] = src
        return self

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        self.data[_unwrap_index(index)] = value.data if isinstance(value, Tensor) else value


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


from . import ops  # noqa: E402  (attaches operators and methods to Tensor)
