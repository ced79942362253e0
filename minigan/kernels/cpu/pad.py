"""Reflection padding forward and backward, one (sample, channel) plane per task.

The row and column reflections are worked out once in NumPy (_reflect_index); the kernels only gather
(forward) or scatter-add (backward) through them. Math: kernels/reference.py. Debug with NUMBA_DISABLE_JIT=1.
"""
import functools

import numpy as np
from numba import njit, prange


@functools.lru_cache(maxsize=64)
def _reflect_index(n, before, after):
    """Source row of each of the n + before + after rows of a reflect-padded axis (read-only, memoised:
    a network pads the same few sizes over and over)."""
    i = np.abs(np.arange(-before, n + after))
    rows = np.where(i > n - 1, 2 * (n - 1) - i, i)
    rows.flags.writeable = False
    return rows


@njit(parallel=True, cache=True)
def _gather_planes(x, rows, left, right, y):
    """y[p, a] = row rows[a] of x[p], mirrored left and right; x (P, H, W), y (P, Hp, left + W + right)."""
    W = x.shape[2]
    for p in prange(x.shape[0]):
        for a in range(rows.size):
            src, dst = x[p, rows[a]], y[p, a]
            dst[left: left + W] = src
            for k in range(left):                   # dst[left - 1 - k] mirrors src[k + 1]
                dst[left - 1 - k] = src[k + 1]
            for k in range(right):
                dst[left + W + k] = src[W - 2 - k]


@njit(parallel=True, cache=True)
def _scatter_planes(gy, rows, left, right, gx):
    """The adjoint of _gather_planes: gx[p] (zeroed here) += each padded row folded back onto its source."""
    W = gx.shape[2]
    for p in prange(gy.shape[0]):
        gx[p] = 0
        for a in range(rows.size):
            src, dst = gy[p, a], gx[p, rows[a]]
            middle = src[left: left + W]              # a view from 0: the loop vectorises
            for q in range(W):
                dst[q] += middle[q]
            for k in range(left):
                dst[k + 1] += src[left - 1 - k]
            for k in range(right):
                dst[W - 2 - k] += src[left + W + k]


def reflection_pad2d_forward(x, pad):
    """x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right), mirrored; pad = (l, r, t, b)."""
    left, right, top, bottom = pad
    N, C, H, W = x.shape
    rows = _reflect_index(H, top, bottom)
    y = np.empty((N, C, rows.size, W + left + right), x.dtype)
    _gather_planes(np.ascontiguousarray(x).reshape(N * C, H, W), rows, left, right,
                   y.reshape(N * C, rows.size, -1))
    return y


def reflection_pad2d_backward(gy, pad):
    """Adjoint of reflection_pad2d_forward: sums each padded position's gradient into its source pixel."""
    left, right, top, bottom = pad
    N, C, Hp, Wp = gy.shape
    H, W = Hp - top - bottom, Wp - left - right
    gx = np.empty((N, C, H, W), gy.dtype)
    _scatter_planes(np.ascontiguousarray(gy).reshape(N * C, Hp, Wp), _reflect_index(H, top, bottom),
                    left, right, gx.reshape(N * C, H, W))
    return gx
