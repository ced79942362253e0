"""Tensor creation functions, joining ops, and the operators and methods attached to `Tensor`."""
import numpy as np

from .. import backend
from .. import random as mg_random
from . import ops
from .tensor import Tensor, _as_array, _unwrap_index


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor; Python floats become float32, NumPy arrays keep their dtype.

    >>> tensor([1.0, 2.0], requires_grad=True).shape
    (2,)
    """
    return Tensor(_as_array(data, dtype, device), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _filled(fill, shape, dtype, device, requires_grad):
    device = backend.parse_device(device)
    xp = backend.cp if device == "cuda" else np
    data = xp.full(_shape(shape), fill, dtype=np.float32 if dtype is None else dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(fill_value, tuple(shape), dtype, device, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def _random(draw, shape, dtype, device, requires_grad):
    """Draw on the host from the global generator (same numbers on every device), then move."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    data = draw(mg_random.generator(), _shape(shape), np.float64 if dtype == np.float64
                else np.float32).astype(dtype, copy=False)
    return Tensor(_as_array(data, device=device or backend.default_device()),
                  requires_grad=requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the global generator (`mg.manual_seed`)."""
    return _random(lambda g, s, dt: g.standard_normal(s, dtype=dt), shape, dtype, device,
                   requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples from the global generator."""
    return _random(lambda g, s, dt: g.random(s, dtype=dt), shape, dtype, device, requires_grad)


def randint(low, high, size, device=None):
    data = mg_random.generator().integers(low, high, size=size, dtype=np.int64)
    return Tensor(_as_array(data, device=device or backend.default_device()))


def cat(tensors, dim=0):
    """Concatenate along an existing dimension (torch.cat)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    dim = dim % tensors[0].ndim
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != tensors[0].ndim or any(a != b for d, (a, b) in
                                            enumerate(zip(t.shape, tensors[0].shape)) if d != dim):
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, which does not match tensor 0's "
                             f"shape {tensors[0].shape} outside dim {dim}")
    return ops.Cat.apply(dim, *tensors)


def stack(tensors, dim=0):
    """Join along a new dimension (torch.stack)."""
    tensors = list(tensors)
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, expected {tensors[0].shape}")
    return ops.Stack.apply(dim % (tensors[0].ndim + 1), *tensors)


def where(condition, input, other):
    """Elementwise `input` where `condition` else `other`."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    return ops.Where.apply(cond, input, other)


# ---------------------------------------------------------------- Tensor operators and methods
def _binary(op, swap=False):
    def method(self, other):
        if not isinstance(other, Tensor) and hasattr(other, "shape"):
            other = Tensor(_as_array(other, device=self.device))
        return op.apply(other, self) if swap else op.apply(self, other)
    return method


def _rsub(self, other):
    return ops.Neg.apply(self) + other


def _rtruediv(self, other):
    return ops.Pow.apply(self, -1.0) * other


def _rpow(self, other):
    if isinstance(other, Tensor):
        return ops.Pow.apply(other, self)
    return ops.RPow.apply(self, other)


def _compare(fn):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(fn(self.data, other))
    return method


def _reshape(self, *shape):
    return ops.Reshape.apply(self, _shape(shape))


def _permute(self, *dims):
    return ops.Permute.apply(self, tuple(d % self.ndim for d in _shape(dims)))


def _transpose(self, dim0, dim1):
    dims = list(range(self.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return ops.Permute.apply(self, tuple(dims))


def _flatten(self, start_dim=0, end_dim=-1):
    end = end_dim % self.ndim
    shape = self.shape[:start_dim] + (-1,) + self.shape[end + 1:]
    return ops.Reshape.apply(self, shape)


def _unsqueeze(self, dim):
    dim = dim % (self.ndim + 1)
    return ops.Reshape.apply(self, self.shape[:dim] + (1,) + self.shape[dim:])


def _squeeze(self, dim=None):
    if dim is None:
        shape = tuple(n for n in self.shape if n != 1)
    else:
        dim = dim % self.ndim
        shape = self.shape[:dim] + self.shape[dim + 1:] if self.shape[dim] == 1 else self.shape
    return ops.Reshape.apply(self, shape)


def _max(self, dim=None, keepdim=False):
    """Without `dim`: the largest value. With `dim`: (values, indices), like torch.max."""
    if dim is None:
        return ops.Amax.apply(self, None, keepdim)
    indices = Tensor(self.data.argmax(axis=dim))
    if keepdim:
        indices = Tensor(backend.get_array_module(self.data).expand_dims(indices.data, dim))
    return ops.Amax.apply(self, dim, keepdim), indices


def _expand(self, *shape):
    shape = tuple(o if n == -1 else n for n, o in
                  zip(_shape(shape), (None,) * (len(_shape(shape)) - self.ndim) + self.shape))
    return ops.Expand.apply(self, shape)


_methods = {
    "__add__": _binary(ops.Add), "__radd__": _binary(ops.Add, swap=True),
    "__sub__": _binary(ops.Sub), "__rsub__": _rsub,
    "__mul__": _binary(ops.Mul), "__rmul__": _binary(ops.Mul, swap=True),
    "__truediv__": _binary(ops.Div), "__rtruediv__": _rtruediv,
    "__pow__": _binary(ops.Pow), "__rpow__": _rpow,
    "__matmul__": _binary(ops.MatMul), "__rmatmul__": _binary(ops.MatMul, swap=True),
    "__neg__": lambda self: ops.Neg.apply(self),
    "__getitem__": lambda self, index: ops.GetItem.apply(self, _unwrap_index(index)),
    "__lt__": _compare(lambda a, b: a < b), "__le__": _compare(lambda a, b: a <= b),
    "__gt__": _compare(lambda a, b: a > b), "__ge__": _compare(lambda a, b: a >= b),
    "__eq__": _compare(lambda a, b: a == b), "__ne__": _compare(lambda a, b: a != b),
    "__hash__": object.__hash__,
    "add": _binary(ops.Add), "sub": _binary(ops.Sub), "mul": _binary(ops.Mul),
    "div": _binary(ops.Div), "pow": _binary(ops.Pow), "matmul": _binary(ops.MatMul),
    "neg": lambda self: ops.Neg.apply(self),
    "exp": lambda self: ops.Exp.apply(self), "log": lambda self: ops.Log.apply(self),
    "sqrt": lambda self: ops.Sqrt.apply(self), "abs": lambda self: ops.Abs.apply(self),
    "tanh": lambda self: ops.Tanh.apply(self), "sigmoid": lambda self: ops.Sigmoid.apply(self),
    "relu": lambda self: ops.ReLU.apply(self),
    "clamp": lambda self, min=None, max=None: ops.Clamp.apply(self, min, max),
    "sum": lambda self, dim=None, keepdim=False: ops.Sum.apply(self, dim, keepdim),
    "mean": lambda self, dim=None, keepdim=False: ops.Mean.apply(self, dim, keepdim),
    "amax": lambda self, dim=None, keepdim=False: ops.Amax.apply(self, dim, keepdim),
    "max": _max,
    "var": lambda self, dim=None, keepdim=False, unbiased=True:
        ops.Var.apply(self, dim, keepdim, 1 if unbiased else 0),
    "reshape": _reshape, "view": _reshape, "permute": _permute, "transpose": _transpose,
    "flatten": _flatten, "unsqueeze": _unsqueeze, "squeeze": _squeeze, "expand": _expand,
    "T": property(lambda self: ops.Permute.apply(self, tuple(reversed(range(self.ndim))))),
}
for _name, _fn in _methods.items():
    setattr(Tensor, _name, _fn)
