"""Tensor: an n-d array (NumPy or CuPy) with an optional gradient and the node that made it.

    >>> import minigan as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy().tolist()
    [[2.0, 4.0], [6.0, 8.0]]

Operators and methods build the graph through the Functions in `ops.py` and `shape.py`;
`backward()` runs the engine in `function.py`.
"""
import numpy as np

from .. import backend
from . import function
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


def _shape_args(shape):
    """(2, 3) from either f(2, 3) or f((2, 3))."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


class Tensor:
    """An array with autograd. Build one with `mg.tensor(...)`; see the module docstring."""
    __slots__ = ("data", "grad", "_requires_grad", "_node", "_retains_grad", "_version",
                 "__weakref__")
    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's operators

    def __init__(self, data, requires_grad=False):
        self.data = data if isinstance(data, np.ndarray) or hasattr(data, "dtype") and \
            hasattr(data, "shape") else _as_array(data)
        self.grad = None
        self._node = None
        self._retains_grad = False
        self._version = 0          # bumped by every in-place change; saved tensors check it
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # ----- facts -----
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node)

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad: only floating point tensors can require gradients, "
                               f"got dtype {self.data.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad: you can only change requires_grad of leaf tensors; "
                               "use detach() to cut a computed tensor from the graph")
        self._requires_grad = bool(flag)

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

    def clone(self):
        """A copy of the data that stays in the graph: change the copy in place, not a saved tensor."""
        return ops.Clone.apply(self)

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def to(self, target=None, dtype=None):
        """Move to a device ("cpu"/"cuda"/"auto") and/or cast to a dtype; differentiable."""
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
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (PyTorch's semantics).

        gradient: d(loss)/d(self), defaults to 1 for a scalar. create_graph=True records the backward
        pass, so the gradients can be differentiated again; retain_graph defaults to create_graph.
        inputs: accumulate into these tensors' `.grad` only.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(was it computed under no_grad, or from tensors without requires_grad?)")
        grad = _initial_grad(self, gradient, "backward")
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        run_backward([self], [grad], create_graph if retain_graph is None else retain_graph,
                     create_graph, inputs)

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward."""
        self._retains_grad = True

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    # ----- in place (no graph; used by optimizers and init) -----
    def _check_inplace(self, name):
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place "
                               f"outside mg.no_grad()")
        self._version += 1

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

    # ----- arithmetic (ops.py) -----
    def _other(self, other):
        """An array operand as a constant Tensor on this tensor's device; Tensors and scalars as they are."""
        if not isinstance(other, Tensor) and hasattr(other, "shape"):
            return Tensor(_as_array(other, device=self.device))
        return other

    def __add__(self, other):
        return ops.Add.apply(self, self._other(other))

    def __radd__(self, other):
        return ops.Add.apply(self._other(other), self) if isinstance(self._other(other), Tensor) \
            else ops.Add.apply(self, other)

    def __sub__(self, other):
        return ops.Sub.apply(self, self._other(other))

    def __rsub__(self, other):
        return ops.Neg.apply(self) + other

    def __mul__(self, other):
        return ops.Mul.apply(self, self._other(other))

    def __rmul__(self, other):
        return ops.Mul.apply(self._other(other), self) if isinstance(self._other(other), Tensor) \
            else ops.Mul.apply(self, other)

    def __truediv__(self, other):
        return ops.Div.apply(self, self._other(other))

    def __rtruediv__(self, other):
        return ops.Pow.apply(self, -1.0) * other

    def __pow__(self, other):
        return ops.Pow.apply(self, self._other(other))

    def __rpow__(self, other):
        if isinstance(other, Tensor) or hasattr(other, "shape"):
            return ops.Pow.apply(self._other(other), self)
        return ops.RPow.apply(self, other)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, self._other(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(self._other(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    add, sub, mul, div, pow, matmul, neg = (__add__, __sub__, __mul__, __truediv__, __pow__,
                                            __matmul__, __neg__)

    # ----- comparisons: plain boolean tensors, no graph -----
    def _compare(self, other, fn):
        return Tensor(fn(self.data, other.data if isinstance(other, Tensor) else other))

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

    # ----- elementwise math (ops.py) -----
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def relu(self):
        return ops.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        return ops.Clamp.apply(self, min, max)

    # ----- reductions (shape.py) -----
    def sum(self, dim=None, keepdim=False):
        return shape.Sum.apply(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return shape.Mean.apply(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return shape.Amax.apply(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        """Without `dim`: the largest value. With `dim`: (values, indices), like torch.max."""
        if dim is None:
            return shape.Amax.apply(self, None, keepdim)
        indices = self.data.argmax(axis=dim)
        if keepdim:
            indices = backend.get_array_module(self.data).expand_dims(indices, dim)
        return shape.Amax.apply(self, dim, keepdim), Tensor(indices)

    def var(self, dim=None, keepdim=False, unbiased=True):
        return shape.Var.apply(self, dim, keepdim, 1 if unbiased else 0)

    # ----- shape (shape.py) -----
    def reshape(self, *shape_):
        return shape.Reshape.apply(self, _shape_args(shape_))

    view = reshape

    def permute(self, *dims):
        return shape.Permute.apply(self, tuple(d % self.ndim for d in _shape_args(dims)))

    def transpose(self, dim0, dim1):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return shape.Permute.apply(self, tuple(dims))

    @property
    def T(self):
        return shape.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        end = end_dim % self.ndim
        return shape.Reshape.apply(self, self.shape[:start_dim] + (-1,) + self.shape[end + 1:])

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return shape.Reshape.apply(self, self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            new = tuple(n for n in self.shape if n != 1)
        else:
            dim = dim % self.ndim
            new = self.shape[:dim] + self.shape[dim + 1:] if self.shape[dim] == 1 else self.shape
        return shape.Reshape.apply(self, new)

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        old = (None,) * (len(sizes) - self.ndim) + self.shape
        return shape.Expand.apply(self, tuple(o if n == -1 else n for n, o in zip(sizes, old)))

    def __getitem__(self, index):
        return shape.GetItem.apply(self, _unwrap_index(index))


def _initial_grad(output, gradient, fn):
    """The gradient to start from: ones for a scalar, or `gradient` checked against the output."""
    xp = backend.get_array_module(output.data)
    if gradient is None:
        if output.data.size != 1:
            raise RuntimeError(f"{fn}: grad can be implicitly created only for a scalar output, got "
                               f"shape {output.shape}; pass the gradient explicitly")
        return Tensor(xp.ones_like(output.data))
    grad = gradient if isinstance(gradient, Tensor) else \
        Tensor(_as_array(gradient, dtype=output.dtype, device=output.device))
    if grad.shape != output.shape:
        raise RuntimeError(f"{fn}: gradient has shape {grad.shape}, expected {output.shape}")
    return grad


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


function.Tensor = Tensor     # for the engine, which cannot import this module (it is imported by it)
from . import ops, shape  # noqa: E402  (the Functions behind the operators; they import Tensor)
