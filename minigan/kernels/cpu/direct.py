"""Direct convolution loops for layers with few output channels (conv.py's path for O <= 4).

A conv with O = 3 as a GEMM has 3 rows: BLAS runs it at a tenth of its speed, and its im2col matrix
(64*7*7 rows by 256*256 columns for the last CycleGAN layer) is 822 MB. Here every output row is built
from input rows that sit in L1 cache instead.

Unit width-stride (the common case) copies each input row once into a zero-padded row buffer, so every
tap is a plain shifted view of it, and applies the taps four at a time: one pass of
dst[q] += w0*r[q] + w1*r[q+d] + w2*r[q+2d] + w3*r[q+3d] per four taps (weights zero-padded to a
multiple of 4) does four times the work per load and store of dst, about 75 GFLOP/s per core on the
64 -> 3 k7 layer against 40 for one tap at a time. Other width-strides take the one-tap loops
(`_strided_*`).

`geom` is a kernels.geometry.Geometry (kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo). Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

from .rows import _axpy, _dot, _taps, _taps4_axpy, _taps4_dot, _valid

MAX_CHANNELS = 4     # output channels up to which the direct loops beat im2col + GEMM
MIN_WIDTH = 16       # narrower outputs leave the vector loops too short; use the GEMM path


def suits(out_channels, out_width):
    """True when a conv with this many output channels and this output width takes the direct path."""
    return out_channels <= MAX_CHANNELS and out_width >= MIN_WIDTH


def _padded_taps(w, flip=False):
    """w (O, C, kh, kw) -> (O, C, kh, KP), KP = kw rounded up to 4, zero taps appended (or, flipped
    along kw, prepended: the input gradient applies the kernel mirrored)."""
    O, C, kh, kw = w.shape
    wp = np.zeros((O, C, kh, -(-kw // 4) * 4), w.dtype)
    if flip:
        wp[..., wp.shape[3] - kw:] = w[..., ::-1]
    else:
        wp[..., :kw] = w
    return wp


def forward(x, w, bias, geom, y):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + bias (O,) or empty."""
    if geom.sw == 1:
        _unit_forward(x, _padded_taps(w), bias, geom, y)
    else:
        _strided_forward(x, w, bias, geom, y)


def backward_input(gy, w, geom, gx):
    """gx (N, C, H, W): the adjoint of forward applied to gy (N, O, Ho, Wo)."""
    if geom.sw == 1:
        _unit_backward_input(gy, _padded_taps(w, flip=True), geom, gx)
    else:
        _strided_backward_input(gy, w, geom, gx)


def backward_weight(x, gy, geom, gw):
    """gw (O, C, kh, kw) = sum over (n, ho, wo) of gy[n, o, ho, wo] * x_pad[n, c, ho*sh+i*dh, wo*sw+j*dw]."""
    if geom.sw == 1:
        KP = -(-gw.shape[3] // 4) * 4
        acc = np.zeros(gw.shape[:3] + (KP,))
        _unit_backward_weight(x, gy, geom, acc)
        gw[...] = acc[..., :gw.shape[3]]
    else:
        _strided_backward_weight(x, gy, geom, gw)


# ------------------------------------------------------------------------------------------- stride 1

@njit(parallel=True, cache=True)
def _unit_forward(x, wp, bias, geom, y):
    """One output row per task; r = input row h zero-padded on both sides, so tap j reads r[wo + j*dw]."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = x.shape
    O, KP = wp.shape[0], wp.shape[3]
    for t in prange(N * Ho):
        n, ho = t // Ho, t % Ho
        r = np.zeros(max(Wo + (KP - 1) * dw, pw + W), x.dtype)
        acc = np.zeros((O, Wo), x.dtype)
        for o in range(O):
            acc[o] = bias[o] if bias.size else 0
        for c in range(C):
            for i in range(kh):
                h = ho * sh - ph + i * dh
                if h < 0 or h >= H:
                    continue
                r[pw: pw + W] = x[n, c, h]
                for o in range(O):
                    for j in range(0, KP, 4):
                        v = wp[o, c, i, j: j + 4]
                        _taps4_axpy(acc[o], r[j * dw:], dw, v[0], v[1], v[2], v[3])
        y[n, :, ho, :] = acc


@njit(parallel=True, cache=True)
def _unit_backward_input(gy, wf, geom, gx):
    """One input plane per task. gx row h gets sum over (o, ho, i) with h = ho - ph + i*dh of the
    mirrored taps wf applied to gy row ho, zero-padded so that tap j' reads g[x + j'*dw]."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = gx.shape
    O, KP = wf.shape[0], wf.shape[3]
    shift = (KP - 1) * dw - pw                 # g[k] = gy row[k - shift]
    lo, hi = max(0, shift), min(shift + Wo, W + (KP - 1) * dw)
    for t in prange(N * C):
        n, c = t // C, t % C
        g = np.zeros(W + (KP - 1) * dw, gx.dtype)
        plane = gx[n, c]
        plane[:] = 0
        for ho in range(Ho):
            for o in range(O):
                if hi > lo:
                    g[lo:hi] = gy[n, o, ho, lo - shift: hi - shift]
                for i in range(kh):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    for j in range(0, KP, 4):
                        v = wf[o, c, i, j: j + 4]
                        _taps4_axpy(plane[h], g[j * dw:], dw, v[0], v[1], v[2], v[3])


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _unit_backward_weight(x, gy, geom, acc):
    """acc (O, C, kh, KP) float64; one input channel per task, four taps per pass over a gy row."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = x.shape
    O, KP = acc.shape[0], acc.shape[3]
    for c in prange(C):
        r = np.zeros(max(Wo + (KP - 1) * dw, pw + W), x.dtype)
        for n in range(N):
            for ho in range(Ho):
                for i in range(kh):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    r[pw: pw + W] = x[n, c, h]
                    for o in range(O):
                        for j in range(0, KP, 4):
                            s = _taps4_dot(gy[n, o, ho], r[j * dw:], dw)
                            for k in range(4):
                                acc[o, c, i, j + k] += s[k]


# ---------------------------------------------------------------------------------------- any stride

@njit(parallel=True, cache=True)
def _strided_forward(x, w, bias, geom, y):
    """One output row per task, one tap at a time."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = x.shape
    O = w.shape[0]
    for t in prange(N * Ho):
        n, ho = t // Ho, t % Ho
        for o in range(O):
            y[n, o, ho, :] = bias[o] if bias.size else 0
        for c in range(C):
            for i in range(kh):
                h = ho * sh - ph + i * dh
                if h < 0 or h >= H:
                    continue
                for j in range(kw):
                    lo, hi = _valid(Wo, W, sw, j * dw - pw)
                    if hi > lo:
                        src = _taps(x[n, c, h], lo, hi, sw, j * dw - pw)
                        for o in range(O):
                            _axpy(y[n, o, ho, lo:hi], w[o, c, i, j], src)


@njit(parallel=True, cache=True)
def _strided_backward_input(gy, w, geom, gx):
    """One input plane per task, one tap at a time."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = gx.shape
    O = w.shape[0]
    for t in prange(N * C):
        n, c = t // C, t % C
        gx[n, c] = 0
        for ho in range(Ho):
            for i in range(kh):
                h = ho * sh - ph + i * dh
                if h < 0 or h >= H:
                    continue
                for j in range(kw):
                    lo, hi = _valid(Wo, W, sw, j * dw - pw)
                    if hi > lo:
                        dst = _taps(gx[n, c, h], lo, hi, sw, j * dw - pw)
                        for o in range(O):
                            _axpy(dst, w[o, c, i, j], gy[n, o, ho, lo:hi])


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _strided_backward_weight(x, gy, geom, gw):
    """One input channel per task, one tap at a time."""
    kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo = geom
    N, C, H, W = x.shape
    O = gw.shape[0]
    for c in prange(C):
        gw[:, c] = 0
        for n in range(N):
            for ho in range(Ho):
                for i in range(kh):
                    h = ho * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        lo, hi = _valid(Wo, W, sw, j * dw - pw)
                        if hi > lo:
                            src = _taps(x[n, c, h], lo, hi, sw, j * dw - pw)
                            for o in range(O):
                                gw[o, c, i, j] += _dot(gy[n, o, ho, lo:hi], src)
