"""Differentiable ops, reductions, shapes, indexing and joining: one `Function` per op.

Most of these are linear, so each backward is another op of this file: Sum's backward is an Expand,
Expand's is a sum (done by the engine's sum_to_shape), GetItem's is an IndexAdd whose own backward is
a GetItem again, Cat's is a set of GetItems. Chains of them differentiate to any order.
"""
from collections import namedtuple

import numpy as np

from .. import backend
from .function import Function
from .tensor import Tensor

xp_of = backend.get_array_module


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
    """Broadcast a reduced gradient (Tensor) back over the reduced `axes` of `shape`."""
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return Expand.apply(Reshape.apply(g, kept), tuple(shape))


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
        return _expand_back(g / count, ctx.shape, ctx.axes), None, None


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
        mask = (a.array == out.array).astype(g.dtype)       # a constant: which elements were the max
        mask /= mask.sum(axis=ctx.axes, keepdims=True)
        return _expand_back(g, a.shape, ctx.axes) * Tensor(mask), None, None


class Var(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim, correction):
        ctx.axes = _axes(dim, a.ndim)
        mean = a.mean(axis=ctx.axes, keepdims=True)
        count = int(np.prod([a.shape[i] for i in ctx.axes]))
        ctx.save_for_backward(a)
        ctx.denominator = max(count - correction, 0)
        return ((a - mean) ** 2).sum(axis=ctx.axes, keepdims=keepdim) / a.dtype.type(ctx.denominator)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        scale = 2.0 / ctx.denominator if ctx.denominator else float("nan")
        centred = a - a.mean(dim=ctx.axes, keepdim=True)   # recomputed from a: differentiable
        return _expand_back(g, a.shape, ctx.axes) * centred * scale, None, None, None


# ---------------------------------------------------------------- selection (helpers, not ops)
# what max/min(dim=...) return, as torch.return_types.max: a named (values, indices) pair
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def correction(unbiased, correction):
    """var/std's divisor correction from torch's two spellings: unbiased=True/False or correction=k."""
    if unbiased is not None and correction is not None:
        raise ValueError("var/std: give either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def arg_extreme(array, name, dim, keepdim):
    """int64 array: `name` ("argmax"/"argmin") along dim, or of the flattened array (dim None)."""
    if dim is None:
        index = getattr(array.reshape(-1), name)()
        return index.reshape((1,) * array.ndim if keepdim else ()).astype(np.int64)
    _axes(dim, array.ndim)                                       # checks dim
    index = getattr(array, name)(axis=dim)
    return (xp_of(array).expand_dims(index, dim) if keepdim else index).astype(np.int64)


def values_and_indices(x, indices, dim, keepdim):
    """(values, indices) of Tensor x at keepdim-shaped `indices` along dim; the values through a
    GetItem, so the gradient goes to the picked elements only (torch.max(dim)'s)."""
    dim = dim % x.ndim
    grid = list(xp_of(x.array).indices(indices.shape, sparse=True))   # open grid, kept dims
    grid[dim] = indices.array
    values = GetItem.apply(x, tuple(grid))
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ValuesIndices(values, indices)


# ---------------------------------------------------------------- shape
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return Reshape.apply(g, ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return Permute.apply(g, tuple(int(d) for d in np.argsort(ctx.dims))), None


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None                                 # the engine sums back to a's shape


# ---------------------------------------------------------------- indexing
def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.shape, ctx.index), None


class IndexAdd(Function):
    """zeros(shape) with `values` added at `index` (repeated indices add up): GetItem's adjoint."""

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.index = index
        xp = xp_of(values)
        out = xp.zeros(shape, dtype=values.dtype)
        if _is_basic(index):
            out[index] = values                        # a view: every element picked once
        else:
            xp.add.at(out, index, values)
        return out

    @staticmethod
    def backward(ctx, g):
        return GetItem.apply(g, ctx.index), None, None


class Pad(Function):
    """Constant padding; `widths` is numpy's ((before, after), ...) per axis."""

    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return xp_of(a).pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return GetItem.apply(g, ctx.slices), None, None


# ---------------------------------------------------------------- joining
class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.bounds = [0] + [int(b) for b in np.cumsum([a.shape[dim] for a in arrays])]
        return xp_of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return (None,) + tuple(GetItem.apply(g, lead + (slice(lo, hi),)) if needed else None
                               for lo, hi, needed in zip(ctx.bounds, ctx.bounds[1:],
                                                         ctx.needs_input_grad[1:]))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return xp_of(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return (None,) + tuple(GetItem.apply(g, lead + (i,)) if needed else None
                               for i, needed in enumerate(ctx.needs_input_grad[1:]))
