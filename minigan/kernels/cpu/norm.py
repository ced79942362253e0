"""Batch norm (and instance norm, run as batch norm over N*C channels): statistics, apply, backward.

Each is one fused pass over memory, one channel (or one (sample, channel) plane) per task, so the
threads never share an output. Sums are taken in float64. Math and shapes: kernels/reference.py.
Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _bn_stats(x, mean, var):
    """Per-channel mean and biased variance of x (N, C, L) in one pass, in float64.

    Sums are taken of x - k, with k the channel's first value: var = E[(x-k)^2] - E[x-k]^2 then loses
    no precision to a large mean."""
    N, C, L = x.shape
    for c in prange(C):
        k = x[0, c, 0]
        s = 0.0
        q = 0.0
        for n in range(N):
            for i in range(L):
                d = x[n, c, i] - k
                s += d
                q += d * d
        m = s / (N * L)
        mean[c] = k + m
        var[c] = max(q / (N * L) - m * m, 0.0)


@njit(parallel=True, cache=True)
def _bn_apply(x, scale, shift, y):
    """y[n, c, :] = x[n, c, :] * scale[c] + shift[c]; x, y (N, C, L)."""
    N, C, L = x.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        a, b = scale[c], shift[c]
        for k in range(L):
            y[n, c, k] = x[n, c, k] * a + b


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _bn_sums(gy, x, mean, gsum, gxsum):
    """gsum[c] = sum gy, gxsum[c] = sum gy * (x - mean) over n and L, in float64."""
    N, C, L = x.shape
    for c in prange(C):
        s = 0.0
        sx = 0.0
        m = mean[c]
        for n in range(N):
            for k in range(L):
                g = gy[n, c, k]
                s += g
                sx += g * (x[n, c, k] - m)
        gsum[c] = s
        gxsum[c] = sx


@njit(parallel=True, cache=True)
def _bn_grad_input(gy, x, a, b, d, gx):
    """gx[n, c, :] = a[c] * gy + b[c] * x + d[c]  (the batch-norm input gradient, rearranged)."""
    N, C, L = x.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        ac, bc, dc = a[c], b[c], d[c]
        for k in range(L):
            gx[n, c, k] = ac * gy[n, c, k] + bc * x[n, c, k] + dc


def _as_ncl(a):
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)      # (N, C, H*W)


def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, ...), each (C,) in x's dtype."""
    mean = np.empty(x.shape[1], np.float64)
    var = np.empty(x.shape[1], np.float64)
    _bn_stats(_as_ncl(x), mean, var)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batch_norm_apply(x, mean, invstd, weight, bias):
    """y = (x - mean) * invstd * weight + bias per channel, as one multiply-add: y = x * scale + shift."""
    scale = invstd.astype(np.float64) * (1.0 if weight is None else weight)
    shift = (0.0 if bias is None else bias) - mean * scale
    y = np.empty(x.shape, x.dtype)
    _bn_apply(_as_ncl(x), scale.astype(x.dtype), shift.astype(x.dtype), y.reshape(_as_ncl(x).shape))
    return y


def batch_norm_backward(gy, x, mean, invstd, weight, training, needs=(True, True, True)):
    """(gx, gweight, gbias) of batch_norm_apply; `training` says mean/invstd came from this batch."""
    x3, gy3 = _as_ncl(x), _as_ncl(gy)
    C, M = x3.shape[1], x3.shape[0] * x3.shape[2]
    gsum, gxsum = np.empty(C), np.empty(C)
    _bn_sums(gy3, x3, mean.astype(x.dtype), gsum, gxsum)
    invstd = invstd.astype(np.float64)
    gbias, gweight = gsum, gxsum * invstd                 # sum gy, sum gy * xhat
    gx = None
    if needs[0]:
        scale = invstd * (1.0 if weight is None else weight)
        if training:      # gx = scale * (gy - gbias/M - xhat * gweight/M), xhat = (x - mean) * invstd
            b = -scale * invstd * gweight / M
            d = -scale * gbias / M - b * mean
        else:             # gx = scale * gy
            b, d = np.zeros(C), np.zeros(C)
        gx = np.empty(x.shape, x.dtype)
        _bn_grad_input(gy3, x3, scale.astype(x.dtype), b.astype(x.dtype), d.astype(x.dtype),
                       gx.reshape(x3.shape))
    return (gx, gweight.astype(x.dtype) if needs[1] else None, gbias.astype(x.dtype) if needs[2] else None)
