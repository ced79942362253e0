"""Tensor's methods that only read or write its array and record no graph: the array's facts
(shape, dtype, device), copies to the host (numpy, item, `np.asarray(t)`), comparisons (plain bool
tensors), and in-place changes. Tensor (tensor.py) inherits them and adds everything that builds
a graph.

minigan records no in-place ops, so the in-place ones are for tensors outside the graph: initialisation,
optimizer-style updates, buffers, and the `.data` idioms PyTorch code uses:

    >>> import minigan as mg
    >>> w = mg.nn.Parameter(mg.randn(3, 3))
    >>> w.data.normal_(0.0, 0.02)          # DCGAN's init, on w's own array
    >>> w.data.clamp_(-0.01, 0.01)         # WGAN's weight clipping

Every change bumps the version counter that the array's views share (`.data`, `detach()`), so a
graph that saved the tensor refuses to backward afterwards instead of computing with the new values.
A leaf that requires grad can only be changed outside the graph: through `.data` or in `mg.no_grad()`.
The augmented operators (`t += 1`) are in place like torch's when no graph is being recorded through
them, and out of place (a new tensor, as before) when one is.
"""
import numpy as np

from .. import backend
from .. import random as mg_random
from .function import is_grad_enabled


def _operand(value, device):
    """A Tensor's array or an array moved to `device`; Python numbers as they are."""
    if isinstance(value, ArrayMethods):               # a Tensor
        return value.array
    if hasattr(value, "shape"):
        return backend.to_device(value, device)
    return value


Tensor = None        # tensor.py sets it: the comparisons make Tensors


class ArrayMethods:
    """Tensor's base (tensor.py): the methods that read or write `self.array` directly."""
    __slots__ = ()

    # ----- facts -----
    shape = property(lambda self: tuple(self.array.shape))
    ndim = property(lambda self: self.array.ndim)
    dtype = property(lambda self: self.array.dtype)
    device = property(lambda self: backend.device_of(self.array))
    is_cuda = property(lambda self: backend.is_cupy_array(self.array))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.array.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        return self.shape[0]

    # ----- to the host -----
    def numpy(self):
        """The values as a NumPy array (copied from the GPU if needed)."""
        return backend.to_device(self.array, "cpu")

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): expected a tensor with one element, got shape {self.shape}")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        """`np.asarray(t)`: the values as a NumPy array (a copy only from the GPU or to cast)."""
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # ----- comparisons: plain boolean tensors, no graph -----
    def _compare(self, other, fn):
        return Tensor(fn(self.array, other.array if isinstance(other, Tensor) else other))

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    __hash__ = object.__hash__

    # ----- in place -----

    def _check_inplace(self, name):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place "
                               f"outside mg.no_grad(); change its .data instead")
        self._version += 1

    def _write(self, name, values):
        """self.array[...] = values (cast to self's dtype), after the checks."""
        self._check_inplace(name)
        self.array[...] = values
        return self

    def zero_(self):
        return self._write("zero_", 0)

    def fill_(self, value):
        return self._write("fill_", _operand(value, self.device))

    def copy_(self, src):
        """Copy `src` (a Tensor, array or nested list of the same shape) into self."""
        if not hasattr(src, "shape"):
            src = np.asarray(src)
        if tuple(src.shape) != self.shape:
            raise ValueError(f"copy_: src has shape {tuple(src.shape)}, expected {self.shape}")
        return self._write("copy_", _operand(src, self.device))

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        self.array[_unwrap_index(index)] = _operand(value, self.device)

    def clamp_(self, min=None, max=None):
        """Clip the values to [min, max] in place (either bound may be None)."""
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        self._check_inplace("clamp_")
        xp = backend.get_array_module(self.array)
        xp.clip(self.array, min, max, out=self.array)
        return self

    clip_ = clamp_

    def relu_(self):
        """max(x, 0) in place (NaN stays NaN), for tensors outside a graph: inference passes, where
        torch models use ReLU(inplace=True) to skip a fresh output array and its page faults."""
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("relu_: minigan records no graph for in-place ReLU; use relu() on a "
                               "tensor that requires grad, or run under mg.no_grad()")
        self._check_inplace("relu_")
        backend.get_array_module(self.array).maximum(self.array, 0, out=self.array)
        return self

    def _arithmetic(self, name, result):
        """Write an arithmetic result in place; a float result into an integer tensor is an error
        (as torch), not a silent truncation."""
        if self.dtype.kind in "iub" and result.dtype.kind in "fc":
            raise TypeError(f"{name}: the result has dtype {result.dtype}, which cannot be cast to "
                            f"this tensor's dtype {self.dtype} in place")
        return self._write(name, result)

    def add_(self, other, alpha=1):
        """self += alpha * other, in place."""
        other = _operand(other, self.device)
        return self._arithmetic("add_", self.array + (other if alpha == 1 else alpha * other))

    def sub_(self, other, alpha=1):
        other = _operand(other, self.device)
        return self._arithmetic("sub_", self.array - (other if alpha == 1 else alpha * other))

    def mul_(self, other):
        return self._arithmetic("mul_", self.array * _operand(other, self.device))

    def div_(self, other):
        return self._arithmetic("div_", self.array / _operand(other, self.device))

    def masked_fill_(self, mask, value):
        """Set the elements where the boolean `mask` is True to `value`, in place."""
        mask = _operand(mask, self.device)
        xp = backend.get_array_module(self.array)
        return self._write("masked_fill_", xp.where(mask, _operand(value, self.device), self.array))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with N(mean, std^2) drawn on the host from minigan's generator (or `generator`)."""
        rng = mg_random.generator() if generator is None else generator
        return self._write("normal_", backend.to_device(rng.normal(mean, std, self.shape),
                                                        self.device))

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fill with U(a, b) drawn on the host from minigan's generator (or `generator`)."""
        rng = mg_random.generator() if generator is None else generator
        return self._write("uniform_", backend.to_device(rng.uniform(a, b, self.shape), self.device))

    # ----- augmented assignment: in place when no graph records it, else a new tensor
    def _records(self, other):
        return is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False))

    def __iadd__(self, other):
        return self + other if self._records(other) else self.add_(other)

    def __isub__(self, other):
        return self - other if self._records(other) else self.sub_(other)

    def __imul__(self, other):
        return self * other if self._records(other) else self.mul_(other)

    def __itruediv__(self, other):
        return self / other if self._records(other) else self.div_(other)


def _unwrap_index(index):
    """An index with its Tensors replaced by their arrays (for getitem and setitem)."""
    if isinstance(index, ArrayMethods):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, ArrayMethods) else i for i in index)
    return index
