"""Channels-first (NCHW) column kernels: the layout of reference.im2col, used by conv.py for images with
few channels (an RGB input, say), where a row of Wo pixels is a longer run than kw*C channels.

cols is (C*kh*kw, N*Ho*Wo) as in reference.py; these kernels fill or fold one piece of it at a time:
`piece` = (n0, m, ho0, ho1) is samples n0 .. n0+m, output rows ho0 .. ho1 (all rows when m > 1), and
its columns are (n, ho, wo) -> n*(ho1 - ho0)*Wo + (ho - ho0)*Wo + wo. Debug with NUMBA_DISABLE_JIT=1.
"""
from numba import njit, prange

from .rows import _add, _copy, _taps, _valid


@njit(parallel=True, cache=True)
def im2col(x, piece, geom, cols):
    """cols (C*kh*kw, piece's columns) <- the patches of x (N, C, H, W); geom: a kernels.geometry.Geometry."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    n0, m, ho0, ho1 = piece
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    L = (ho1 - ho0) * Wo
    for r in prange(C * kh * kw):
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        off = j * dw - pw
        lo, hi = _valid(Wo, W, sw, off)
        for n in range(m):
            for ho in range(ho0, ho1):
                row = cols[r, n * L + (ho - ho0) * Wo: n * L + (ho - ho0) * Wo + Wo]
                h = ho * sh - ph + i * dh
                if h < 0 or h >= H or hi == lo:
                    row[:] = 0
                    continue
                row[:lo] = 0
                row[hi:] = 0
                if sw == 1:
                    row[lo:hi] = x[n0 + n, c, h, lo + off: hi + off]
                else:
                    _copy(row[lo:hi], _taps(x[n0 + n, c, h], lo, hi, sw, off))


@njit(parallel=True, cache=True)
def col2im(cols, piece, geom, bias, out):
    """out[n0:n0+m] (m, C, H, W) <- bias + the sum of the piece's taps (the adjoint of im2col).

    The piece starting at row 0 sets the planes; later row bands of the same sample add to them."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    n0, m, ho0, ho1 = piece
    C, H, W = out.shape[1], out.shape[2], out.shape[3]
    L = (ho1 - ho0) * Wo
    for t in prange(m * C):
        n, c = t // C, t % C
        plane = out[n0 + n, c]
        if ho0 == 0:
            plane[:] = bias[c] if bias.size else 0
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                off = j * dw - pw
                lo, hi = _valid(Wo, W, sw, off)
                if hi == lo:
                    continue
                for ho in range(ho0, ho1):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    src = cols[r, n * L + (ho - ho0) * Wo + lo: n * L + (ho - ho0) * Wo + hi]
                    if sw == 1:
                        _add(plane[h, lo + off: hi + off], src)
                    else:
                        _add(_taps(plane[h], lo, hi, sw, off), src)


@njit(parallel=True, cache=True)
def rows_to_images(Y, n0, nb, bias, out):
    """out[n0 + n, o, :] = Y[o, n*L:(n+1)*L] + bias[o]; Y (O, nb*L), out (N, O, L)."""
    O, L = out.shape[1], out.shape[2]
    for t in prange(nb * O):
        n, o = t // O, t % O
        b = bias[o] if bias.size else 0
        dst = out[n0 + n, o]
        src = Y[o, n * L: n * L + L]
        for k in range(L):
            dst[k] = src[k] + b


@njit(parallel=True, cache=True)
def images_to_rows(a, n0, nb, S):
    """S[c, n*L:(n+1)*L] = a[n0 + n, c, :]; a (N, C, L), S (C, nb*L)."""
    C, L = a.shape[1], a.shape[2]
    for t in prange(nb * C):
        n, c = t // C, t % C
        S[c, n * L: n * L + L] = a[n0 + n, c]


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def channel_sum(a, out):
    """out[c] = sum of a[:, c, :] for a (N, C, L), accumulated in float64."""
    N, C, L = a.shape
    for c in prange(C):
        s = 0.0
        for n in range(N):
            for k in range(L):
                s += a[n, c, k]
        out[c] = s
