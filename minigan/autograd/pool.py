"""Differentiable 2-D pooling: average pooling and window picking (max pooling), each with its adjoint.

Both are linear in x once the windows (and for max pooling, the picked elements) are fixed, so each
backward is an adjoint op whose backward is the op again; any order of derivative is a chain of the
same few ops (as with padding and the convolutions):

    AvgPool2d          y[ho, wo] = sum over the window of x / divisor[ho, wo]
    AvgPool2dBackward  scatters g / divisor back over each window (the adjoint)
    MaxPool2d          y[ho, wo] = the window's maximum, at offset pick[n, c, ho, wo] (kept)
    WindowPlace        puts g at each window's picked offset, summing overlaps: MaxPool2d's
                       backward, linear in g with `pick` a constant
    WindowPick         y[ho, wo] = x at the window's offset `pick`: WindowPlace's adjoint

A window is visited as kh * kw strided slices of the padded input, one per kernel offset (i, j):
`xpad[..., i*dh : i*dh + sh*(Ho-1) + 1 : sh, j*dw : ...]` is the (N, C, Ho, Wo) plane of every
window's (i, j) element. So each op is a short loop of whole-array NumPy/CuPy operations.
`geometry` is a kernels Geometry whose grid is the pooled size, computed once by nn.functional (which
checks arguments). The forward passes are kernels (kernels.avg_pool2d_forward, max_pool2d_forward: Numba
on the CPU); the window walk below is kernels/reference.py's.
"""
import numpy as np

from .. import backend, kernels
from ..kernels.geometry import Geometry
from ..kernels.reference import pool_crop, pool_pad, pool_padded_size, pool_windows
from .function import Function, is_grad_enabled
from .tensor import Tensor


def pool_geometry(size, kernel, stride, padding, dilation, ceil_mode):
    """The Geometry (kernel, stride, padding, dilation and the pooled size) for input size (H, W),
    with torch's output-size rule."""
    out = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:      # the last window must start inside the input
            o -= 1
        out.append(o)
    return Geometry.of(kernel, stride, padding, dilation, out)


def avg_pool_divisor(size, geometry, count_include_pad):
    """(Ho, Wo) float64: what each window's sum is divided by, as torch: the window's size within
    the zero-padded input (count_include_pad) or within the input itself (not counting padding)."""
    counts = []
    g = geometry
    for n, k, s, p, o in zip(size, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw), (g.Ho, g.Wo)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append((end - start).astype(np.float64))
    return np.outer(counts[0], counts[1])                       # (Ho, Wo)


class AvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): window sums over the zero-padded x, / divisor (Ho, Wo)."""

    @staticmethod
    def forward(ctx, x, geometry, divisor):
        ctx.geometry, ctx.divisor, ctx.size = geometry, divisor, x.shape[-2:]
        return kernels.avg_pool2d_forward(x, geometry, divisor)

    @staticmethod
    def backward(ctx, gy):
        return AvgPool2dBackward.apply(gy, ctx.geometry, ctx.divisor, ctx.size), None, None


class AvgPool2dBackward(Function):
    """The adjoint of AvgPool2d: gy (N, C, Ho, Wo) -> gx (N, C, H, W)."""

    @staticmethod
    def forward(ctx, gy, geometry, divisor, size):
        ctx.geometry, ctx.divisor = geometry, divisor
        xp = backend.get_array_module(gy)
        share = gy / xp.asarray(divisor, dtype=gy.dtype)
        gpad = xp.zeros(gy.shape[:-2] + pool_padded_size(size, geometry), dtype=gy.dtype)
        for _, window in pool_windows(geometry):
            gpad[window] += share
        return xp.ascontiguousarray(pool_crop(gpad, geometry, size))

    @staticmethod
    def backward(ctx, ggx):
        return AvgPool2d.apply(ggx, ctx.geometry, ctx.divisor), None, None, None


def flat_indices(pick, geometry, size):
    """torch's return_indices: each pick as an index into the flattened (H, W) input plane."""
    xp = backend.get_array_module(pick)
    g = geometry
    kw, sh, sw, ph, pw, dh, dw, ho, wo = g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.Ho, g.Wo
    rows = xp.arange(ho).reshape(-1, 1) * sh - ph + (pick // kw) * dh        # (N, C, Ho, Wo)
    cols = xp.arange(wo).reshape(1, -1) * sw - pw + (pick % kw) * dw
    return rows * size[1] + cols


class MaxPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): each window's maximum; `ctx.pick` remembers where it was.
    Its backward puts the gradient there (WindowPlace), a linear op of the gradient alone."""

    @staticmethod
    def forward(ctx, x, geometry):
        best, ctx.pick = kernels.max_pool2d_forward(x, geometry, ctx.needs_input_grad[0] and is_grad_enabled())
        ctx.geometry, ctx.size = geometry, x.shape[-2:]
        return best

    @staticmethod
    def backward(ctx, gy):
        return WindowPlace.apply(gy, ctx.pick, ctx.geometry, ctx.size), None


class WindowPlace(Function):
    """gy (N, C, Ho, Wo) -> gx (N, C, H, W): each gy at its window's offset `pick` (a constant),
    overlapping windows summed. Its adjoint is WindowPick."""

    @staticmethod
    def forward(ctx, gy, pick, geometry, size):
        ctx.pick, ctx.geometry = pick, geometry
        xp = backend.get_array_module(gy)
        gpad = xp.zeros(gy.shape[:-2] + pool_padded_size(size, geometry), dtype=gy.dtype)
        for k, window in pool_windows(geometry):
            gpad[window] += xp.where(pick == k, gy, 0)
        return xp.ascontiguousarray(pool_crop(gpad, geometry, size))

    @staticmethod
    def backward(ctx, ggx):
        return WindowPick.apply(ggx, ctx.pick, ctx.geometry), None, None, None


class WindowPick(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): each window's element at offset `pick` (the adjoint of
    WindowPlace, so max pooling's second derivative)."""

    @staticmethod
    def forward(ctx, x, pick, geometry):
        ctx.pick, ctx.geometry, ctx.size = pick, geometry, x.shape[-2:]
        xp = backend.get_array_module(x)
        xpad = pool_pad(x, geometry, 0)
        y = xp.zeros(pick.shape, dtype=x.dtype)
        for k, window in pool_windows(geometry):
            y += xp.where(pick == k, xpad[window], 0)
        return y

    @staticmethod
    def backward(ctx, gy):
        return WindowPlace.apply(gy, ctx.pick, ctx.geometry, ctx.size), None, None


def max_pool2d(input, geometry, return_indices):
    """Max pooling of a Tensor (N, C, H, W); with return_indices also torch's flat indices."""
    if not return_indices:
        return MaxPool2d.apply(input, geometry)
    pick = kernels.max_pool2d_forward(input.array, geometry)[1]
    return MaxPool2d.apply(input, geometry), Tensor(flat_indices(pick, geometry, input.shape[-2:]))
