"""Differentiable ops: one `Function` per op, forward and backward side by side.

Grouped as: arithmetic, elementwise math, reductions, shape, indexing and joining. Every op works on
NumPy and CuPy arrays alike through `xp = get_array_module(x)`. Gradients of broadcasting ops are
returned broadcast-shaped; the engine sums them back to each input's shape (function.sum_to_shape).
"""
import numpy as np

from .. import backend, kernels
from .function import Function

xp_of = backend.get_array_module


def _like(value, array):
    """A Python scalar as an array of `array`'s dtype, so float32 math stays float32."""
    return value if hasattr(value, "shape") else array.dtype.type(value)


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + _like(b, a)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - _like(b, a)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * _like(b, a)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g * _like(b, g) if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / _like(b, a)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / _like(b, g) if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """a ** b for a tensor base and a scalar or tensor exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** _like(b, a)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        b = _like(b, a)
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = g * out * xp_of(a).log(a) if ctx.needs_input_grad[1] else None
        return ga, gb


class RPow(Function):
    """scalar ** tensor."""

    @staticmethod
    def forward(ctx, a, base):
        out = _like(base, a) ** a
        ctx.save_for_backward(out)
        ctx.log_base = np.log(base)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * out.dtype.type(ctx.log_base), None


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both arguments need at least 1 dimension, got shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match: the last "
                f"dimension of input ({a.shape[-1]}) must equal the "
                f"{'second-to-last' if b.ndim > 1 else 'only'} dimension of other "
                f"({b.shape[-2 if b.ndim > 1 else 0]})")
        ctx.save_for_backward(a, b)
        return kernels.matmul(a, b)                    # 2-D: threaded BLAS split (kernels/cpu_blas.py)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = xp_of(g)
        a2 = a[None, :] if a.ndim == 1 else a          # (.., n, k)
        b2 = b[:, None] if b.ndim == 1 else b          # (.., k, m)
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)                # g2: (.., n, m)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = kernels.matmul(g2, xp.swapaxes(b2, -1, -2))   # (.., n, k)
            ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga
        if ctx.needs_input_grad[1]:
            gb = kernels.matmul(xp.swapaxes(a2, -1, -2), g2)   # (.., k, m)
            gb = gb.reshape(gb.shape[:-2] + (gb.shape[-2],)) if b.ndim == 1 else gb
        return ga, gb


# ---------------------------------------------------------------- elementwise math
class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved_tensors[0])


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * xp_of(g).sign(ctx.saved_tensors[0])


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        half = a.dtype.type(0.5)
        out = half * xp_of(a).tanh(half * a) + half    # = 1 / (1 + exp(-a)), without overflow
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] > 0)


class LeakyReLU(Function):
    """Slow-path LeakyReLU from primitives; nn.functional uses the fused kernel."""

    @staticmethod
    def forward(ctx, a, slope):
        ctx.save_for_backward(a)
        ctx.slope = slope
        return xp_of(a).where(a > 0, a, a * a.dtype.type(slope))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return xp_of(g).where(a > 0, g, g * g.dtype.type(ctx.slope)), None


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, low, high):
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        return xp_of(a).clip(a, low, high)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        inside = xp_of(a).ones(a.shape, dtype=bool)
        if ctx.low is not None:
            inside &= a >= ctx.low
        if ctx.high is not None:
            inside &= a <= ctx.high
        return g * inside, None, None


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        xp = xp_of(cond)
        return xp.where(cond, a, _like(b, a) if hasattr(a, "dtype") else b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        ga = g * cond if ctx.needs_input_grad[1] else None
        gb = g * ~cond if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.device = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g, ctx.device), None


# ---------------------------------------------------------------- reductions
def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim: expected a value in [{-ndim}, {ndim - 1}], got {d}")
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def _expand_back(g, shape, axes):
    """Broadcast a reduced gradient back over the reduced `axes` of `shape`."""
    xp = xp_of(g)
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return xp.broadcast_to(g.reshape(kept), shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.shape, ctx.axes = a.shape, _axes(dim, a.ndim)
        return a.sum(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.axes), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.shape, ctx.axes = a.shape, _axes(dim, a.ndim)
        return a.mean(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        count = int(np.prod([ctx.shape[i] for i in ctx.axes]))
        return _expand_back(g / g.dtype.type(count), ctx.shape, ctx.axes), None, None


class Amax(Function):
    """Max over axes; ties share the gradient equally (PyTorch's amax)."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.axes = _axes(dim, a.ndim)
        out = a.max(axis=ctx.axes, keepdims=True)
        ctx.save_for_backward(a, out)
        return out if keepdim else out.reshape([n for i, n in enumerate(a.shape) if i not in ctx.axes])

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = (a == out).astype(g.dtype)
        mask /= mask.sum(axis=ctx.axes, keepdims=True)
        return _expand_back(g, a.shape, ctx.axes) * mask, None, None


class Var(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim, correction):
        ctx.axes = _axes(dim, a.ndim)
        mean = a.mean(axis=ctx.axes, keepdims=True)
        count = int(np.prod([a.shape[i] for i in ctx.axes]))
        ctx.save_for_backward(a, mean)
        ctx.denominator = max(count - correction, 0)
        return ((a - mean) ** 2).sum(axis=ctx.axes, keepdims=keepdim) / a.dtype.type(ctx.denominator)

    @staticmethod
    def backward(ctx, g):
        a, mean = ctx.saved_tensors
        scale = g.dtype.type(2.0 / ctx.denominator) if ctx.denominator else g.dtype.type(np.nan)
        return _expand_back(g, a.shape, ctx.axes) * (a - mean) * scale, None, None, None


# ---------------------------------------------------------------- shape
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(tuple(int(d) for d in np.argsort(ctx.dims))), None


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None                                 # the engine sums back to a's shape


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic(ctx.index):
            grad[ctx.index] = g                        # a view: every element picked once
        else:
            xp.add.at(grad, ctx.index, g)              # repeated indices add up
        return grad, None


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class Pad(Function):
    """Constant padding; `widths` is numpy's ((before, after), ...) per axis."""

    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return xp_of(a).pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices], None, None


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.bounds = [int(b) for b in np.cumsum([a.shape[dim] for a in arrays])[:-1]]
        return xp_of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(xp_of(g).split(g, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return xp_of(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        return (None,) + tuple(xp.take(g, i, axis=ctx.dim) for i in range(g.shape[ctx.dim]))
