"""Tensor: an n-d array (NumPy or CuPy) with an optional gradient and the node that made it.

    >>> import minigan as mg
    >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy().tolist()
    [[2.0, 4.0], [6.0, 8.0]]

Operators and methods build the graph through the Functions in `ops.py` and `shape.py`;
`backward()` runs the engine in `function.py`. The in-place methods (`fill_`, `clamp_`, `t[i] = v`)
change the array without a graph; they live in tensor_array.py with the other methods that only
read or write the array (shape, dtype, numpy(), comparisons).

`t.array` is the raw NumPy or CuPy array (no copy): what the Functions and kernels work on. `t.data`
is PyTorch's: a Tensor sharing that array and its version counter, requires_grad=False, no graph, so
`p.data.clamp_(-c, c)` or `nn.init.normal_(p.data)` changes `p` itself (docs/nn.md).
"""
import numpy as np

from .. import backend
from . import function, tensor_array
from .function import run_backward
from .tensor_array import ArrayMethods, _unwrap_index

# torch's type() names
_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
               np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor",
               np.dtype(np.bool_): "BoolTensor", np.dtype(np.uint8): "ByteTensor"}


def _as_array(data, dtype=None, device=None):
    """Array on `device` from a Tensor, array, scalar or nested list; Python floats become float32."""
    if isinstance(data, Tensor):
        data = data.array
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


class Tensor(ArrayMethods):
    """An array with autograd. Build one with `mg.tensor(...)`; see the module docstring."""
    __slots__ = ("array", "grad", "_requires_grad", "_node", "_retains_grad", "_counter",
                 "__weakref__")
    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's operators

    def __init__(self, data, requires_grad=False):
        self.array = data if isinstance(data, np.ndarray) or not isinstance(data, Tensor) and \
            hasattr(data, "dtype") and hasattr(data, "shape") else _as_array(data)
        self.grad = None
        self._node = None
        self._retains_grad = False
        self._counter = [0]        # the version: bumped by every in-place change, shared by views
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @property
    def _version(self):
        """How many in-place changes this storage has seen; saved tensors check it."""
        return self._counter[0]

    @_version.setter
    def _version(self, value):
        self._counter[0] = value

    def _view(self):
        """A new Tensor on the same array and version counter, outside the graph."""
        out = Tensor(self.array)
        out._counter = self._counter
        return out

    @property
    def data(self):
        """PyTorch's `.data`: this tensor's array as a Tensor with requires_grad=False and no graph.

        It shares the array and the version counter, so `p.data.clamp_(-c, c)` changes p in place
        (and a graph that saved p then refuses to backward). The raw array is `.array`.
        """
        return self._view()

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value.array
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            raise TypeError(f"data: expected a Tensor or an array, got {type(value).__name__}")
        self.array = value

    # ----- facts (the array's own: shape, dtype, device, ... in tensor_array.py) -----
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node)

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad: only floating point tensors can require gradients, "
                               f"got dtype {self.array.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad: you can only change requires_grad of leaf tensors; "
                               "use detach() to cut a computed tensor from the graph")
        self._requires_grad = bool(flag)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = ", device='cuda'" if self.device == "cuda" else ""
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        return f"tensor({body}{dev}{grad})"

    # ----- conversion -----
    def clone(self):
        """A copy of the data that stays in the graph: change the copy in place, not a saved tensor."""
        return ops.Clone.apply(self)

    def detach(self):
        """The same array, cut from the graph; like torch, it shares the version counter."""
        return self._view()

    def contiguous(self):
        """self if the array is C-contiguous, else a contiguous copy (in the graph)."""
        return self if self.array.flags.c_contiguous else self.clone()

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

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def type(self, dtype=None):
        """Without an argument the type's name ("minigan.FloatTensor"); else `to(dtype)`.

        dtype: a NumPy dtype or name ("float32"), torch's names ("torch.FloatTensor"), or a legacy
        type (mg.FloatTensor, mg.cuda.FloatTensor: its device too).
        """
        if dtype is None:
            return "minigan." + _TYPE_NAMES.get(self.dtype, str(self.dtype))
        if isinstance(getattr(dtype, "device", None), str):         # a legacy type, e.g. mg.cuda.FloatTensor
            return self.to(dtype.device, dtype.dtype)
        if dtype is Tensor:                                          # torch: the default type, float32
            dtype = np.float32
        if isinstance(dtype, str) and dtype.split(".")[-1] in _TYPE_NAMES.values():
            names = {v: k for k, v in _TYPE_NAMES.items()}
            dtype = names[dtype.split(".")[-1]]
        return self.to(np.dtype(dtype))

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

    def amin(self, dim=None, keepdim=False):
        return -shape.Amax.apply(-self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        """Without `dim`: the largest value (ties share the gradient). With `dim`: a named tuple
        (values, indices), the gradient going to the index picked, like torch.max. With a Tensor:
        the elementwise maximum."""
        if isinstance(dim, Tensor):
            return ops.Where.apply(self.array >= dim.array, self, dim)
        if dim is None:
            return shape.Amax.apply(self, None, keepdim)
        return shape.values_and_indices(self, self.argmax(dim, keepdim=True), dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """As `max`, for the smallest value."""
        if isinstance(dim, Tensor):
            return ops.Where.apply(self.array <= dim.array, self, dim)
        if dim is None:
            return self.amin(None, keepdim)
        return shape.values_and_indices(self, self.argmin(dim, keepdim=True), dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index (int64) of the largest value along `dim`, or in the flattened tensor."""
        return Tensor(shape.arg_extreme(self.array, "argmax", dim, keepdim))

    def argmin(self, dim=None, keepdim=False):
        return Tensor(shape.arg_extreme(self.array, "argmin", dim, keepdim))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance over `dim`: sum((x - mean)^2) / (n - correction); correction 1 (unbiased, the
        default, as torch) or 0 (unbiased=False)."""
        return shape.Var.apply(self, dim, keepdim, shape.correction(unbiased, correction))

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Standard deviation: var(...).sqrt(), unbiased by default like torch."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def masked_fill(self, mask, value):
        """`value` where the boolean `mask` (broadcastable) is True, self elsewhere."""
        mask = mask.array if isinstance(mask, Tensor) else mask
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
        return ops.Where.apply(mask, value, self)

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
    xp = backend.get_array_module(output.array)
    if gradient is None:
        if output.array.size != 1:
            raise RuntimeError(f"{fn}: grad can be implicitly created only for a scalar output, got "
                               f"shape {output.shape}; pass the gradient explicitly")
        return Tensor(xp.ones_like(output.array))
    grad = gradient if isinstance(gradient, Tensor) else \
        Tensor(_as_array(gradient, dtype=output.dtype, device=output.device))
    if grad.shape != output.shape:
        raise RuntimeError(f"{fn}: gradient has shape {grad.shape}, expected {output.shape}")
    return grad


function.Tensor = Tensor     # for the engine, which cannot import this module (it is imported by it)
tensor_array.Tensor = Tensor  # for the comparisons, which make plain Tensors
from . import ops, shape  # noqa: E402  (the Functions behind the operators; they import Tensor)
