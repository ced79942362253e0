"""Channels-last (NHWC) column pipeline for convolutions with many image channels (used by conv.py).

In NCHW, an im2col row is a run of Wo pixels, read with the conv's stride: on DCGAN's 4x4 stride-2
layers (Wo = 4..32) that is a short strided gather per row, and im2col/col2im cost as much as the GEMM.
In NHWC the patch of one output pixel is kh runs of kw*C contiguous floats (kw*C = 256..2048 there),
so the columns are filled by plain copies. The price is a transpose of the input and of the output,
which are k*k/s^2 times smaller than the columns.

Layouts: an NHWC image is stored as (N, H, W*C); the transposed columns colsT have one row per
output pixel (n, ho, wo) and one column per (i, j, c) -> (i*kw + j)*C + c, i.e. colsT is
(N*Ho*Wo, kh*kw*C), and weights are permuted to match: w (O, C, kh, kw) -> (O, kh*kw*C).
Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

from .rows import _add, _copy

_BLOCK = 64      # pixels per task of the transposes


@njit(cache=True, inline="always")
def _transpose_tile(src, dst, bias):
    """dst[i, j] = src[j, i] + bias[i] on a tile of at most 8x8; the full 8x8 case has constant bounds,
    which LLVM turns into straight-line code."""
    if src.shape[0] == 8 and src.shape[1] == 8:
        for i in range(8):
            for j in range(8):
                dst[i, j] = src[j, i] + bias[i]
    else:
        for i in range(dst.shape[0]):
            for j in range(dst.shape[1]):
                dst[i, j] = src[j, i] + bias[i]


@njit(parallel=True, cache=True)
def to_nhwc(a, n0, m, out):
    """out[n, l, c] = a[n0 + n, c, l] for n < m; a (N, C, L), out (>= m, L, C)."""
    C, L = a.shape[1], a.shape[2]
    zero = np.zeros(8, a.dtype)
    blocks = (L + _BLOCK - 1) // _BLOCK
    for t in prange(m * blocks):
        n, l0 = t // blocks, (t % blocks) * _BLOCK
        for c in range(0, C, 8):
            for l in range(l0, min(l0 + _BLOCK, L), 8):
                _transpose_tile(a[n0 + n, c: c + 8, l: l + 8], out[n, l: l + 8, c: c + 8], zero)


@njit(parallel=True, cache=True)
def to_nchw(a, n0, bias, out):
    """out[n0 + n, c, l] = a[n, l, c] + bias[c] (no bias when empty); a (m, L, C), out (N, C, L)."""
    m, L, C = a.shape
    b = bias if bias.size else np.zeros(C, a.dtype)
    blocks = (L + _BLOCK - 1) // _BLOCK
    for t in prange(m * blocks):
        n, l0 = t // blocks, (t % blocks) * _BLOCK
        for l in range(l0, min(l0 + _BLOCK, L), 8):
            for c in range(0, C, 8):
                _transpose_tile(a[n, l: l + 8, c: c + 8], out[n0 + n, c: c + 8, l: l + 8], b[c: c + 8])


@njit(parallel=True, cache=True)
def im2col(xh, C, n0, m, geom, colsT):
    """colsT (m*Ho*Wo, kh*kw*C) <- patches of NHWC samples n0..n0+m of xh (N, H, W*C)."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    H, W = xh.shape[1], xh.shape[2] // C
    run = kw * C
    for t in prange(m * Ho):
        n, ho = t // Ho, t % Ho
        for wo in range(Wo):
            row = colsT[t * Wo + wo]
            w0 = wo * sw - pw
            for i in range(kh):
                seg = row[i * run: i * run + run]
                h = ho * sh - ph + i * dh
                if h < 0 or h >= H:
                    seg[:] = 0
                elif dw == 1 and w0 >= 0 and w0 + kw <= W:            # the whole run is inside
                    _copy(seg, xh[n0 + n, h, w0 * C: w0 * C + run])
                else:
                    for j in range(kw):
                        w = w0 + j * dw
                        if 0 <= w < W:
                            _copy(seg[j * C: j * C + C], xh[n0 + n, h, w * C: w * C + C])
                        else:
                            seg[j * C: j * C + C] = 0


@njit(parallel=True, cache=True)
def col2im(colsT, C, n0, m, geom, bias, outh):
    """outh[n0:n0+m] (NHWC, (N, H, W*C)) <- bias + the sum of colsT's taps (the adjoint of im2col).

    One task per output image row h, gathering the (ho, i) pairs that land on it, so tasks never overlap.
    """
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    H, W = outh.shape[1], outh.shape[2] // C
    run = kw * C
    for t in prange(m * H):
        n, h = t // H, t % H
        dst = outh[n0 + n, h]
        for w in range(W):
            for c in range(C):
                dst[w * C + c] = bias[c] if bias.size else 0
        for i in range(kh):
            num = h + ph - i * dh
            if num < 0 or num % sh != 0 or num // sh >= Ho:
                continue
            base = (n * Ho + num // sh) * Wo
            for wo in range(Wo):
                seg = colsT[base + wo, i * run: i * run + run]
                w0 = wo * sw - pw
                if dw == 1 and w0 >= 0 and w0 + kw <= W:
                    _add(dst[w0 * C: w0 * C + run], seg)
                else:
                    for j in range(kw):
                        w = w0 + j * dw
                        if 0 <= w < W:
                            _add(dst[w * C: w * C + C], seg[j * C: j * C + C])


def weight_rows(w, out):
    """conv weight (O, C, kh, kw) -> out (O, kh*kw*C), the column order of NHWC colsT: a tiled transpose of
    each (C, kh*kw) block (numpy's strided copy took 8x longer on a 2 MB weight)."""
    O, C = w.shape[:2]
    to_nhwc(w.reshape(O, C, -1), 0, O, out.reshape(O, -1, C))
    return out


def weight_from_rows(rows, shape):
    """The inverse of weight_rows: (O, kh*kw*C) -> a new (O, C, kh, kw)."""
    O, C = shape[:2]
    w = np.empty(shape, rows.dtype)
    to_nchw(rows.reshape(O, -1, C), 0, np.empty(0, rows.dtype), w.reshape(O, C, -1))
    return w
