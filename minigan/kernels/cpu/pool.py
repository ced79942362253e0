"""Average and max pooling forward, one (sample, channel) plane per task.

Each output cell walks its window over the input directly, skipping the padding, so no padded copy is
made. Same results as kernels/reference.py: the average sums the window's offsets in the same order
(padding counts as zeros) and divides by the same divisor; the max keeps the first largest value, lets
a NaN win (the last one), and never picks padding. The backward passes are linear ops of the gradient
(autograd/pool.py) and run as whole-array code. Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

from .conv import _contiguous


@njit(parallel=True, cache=True)
def _avg_planes(x, geom, divisor, y):
    """y[p, ho, wo] = sum of the window's input cells of x[p] / divisor[ho, wo]; x (P, H, W)."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    H, W = x.shape[1], x.shape[2]
    for p in prange(x.shape[0]):
        for ho in range(Ho):
            for wo in range(Wo):
                y[p, ho, wo] = 0
                for i in range(kh):
                    r = ho * sh - ph + i * dh
                    if 0 <= r < H:
                        for j in range(kw):
                            c = wo * sw - pw + j * dw
                            if 0 <= c < W:
                                y[p, ho, wo] += x[p, r, c]
                y[p, ho, wo] /= divisor[ho, wo]


@njit(parallel=True, cache=True)
def _max_planes(x, geom, y, pick, with_pick):
    """y[p, ho, wo] = the largest input cell of the window (NaN wins), pick its offset i*kw + j."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    H, W = x.shape[1], x.shape[2]
    for p in prange(x.shape[0]):
        for ho in range(Ho):
            for wo in range(Wo):
                best, at, found = x[p, 0, 0], 0, False
                for i in range(kh):
                    r = ho * sh - ph + i * dh
                    if 0 <= r < H:
                        for j in range(kw):
                            c = wo * sw - pw + j * dw
                            if 0 <= c < W:
                                v = x[p, r, c]
                                if not found or v > best or v != v:
                                    best, at, found = v, i * kw + j, True
                y[p, ho, wo] = best
                if with_pick:
                    pick[p, ho, wo] = at


def avg_pool2d_forward(x, geom, divisor):
    """y (N, C, Ho, Wo): window sums / divisor (Ho, Wo). See reference.avg_pool2d_forward."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    y = np.empty((N, C, geom.Ho, geom.Wo), x.dtype)
    _avg_planes(x.reshape(N * C, H, W), tuple(geom), np.asarray(divisor, dtype=x.dtype),
                y.reshape(N * C, geom.Ho, geom.Wo))
    return y


def max_pool2d_forward(x, geom, with_pick=True):
    """(y, pick or None), both (N, C, Ho, Wo). See reference.max_pool2d_forward."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    y = np.empty((N, C, geom.Ho, geom.Wo), x.dtype)
    pick = np.empty(y.shape if with_pick else (0, 0, 0, 0), np.int64)
    _max_planes(x.reshape(N * C, H, W), tuple(geom), y.reshape(N * C, geom.Ho, geom.Wo),
                pick.reshape(pick.shape[0] * pick.shape[1], pick.shape[2], pick.shape[3]), with_pick)
    return y, (pick if with_pick else None)
