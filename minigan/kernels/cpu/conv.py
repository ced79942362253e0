"""Convolutions on the CPU: im2col -> GEMM -> col2im, with the names and signatures of reference.py.

Read kernels/reference.py first: it has the math, the shapes and the column layout. This is the fast
version of the same functions:

- Convolutions run as im2col -> GEMM -> col2im over pieces of the batch (a few MB of columns at a time,
  so they stay in cache and the scratch buffers stay small). GEMMs go to gemm.matmul with `out=`, into
  per-thread scratch arrays that are reused across calls: big temporaries allocated afresh each call
  come back as fresh pages, which costs more than the copies themselves.
- Columns come in two layouts: NCHW (columns_nchw.py) and channels-last (columns_nhwc.py), see below.
- Layers with a few output channels (64 -> 3 at 256x256, say) skip the columns: a GEMM with 3 rows runs
  at a tenth of BLAS speed and its column matrix is hundreds of MB. Direct loops (direct.py) do them.

Threads: threads.py. Debugging: NUMBA_DISABLE_JIT=1 runs every kernel as plain Python (slow, but pdb
and print work); NUMBA_NUM_THREADS=1 runs the parallel loops on one thread.
"""
import math
import threading

import numpy as np

from ..geometry import Geometry
from ..reference import conv_output_size, conv_transpose_output_size
from . import columns_nchw, columns_nhwc, direct, gemm

CHUNK_BYTES = 8 << 20         # target size of one piece of im2col columns ...
MIN_COLUMNS = 2048            # ... but at least this many columns, so that the GEMMs stay efficient
NHWC_MIN_CHANNELS = 8         # channels-last columns for images with at least this many channels
NHWC_MAX_WIDTH = 32           # ... and a column grid at most this wide (NCHW runs are grid-width long)
SAMPLE_GEMM_COLUMNS = 1024    # a sample with this many output pixels gets a GEMM of its own, written
                              # into y[n] (no rows buffer and copy), when that GEMM is big enough to
                              # split over the threads; smaller ones share one GEMM (DCGAN's 3 -> 64
                              # input layer, 6 MFLOP a sample, ran 30% slower one by one)
_scratch = threading.local()


def workspace(name, shape, dtype):
    """A per-thread scratch array of `shape`, reused across calls (grown when too small). A convolution
    asks for a few per call, so this stays cheap: math.prod, not np.prod (8 us a call)."""
    size = math.prod(shape)
    key = (name, np.dtype(dtype))
    buffers = _scratch.__dict__.setdefault("buffers", {})
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = np.empty(max(size, 1), dtype)
    return buf[:size].reshape(shape)


def release_workspaces():
    """Drop this thread's scratch arrays (they are kept between calls, sized for the largest layer seen)."""
    _scratch.__dict__.pop("buffers", None)


def _no_bias(dtype):
    return np.empty(0, dtype)


# ------------------------------------------------------------------------------------- conv pipelines
# A conv has a column side (im2col, then a GEMM with the weights: conv forward, convT backward-input)
# and an image side (a GEMM, then col2im: conv backward-input, convT forward); the weight gradient is a
# third GEMM that shares the column side's or the image side's operands. Each side runs over pieces of
# the batch (a few samples, or a band of rows of one), in one of two layouts: NHWC columns (columns_nhwc)
# for images with many channels on a narrow grid, NCHW columns (columns_nchw) otherwise.

def _pieces(N, K, geom, dtype, split_rows):
    """(n0, m, ho0, ho1) pieces of about CHUNK_BYTES of columns (MIN_COLUMNS at least): m whole samples,
    or (split_rows) bands of output rows of one sample when a sample alone is larger."""
    Ho, Wo = geom.Ho, geom.Wo
    columns = max(CHUNK_BYTES // max(1, K * np.dtype(dtype).itemsize), MIN_COLUMNS)
    rows = max(1, columns // Wo)                                                 # output rows per piece
    if rows < Ho and split_rows:
        return [(n, 1, a, min(Ho, a + rows)) for n in range(N) for a in range(0, Ho, rows)]
    m = max(1, min(N, rows // Ho))
    return [(n0, min(m, N - n0), 0, Ho) for n0 in range(0, N, m)]


def _rows(a3, piece, Wo, name):
    """The piece's slice of a3 (N, O, L) as (O, m*Lp), each sample's (O, Lp) block side by side: a (strided)
    view for one sample, else a copy. Lp = (ho1 - ho0)*Wo."""
    n0, m, a, b = piece
    if m == 1:
        return a3[n0, :, a * Wo: b * Wo]
    S = workspace(name, (a3.shape[1], m * a3.shape[2]), a3.dtype)
    columns_nchw.images_to_rows(a3, n0, m, S)
    return S


def _channels_last(C, geom):
    """NHWC columns when a patch row (kw*C floats) is long and an NCHW row (grid width Wo) is short, and one
    sample's columns are not too big (NHWC pieces are whole samples; NCHW ones can be bands of rows)."""
    sample_bytes = C * geom.kh * geom.kw * geom.Ho * geom.Wo * 4
    return C >= NHWC_MIN_CHANNELS and geom.Wo <= NHWC_MAX_WIDTH and sample_bytes <= 8 * CHUNK_BYTES


def _rows_buffer(nhwc, shape, dtype):
    """Where a weight gradient (O, K) accumulates: a reused buffer when it is in NHWC order (weight_from_rows
    then makes the array returned), else the new array returned itself."""
    return workspace("gw_rows", shape, dtype) if nhwc else np.empty(shape, dtype)


def _accumulate(acc, a, b, first):
    """acc = a @ b on the first chunk, acc += a @ b afterwards (through a scratch product)."""
    if first:
        gemm.matmul(a, b, out=acc)
    else:
        acc += gemm.matmul(a, b, out=workspace("gw", acc.shape, acc.dtype))


def _column_side(src, geom, w=None, out=None, bias=None, grad_src=None):
    """With cols = im2col(src (N, C, H, W)) and K = C*kh*kw:

    out (N, O, Ho, Wo) = w (O, C, kh, kw) applied to cols, + bias    when w/out are given
    returns gw (O', C, kh, kw) = grad_src (N, O', Ho, Wo) against cols   when grad_src is given

    Per piece the GEMMs work on "rows" (O, m*Lp): each sample's (O, Lp) block side by side, a view or
    a plain copy of NCHW data. Channels-last columns enter the GEMMs transposed (BLAS reads them so).
    """
    N, C, H, W = src.shape
    kh, kw, Wo, L = geom.kh, geom.kw, geom.Wo, geom.Ho * geom.Wo
    K = C * kh * kw
    if _pointwise(geom):
        return _pointwise_side(src, w, out, bias, grad_src)
    nhwc = _channels_last(C, geom)
    bias = _no_bias(src.dtype) if bias is None else bias
    if nhwc:
        srch = workspace("nhwc_src", (N, H, W * C), src.dtype)
        columns_nhwc.to_nhwc(src.reshape(N, C, H * W), 0, N, srch.reshape(N, H * W, C))
        w2 = None if w is None else columns_nhwc.weight_rows(w, workspace("w_rows", (w.shape[0], K), w.dtype))
        # (O, kh*kw*C), in a reused buffer: a fresh one per call costs its page faults
    else:
        w2 = None if w is None else w.reshape(w.shape[0], K)                   # (O, C*kh*kw)
    out3 = None if out is None else out.reshape(N, out.shape[1], L)
    g3 = None if grad_src is None else grad_src.reshape(N, grad_src.shape[1], L)
    gw = None if grad_src is None else _rows_buffer(nhwc, (g3.shape[1], K), src.dtype)
    for k, piece in enumerate(_pieces(N, K, geom, src.dtype, split_rows=not nhwc)):
        n0, m, a, b = piece
        Lp = (b - a) * Wo
        if nhwc:
            cols = workspace("cols", (m * Lp, K), src.dtype)
            columns_nhwc.im2col(srch, C, n0, m, geom, cols)
            cols = cols.T                                                     # (K, m*Lp), a view
        else:
            cols = workspace("cols", (K, m * Lp), src.dtype)
            columns_nchw.im2col(src, piece, geom, cols)
        if out is not None:
            own = Lp >= SAMPLE_GEMM_COLUMNS and 2.0 * w2.shape[0] * K * Lp >= gemm.MIN_SPLIT_FLOPS
            if m == 1 or own:
                for s in range(m):                                        # (O, K) @ (K, Lp)
                    Y = gemm.matmul(w2, cols[:, s * Lp:(s + 1) * Lp], out=out3[n0 + s, :, a * Wo: b * Wo])
                    if bias.size:
                        Y += bias[:, None]
            else:
                Y = gemm.matmul(w2, cols, out=workspace("rows", (w2.shape[0], m * Lp), src.dtype))
                columns_nchw.rows_to_images(Y, n0, m, bias, out3)
        if gw is not None:                                                    # (O', m*Lp) @ (m*Lp, K)
            _accumulate(gw, _rows(g3, piece, Wo, "rows2"), cols.T, k == 0)
    if gw is None:
        return None
    shape = (gw.shape[0], C, kh, kw)
    return columns_nhwc.weight_from_rows(gw, shape) if nhwc else gw.reshape(shape)


def _pointwise(geom):
    """A 1x1 kernel at stride 1 without padding: each sample's (C, H*W) block is its own columns."""
    return (geom.kh, geom.kw, geom.sh, geom.sw, geom.ph, geom.pw) == (1, 1, 1, 1, 0, 0)


def _pointwise_side(src, w, out, bias, grad_src):
    """_column_side for a 1x1 conv at stride 1: one GEMM per sample straight on the NCHW arrays, no
    columns and no copies (Inception's many 1x1 branches, ResNet-style projections)."""
    N, C = src.shape[:2]
    x3 = src.reshape(N, C, -1)
    if out is not None:
        out3, w2 = out.reshape(N, out.shape[1], -1), w.reshape(w.shape[0], C)
        for n in range(N):
            gemm.matmul(w2, x3[n], out=out3[n])                               # (O, C) @ (C, H*W)
        if bias is not None and bias.size:
            out3 += bias[:, None]
    if grad_src is None:
        return None
    g3 = grad_src.reshape(N, grad_src.shape[1], -1)
    gw = np.empty((g3.shape[1], C), src.dtype)
    for n in range(N):                                                        # (O', H*W) @ (H*W, C)
        _accumulate(gw, g3[n], x3[n].T, n == 0)
    return gw.reshape(g3.shape[1], C, 1, 1)


def _image_side(src, w, geom, out, bias=None, gw_src=None):
    """With S = src (N, O, Ho, Wo) and w (O, C, kh, kw):

    out (N, C, H, W) = col2im(w applied transposed to S) + bias     (conv backward-input, convT forward)
    returns gw (O, C, kh, kw) = S against im2col(gw_src (N, C, H, W))   when gw_src is given, sharing S
    """
    N, O = src.shape[:2]
    C, H, W = out.shape[1:]
    kh, kw, Wo, L = geom.kh, geom.kw, geom.Wo, geom.Ho * geom.Wo
    K = C * kh * kw
    nhwc = _channels_last(C, geom)
    bias = _no_bias(src.dtype) if bias is None else bias
    s3 = src.reshape(N, O, L)
    gw = None if gw_src is None else _rows_buffer(nhwc, (O, K), src.dtype)
    if nhwc:
        w2 = columns_nhwc.weight_rows(w, workspace("w_rows", (O, K), w.dtype))     # (O, kh*kw*C)
        outh = workspace("nhwc_out", (N, H, W * C), src.dtype)
        if gw_src is not None:
            srch = workspace("nhwc_src", (N, H, W * C), src.dtype)
            columns_nhwc.to_nhwc(gw_src.reshape(N, C, H * W), 0, N, srch.reshape(N, H * W, C))
    else:
        w2 = w.reshape(O, K)
    for k, piece in enumerate(_pieces(N, K, geom, src.dtype, split_rows=not nhwc)):
        n0, m, a, b = piece
        Lp = (b - a) * Wo
        S = _rows(s3, piece, Wo, "rows")                                      # (O, m*Lp)
        if nhwc:
            cols = workspace("cols", (m * Lp, K), src.dtype)
            gemm.matmul(S.T, w2, out=cols)                                # (m*Lp, O) @ (O, K)
            columns_nhwc.col2im(cols, C, n0, m, geom, bias, outh)
            if gw is not None:
                columns_nhwc.im2col(srch, C, n0, m, geom, cols)
                _accumulate(gw, S, cols, k == 0)                              # (O, m*Lp) @ (m*Lp, K)
            continue
        cols = workspace("cols", (K, m * Lp), src.dtype)
        gemm.matmul(w2.T, S, out=cols)                                    # (K, O) @ (O, m*Lp)
        columns_nchw.col2im(cols, piece, geom, bias, out)
        if gw is not None:
            columns_nchw.im2col(gw_src, piece, geom, cols)
            _accumulate(gw, S, cols.T, k == 0)                                # (O, m*Lp) @ (m*Lp, K)
    if nhwc:
        columns_nhwc.to_nchw(outh.reshape(N, H * W, C), 0, _no_bias(src.dtype), out.reshape(N, C, H * W))
    if gw is None:
        return None
    return columns_nhwc.weight_from_rows(gw, w.shape) if nhwc else gw.reshape(w.shape)


def _bias_grad(gy):
    """gb (C,) = gy (N, C, H, W) summed over N, H, W."""
    out = np.empty(gy.shape[1], np.float64)
    columns_nchw.channel_sum(gy.reshape(gy.shape[0], gy.shape[1], -1), out)
    return out.astype(gy.dtype)


def _contiguous(*arrays):
    return [None if a is None else np.ascontiguousarray(a) for a in arrays]


# ----------------------------------------------------------------------------------------------- conv2d

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or None. See reference.py."""
    x, w, b = _contiguous(x, w, b)
    N, _, H, W = x.shape
    O, C, kh, kw = w.shape
    Ho, Wo = (conv_output_size((H, W)[a], (kh, kw)[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    geom = Geometry.of((kh, kw), stride, padding, dilation, (Ho, Wo))
    y = np.empty((N, O, Ho, Wo), x.dtype)
    if direct.suits(O, Wo):
        direct.forward(x, w, _no_bias(x.dtype) if b is None else b, geom, y)
    else:
        _column_side(x, geom, w=w, out=y, bias=b)
    return y


def conv2d_backward(x, w, gy, stride, padding, dilation, needs=(True, True, True)):
    """(gx, gw, gb) of conv2d_forward for gy (N, O, Ho, Wo); None where needs[k] is False."""
    x, w, gy = _contiguous(x, w, gy)
    geom = Geometry.of(w.shape[2:], stride, padding, dilation, gy.shape[2:])
    gx = gw = None
    if direct.suits(w.shape[0], gy.shape[3]):
        if needs[0]:
            gx = np.empty_like(x)
            direct.backward_input(gy, w, geom, gx)
        if needs[1]:
            gw = np.empty_like(w)
            direct.backward_weight(x, gy, geom, gw)
    elif needs[0]:
        gx = np.empty_like(x)
        gw = _image_side(gy, w, geom, gx, gw_src=x if needs[1] else None)
    elif needs[1]:
        gw = _column_side(x, geom, grad_src=gy)
    return gx, gw, (_bias_grad(gy) if needs[2] else None)


# ------------------------------------------------------------------------------------- conv_transpose2d
# A transposed conv is a conv run backwards: its weight (C_in, C_out, kh, kw) is a conv weight with
# O = C_in, C = C_out, its forward is that conv's image side and its input gradient the column side.

def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """y (N, C_out, Ho, Wo) = conv_transpose(x (N, C_in, H, W), w (C_in, C_out, kh, kw)) + b (C_out,)."""
    x, w, b = _contiguous(x, w, b)
    N, Cin, H, W = x.shape
    _, Cout, kh, kw = w.shape
    Ho, Wo = (conv_transpose_output_size((H, W)[a], (kh, kw)[a], stride[a], padding[a], output_padding[a],
                                         dilation[a]) for a in (0, 1))
    y = np.empty((N, Cout, Ho, Wo), x.dtype)
    _image_side(x, w, Geometry.of((kh, kw), stride, padding, dilation, (H, W)), y, bias=b)
    return y


def conv_transpose2d_backward(x, w, gy, stride, padding, output_padding, dilation, needs=(True, True, True)):
    """(gx, gw, gb) of conv_transpose2d_forward: gx = conv2d(gy, w), gw = X @ im2col(gy).T."""
    x, w, gy = _contiguous(x, w, gy)
    geom = Geometry.of(w.shape[2:], stride, padding, dilation, x.shape[2:])
    gx = gw = None
    if needs[0]:
        gx = np.empty_like(x)
        gw = _column_side(gy, geom, w=w, out=gx, grad_src=x if needs[1] else None)
    elif needs[1]:
        gw = _column_side(gy, geom, grad_src=x)
    return gx, gw, (_bias_grad(gy) if needs[2] else None)


def im2col(x, kernel_size, stride, padding, dilation, out_size=None):
    """Columns (C*kh*kw, N*Ho*Wo) of x (N, C, H, W); the layout of reference.im2col."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    grid = out_size or tuple(conv_output_size((H, W)[a], kernel_size[a], stride[a], padding[a], dilation[a])
                             for a in (0, 1))
    cols = np.empty((C * kernel_size[0] * kernel_size[1], N * grid[0] * grid[1]), x.dtype)
    columns_nchw.im2col(x, (0, N, 0, grid[0]), Geometry.of(kernel_size, stride, padding, dilation, grid), cols)
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_size=None):
    """Fold columns (C*kh*kw, N*Ho*Wo) back into x_shape, summing overlaps; the adjoint of im2col."""
    (cols,) = _contiguous(cols)
    N, C, H, W = x_shape
    grid = out_size or tuple(conv_output_size((H, W)[a], kernel_size[a], stride[a], padding[a], dilation[a])
                             for a in (0, 1))
    out = np.empty(x_shape, cols.dtype)
    columns_nchw.col2im(cols, (0, N, 0, grid[0]), Geometry.of(kernel_size, stride, padding, dilation, grid),
                    _no_bias(cols.dtype), out)
    return out
