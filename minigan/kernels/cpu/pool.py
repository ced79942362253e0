"""Average and max pooling forward, one (sample, channel) plane per task.

Each output row is built tap by tap: for kernel tap (i, j), the run of output columns whose input lies
inside the image (worked out once per call), so no padded copy is made and no per-cell bounds test or
division runs. The runs are views that start at 0 (`seg[q * sw]`, not `src[wo * sw + shift]`): an index
that might be negative carries Numba's wraparound check, which stops LLVM from vectorising the loop.

Same results as kernels/reference.py: the average sums the window's offsets in the same order (padding
counts as zeros) and divides by the same divisor; the max keeps the first largest value, lets a NaN win
(the last one), and never picks padding. The backward passes are linear ops of the gradient
(autograd/pool.py) and run as whole-array code. Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

from .conv import _contiguous


def _taps(out, s, p, d, k, n):
    """(lo, hi) per kernel tap t, int64 arrays: the output indices o whose input index o*s - p + t*d lies
    in [0, n) are range(lo[t], hi[t]). Worked out once per call, not per output cell."""
    shift = np.arange(k) * d - p
    return np.maximum(0, -(shift // s)), np.minimum(out, (n - 1 - shift) // s + 1)


@njit(parallel=True, cache=True)
def _avg_planes(x, geom, rows, cols, divisor, y):
    """y[p, ho, wo] = sum of the window's input cells of x[p] / divisor[ho, wo]; x (P, H, W). Row by row,
    one kernel tap at a time over its run of output columns: the reference's order of additions
    (padding adds nothing), and a contiguous run is one vectorised add."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    for p in prange(x.shape[0]):
        for ho in range(Ho):
            out = y[p, ho]
            out[:] = 0
            for i in range(kh):
                if rows[0][i] <= ho < rows[1][i]:
                    src = x[p, ho * sh - ph + i * dh]
                    for j in range(kw):
                        lo, hi = cols[0][j], cols[1][j]
                        dst, seg = out[lo:hi], src[lo * sw + j * dw - pw:]      # views from 0: see below
                        for q in range(hi - lo):
                            dst[q] += seg[q * sw]
            out /= divisor[ho]


@njit(parallel=True, cache=True)
def _max_planes(x, geom, rows, cols, y, pick, with_pick):
    """y[p, ho, wo] = the largest input cell of the window (NaN wins), pick its offset i*kw + j. Row by
    row and tap by tap, like _avg_planes, with branch-free updates (on random data a branch mispredicts
    half the time); `at` < 0 until a window has seen an input cell, so padding is never picked."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    for p in prange(x.shape[0]):
        at = np.empty(Wo, np.int64)
        for ho in range(Ho):
            best = y[p, ho]
            best[:] = -np.inf
            at[:] = -1
            for i in range(kh):
                if rows[0][i] <= ho < rows[1][i]:
                    src = x[p, ho * sh - ph + i * dh]
                    for j in range(kw):
                        lo, hi, k = cols[0][j], cols[1][j], i * kw + j
                        dst, seg = best[lo:hi], src[lo * sw + j * dw - pw:]
                        if with_pick:
                            got = at[lo:hi]
                            for q in range(hi - lo):
                                v, b, a = seg[q * sw], dst[q], got[q]
                                take = (v > b) | (v != v) | (a < 0)
                                dst[q] = v if take else b
                                got[q] = k if take else a
                        else:                               # -inf start: only the value matters
                            for q in range(hi - lo):
                                v, b = seg[q * sw], dst[q]
                                dst[q] = v if (v > b) | (v != v) else b
            if with_pick:
                pick[p, ho] = at


def _tap_ranges(geom, H, W):
    """(rows, cols): _taps of the height and of the width."""
    return (_taps(geom.Ho, geom.sh, geom.ph, geom.dh, geom.kh, H),
            _taps(geom.Wo, geom.sw, geom.pw, geom.dw, geom.kw, W))


def avg_pool2d_forward(x, geom, divisor):
    """y (N, C, Ho, Wo): window sums / divisor (Ho, Wo). See reference.avg_pool2d_forward."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    y = np.empty((N, C, geom.Ho, geom.Wo), x.dtype)
    _avg_planes(x.reshape(N * C, H, W), tuple(geom), *_tap_ranges(geom, H, W),
                np.asarray(divisor, dtype=x.dtype), y.reshape(N * C, geom.Ho, geom.Wo))
    return y


def max_pool2d_forward(x, geom, with_pick=True):
    """(y, pick or None), both (N, C, Ho, Wo). See reference.max_pool2d_forward."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    y = np.empty((N, C, geom.Ho, geom.Wo), x.dtype)
    pick = np.empty((N * C, geom.Ho, geom.Wo) if with_pick else (0, 0, 0), np.int64)
    _max_planes(x.reshape(N * C, H, W), tuple(geom), *_tap_ranges(geom, H, W),
                y.reshape(N * C, geom.Ho, geom.Wo), pick, with_pick)
    return y, (pick.reshape(y.shape) if with_pick else None)
