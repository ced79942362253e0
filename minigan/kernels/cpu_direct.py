"""Direct convolution loops for layers with few output channels (cpu.py's path for O <= 4).

A conv with O = 3 as a GEMM has 3 rows: BLAS runs it at a tenth of its speed, and its im2col matrix
(64*7*7 rows by 256*256 columns for the last CycleGAN layer) is 822 MB. Here every output row is built
from input rows that sit in L1 cache instead: for each (input channel c, tap i, j, output channel o),
one vectorised multiply-add of a shifted input row into an output row.

`geom` is cpu._geometry's tuple (kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo). Debug with NUMBA_DISABLE_JIT=1.
"""
from numba import njit, prange

MAX_CHANNELS = 4     # output channels up to which the direct loops beat im2col + GEMM
MIN_WIDTH = 16       # narrower outputs leave the vector loops too short; use the GEMM path


def suits(out_channels, out_width):
    """True when a conv with this many output channels and this output width takes the direct path."""
    return out_channels <= MAX_CHANNELS and out_width >= MIN_WIDTH


@njit(cache=True, inline="always")
def _valid(n_out, n_in, stride, offset):
    """Range [lo, hi) of output positions o with 0 <= o*stride + offset < n_in."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = (n_in - 1 - offset) // stride + 1 if n_in - 1 - offset >= 0 else 0
    hi = min(hi, n_out)
    return lo, max(hi, lo)


@njit(cache=True, inline="always")
def _taps(row, lo, hi, stride, offset):
    """The view row[o*stride + offset] for o in [lo, hi): indexed from 0, so loops over it vectorise
    (Numba cannot vectorise a[i + offset] when offset might be negative: it checks for wraparound)."""
    return row[lo * stride + offset: (hi - 1) * stride + offset + 1: stride]


@njit(cache=True, inline="always")
def _axpy(dst, a, src):
    for q in range(dst.size):
        dst[q] += a * src[q]


@njit(cache=True, inline="always")
def _add(dst, src):
    for q in range(dst.size):
        dst[q] += src[q]


@njit(cache=True, inline="always")
def _copy(dst, src):
    for q in range(dst.size):
        dst[q] = src[q]


@njit(cache=True, inline="always")
def _dot(a, b):
    """Vectorises where the caller allows reassociation (fastmath): Numba inlines into the caller's flags."""
    s = a[0] * 0            # the arrays' own float type
    for q in range(a.size):
        s += a[q] * b[q]
    return s


@njit(parallel=True, cache=True)
def forward(x, w, bias, geom, y):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + bias (O,) or empty; one output row per task."""
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
                    if hi == lo:
                        continue
                    off = j * dw - pw
                    if sw == 1:     # a contiguous view: vector loads
                        src = x[n, c, h, lo + off: hi + off]
                        for o in range(O):
                            _axpy(y[n, o, ho, lo:hi], w[o, c, i, j], src)
                    else:
                        strided = _taps(x[n, c, h], lo, hi, sw, off)
                        for o in range(O):
                            _axpy(y[n, o, ho, lo:hi], w[o, c, i, j], strided)


@njit(parallel=True, cache=True)
def backward_input(gy, w, geom, gx):
    """gx (N, C, H, W) = the adjoint of forward applied to gy (N, O, Ho, Wo); one input plane per task."""
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
                    if hi == lo:
                        continue
                    off = j * dw - pw
                    if sw == 1:
                        dst = gx[n, c, h, lo + off: hi + off]
                        for o in range(O):
                            _axpy(dst, w[o, c, i, j], gy[n, o, ho, lo:hi])
                    else:
                        strided = _taps(gx[n, c, h], lo, hi, sw, off)
                        for o in range(O):
                            _axpy(strided, w[o, c, i, j], gy[n, o, ho, lo:hi])


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def backward_weight(x, gy, geom, gw):
    """gw (O, C, kh, kw) = sum over n, ho, wo of gy[n, o, ho, wo] * x_padded[n, c, ho*sh + i*dh, wo*sw + j*dw]."""
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
                        if hi == lo:
                            continue
                        off = j * dw - pw
                        if sw == 1:
                            src = x[n, c, h, lo + off: hi + off]
                            for o in range(O):
                                gw[o, c, i, j] += _dot(gy[n, o, ho, lo:hi], src)
                        else:
                            strided = _taps(x[n, c, h], lo, hi, sw, off)
                            for o in range(O):
                                gw[o, c, i, j] += _dot(gy[n, o, ho, lo:hi], strided)
