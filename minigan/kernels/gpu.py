"""GPU kernels in CuPy, with the same names and signatures as reference.py (the math) and cpu.py.

- Convolutions: im2col / col2im are hand-written RawKernels, the matrix products go to cuBLAS through
  `cupy.matmul`; no cuDNN. conv2d is im2col -> GEMM; its input gradient is GEMM -> col2im, and
  conv_transpose2d is the same pair the other way round. col2im gathers (each pixel sums the taps
  that read it) instead of scattering with atomics, so results are deterministic.
- Convolutions with at most 4 output channels (an RGB output layer) skip the columns (822 MB for
  CycleGAN's last layer, feeding a 3-row GEMM): three direct RawKernels (forward, when there are enough
  output pixels; input gradient as a gather; weight gradient as block sums in double). `_direct_suits`
  decides; MINIGAN_GPU_DIRECT=0 turns the direct path off.
- Batch norm statistics and every per-channel sum (norm gradients, conv bias gradients) come from one
  RawKernel that splits each channel over several blocks, sums in double with a shared-memory
  reduction, and a small "finish" kernel per use; normalise + affine, the norm's input gradient,
  LeakyReLU, the BCE losses and reflection padding are ElementwiseKernels, the reduced losses
  ReductionKernels. Sources: gpu_sources.py.
- Kernels are built once per (kernel, dtype, device) and memoised; CuPy compiles each on first use
  and caches the binary on disk (~/.cupy/kernel_cache), so later processes start fast.
- Nothing here copies to or from the host or synchronises the device.

Debugging: CUPY_DUMP_CUDA_SOURCE_ON_ERROR=1 prints a kernel's full source when it fails to compile;
`compute-sanitizer python ...` finds out-of-bounds accesses. tests/kernels/test_gpu_sources_compile.py
compiles every source with nvcc without a GPU.
"""
import functools
import os

import numpy as np

from ..backend import cp
from . import gpu_sources as src
from .geometry import Geometry
from .reference import adam_step  # noqa: F401  (NumPy's ufuncs hand CuPy arrays to CuPy)
from .reference import avg_pool2d_forward, max_pool2d_forward  # noqa: F401  (whole-array CuPy code)
from .reference import conv_output_size, conv_transpose_output_size

if cp is None:
    raise ImportError("minigan.kernels.gpu needs CuPy (pip install 'minigan[gpu]')")

INT32_MAX = 2 ** 31 - 1


# ------------------------------------------------------------------------------------ kernel factories

def _ctype(dtype):
    try:
        return src.CTYPES[np.dtype(dtype).name]
    except KeyError:
        raise TypeError(f"GPU kernels: expected float32 or float64 arrays, got {np.dtype(dtype)}") from None


@functools.lru_cache(maxsize=None)
def _raw(kernel, dtype, device_id):
    """RawKernel `kernel` for `dtype` on device `device_id`, built once."""
    ctype = _ctype(dtype)
    return cp.RawKernel(src.raw_source(kernel, ctype), src.kernel_name(kernel, ctype))


@functools.lru_cache(maxsize=None)
def _elementwise(kernel, dtype, device_id):
    """ElementwiseKernel `kernel` (named minigan_<kernel>), built once per dtype and device."""
    _ctype(dtype)
    spec = src.ELEMENTWISE[kernel]
    return cp.ElementwiseKernel(spec.in_params, spec.out_params, spec.body, f"minigan_{kernel}",
                                preamble=spec.preamble)


@functools.lru_cache(maxsize=None)
def _reduction(kernel, reduction, dtype, device_id):
    """ReductionKernel `kernel` summing over all elements, then post-mapped for 'sum' or 'mean'."""
    _ctype(dtype)
    spec = src.REDUCTION[kernel]
    return cp.ReductionKernel(spec.in_params, spec.out_params, spec.map_expr, "a + b",
                              spec.post_map[reduction], "0", f"minigan_{kernel}_{reduction}",
                              reduce_type=spec.reduce_type, preamble=spec.preamble)


@functools.lru_cache(maxsize=None)
def _constant(value, dtype, device_id):
    """A read-only 0-d array holding `value`: stands for a missing weight (1) or bias (0)."""
    with cp.cuda.Device(device_id):
        return cp.full((), value, dtype)


@functools.lru_cache(maxsize=None)
def _sm_count(device_id):
    return cp.cuda.runtime.getDeviceProperties(device_id)["multiProcessorCount"]


def _ew(kernel, like):
    return _elementwise(kernel, like.dtype, like.device.id)


def _launch(kernel, like, grid, *args):
    """Run RawKernel `kernel` for like's dtype and device on `grid` blocks of src.BLOCK threads."""
    args = tuple(np.int32(a) if isinstance(a, (bool, int, np.integer)) else a for a in args)
    _raw(kernel, like.dtype, like.device.id)(grid, (src.BLOCK,), args)


def _blocks(n):
    return (n + src.BLOCK - 1) // src.BLOCK


def _check_int32(value, what):
    if value > INT32_MAX:
        raise ValueError(f"GPU kernels: {what} = {value} exceeds the 32-bit index range; use a smaller batch")


def _contiguous(*arrays):
    return [None if a is None else cp.ascontiguousarray(a) for a in arrays]


# ---------------------------------------------------------------------------------- im2col / col2im

def _conv_grid(spatial, kernel_size, stride, padding, dilation):
    return tuple(conv_output_size(spatial[a], kernel_size[a], stride[a], padding[a], dilation[a]) for a in (0, 1))


def im2col(x, kernel_size, stride, padding, dilation, out_size=None):
    """Columns (C*kh*kw, N*Ho*Wo) of x (N, C, H, W); the layout of reference.im2col."""
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    grid = tuple(out_size or _conv_grid((H, W), kernel_size, stride, padding, dilation))
    K, NL = C * kernel_size[0] * kernel_size[1], N * grid[0] * grid[1]
    _check_int32(NL, "N*Ho*Wo")
    cols = cp.empty((K, NL), x.dtype)
    if cols.size:
        _launch("im2col", x, (_blocks(NL), min(K, src.MAX_GRID_Y)), x, cols, N, C, H, W,
                *Geometry.of(kernel_size, stride, padding, dilation, grid))
    return cols


def _col2im(cols, x_shape, kernel_size, stride, padding, dilation, grid, bias):
    """Fold cols (C*kh*kw, N*Ho*Wo) into a new (N, C, H, W) array, plus bias (C,) when given."""
    (cols, bias) = _contiguous(cols, bias)
    N, C, H, W = x_shape
    _check_int32(N * grid[0] * grid[1], "N*Ho*Wo")
    _check_int32(N * C * H * W, "N*C*H*W")
    x = cp.empty(x_shape, cols.dtype)
    if x.size:
        _launch("col2im", cols, (min(_blocks(x.size), src.MAX_GRID_X),), cols,
                cols if bias is None else bias, x, bias is not None, N, C, H, W,   # cols: unread stand-in
                *Geometry.of(kernel_size, stride, padding, dilation, grid))
    return x


def col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_size=None):
    """Fold columns (C*kh*kw, N*Ho*Wo) back into x_shape, summing overlaps; the adjoint of im2col."""
    grid = tuple(out_size or _conv_grid(x_shape[2:], kernel_size, stride, padding, dilation))
    return _col2im(cols, tuple(x_shape), kernel_size, stride, padding, dilation, grid, None)


def _rows_to_images(rows, N, spatial, bias=None):
    """rows (O, N*L) -> images (N, O, *spatial), plus bias (O,) when given."""
    O = rows.shape[0]
    if N == 1 and bias is None:
        return rows.reshape((1, O) + tuple(spatial))                    # already in place: no copy
    out = cp.empty((N, O) + tuple(spatial), rows.dtype)
    view = rows.reshape(O, N, -1).transpose(1, 0, 2)                    # (O, N, L) -> (N, O, L)
    if bias is None:
        out.reshape(N, O, -1)[...] = view
    else:
        cp.add(view, bias.reshape(1, O, 1), out=out.reshape(N, O, -1))
    return out


def _images_to_rows(a):
    """a (N, C, *spatial) -> rows (C, N*L), the layout the GEMMs take."""
    N, C = a.shape[:2]
    return cp.ascontiguousarray(a.reshape(N, C, -1).transpose(1, 0, 2)).reshape(C, -1)   # (C, N, L)


# ----------------------------------------------------------------------------------- direct convolution
# For a conv weight (O, C, kh, kw) with O <= 4. Per output pixel, im2col + GEMM moves 8*C*kh*kw bytes
# through DRAM whatever O is, into a GEMM of O rows that leaves cuBLAS's tiles nearly empty; the direct
# kernels load each input value once, from cache, and use it O times. Measured on an H200 (float32, ms,
# forward / input grad / weight + bias grad) for CycleGAN's 64 -> 3 k7 head at 256x256: direct 0.29 /
# 0.34 / 0.46, GEMM path 1.89 / 1.03 / 2.01; cuDNN 0.57 forward, 1.25 forward + backward (direct 1.10).
# The forward kernel gives a thread one output pixel and its whole C*kh*kw loop (0.24 ms for 3136 taps
# at any pixel count), so it needs pixels: it lost to the GEMM path at 4096 output pixels (64 -> 3 k7)
# and 3600 (PatchGAN's 512 -> 1 head), and won at 9216 and 14400. The gather and the weight kernel
# beat the GEMM path at every size tried (64 to 65536 pixels, O = 1, 3, 4): the backward needs O <= 4
# only. Four is the largest O the kernels are compiled for (an RGBA head), and was still a win.

DIRECT_MAX_CHANNELS = src.DIRECT_CHANNELS    # output channels of the direct kernels' register sums
DIRECT_MIN_PIXELS = 8192                     # N*Ho*Wo below which the GEMM path is faster


def _direct_suits(out_channels, pixels=None):
    """True when a conv whose weight is (out_channels, C, kh, kw) takes a direct kernel. `pixels`: the
    N*Ho*Wo threads of the direct forward kernel, which needs DIRECT_MIN_PIXELS of them; None for the
    input-gradient gather and the weight kernel, which have threads enough. MINIGAN_GPU_DIRECT=0 (read
    at each call): never."""
    return (out_channels <= DIRECT_MAX_CHANNELS and (pixels is None or pixels >= DIRECT_MIN_PIXELS)
            and os.environ.get("MINIGAN_GPU_DIRECT", "1") != "0")


def _direct_forward(x, w, b, stride, padding, dilation, grid):
    """y (N, O, *grid) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or None, O <= 4."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    assert O <= DIRECT_MAX_CHANNELS, O                                # the kernels' largest instance
    _check_int32(N * C * H * W, "N*C*H*W")
    _check_int32(N * O * grid[0] * grid[1], "N*O*Ho*Wo")
    y = cp.empty((N, O) + tuple(grid), x.dtype)
    if y.size:
        _launch("conv_direct_forward", x, (min(_blocks(N * grid[0] * grid[1]), src.MAX_GRID_X),), x, w,
                x if b is None else b, y, b is not None, N, C, H, W, O,          # x: unread stand-in
                *Geometry.of((kh, kw), stride, padding, dilation, grid))
    return y


def _direct_input(gy, w, b, x_shape, stride, padding, dilation):
    """gx x_shape (N, C, H, W): the adjoint of _direct_forward applied to gy (N, O, Ho, Wo), plus b (C,)."""
    N, C, H, W = x_shape
    O, _, kh, kw = w.shape
    assert O <= DIRECT_MAX_CHANNELS, O                                # the kernels' largest instance
    _check_int32(N * C * H * W, "N*C*H*W")
    _check_int32(gy.size, "N*O*Ho*Wo")
    gx = cp.empty(tuple(x_shape), gy.dtype)
    if gx.size:
        _launch("conv_direct_input", gy, (min(_blocks(gx.size), src.MAX_GRID_X),), gy, w,
                gy if b is None else b, gx, b is not None, N, C, H, W, O,        # gy: unread stand-in
                *Geometry.of((kh, kw), stride, padding, dilation, gy.shape[2:]))
    return gx


def _direct_weight(x, gy, w_shape, stride, padding, dilation):
    """gw w_shape (O, C, kh, kw) = sum over (n, ho, wo) of gy[n, o, ho, wo] * x's tap (c, i, j), O <= 4."""
    N, C, H, W = x.shape
    O, _, kh, kw = w_shape
    assert O <= DIRECT_MAX_CHANNELS, O                                # the kernels' largest instance
    M, groups = N * gy.shape[2] * gy.shape[3], C * kh * -(-kw // 4)
    _check_int32(N * C * H * W, "N*C*H*W")
    _check_int32(gy.size, "N*O*Ho*Wo")
    # blocks over the tap groups; the pixels split S ways too when there are too few groups to fill the SMs
    S = int(max(1, min(-(-4 * _sm_count(x.device.id) // max(groups, 1)), M // (4 * src.BLOCK), 1024,
                       src.MAX_GRID_Y)))
    gw = cp.empty(tuple(w_shape), x.dtype)
    if gw.size == 0:
        return gw
    partial = cp.empty((S, gw.size), np.float64)                          # (S, O*C*kh*kw)
    _launch("conv_direct_weight", x, (min(groups, src.MAX_GRID_X), S), x, gy, partial, N, C, H, W, O,
            *Geometry.of((kh, kw), stride, padding, dilation, gy.shape[2:]))
    _launch("conv_direct_weight_finish", x, (_blocks(gw.size),), partial, gw, S, gw.size)
    return gw


# ----------------------------------------------------------------------------------------------- conv2d

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or None. See reference.py."""
    x, w = _contiguous(x, w)
    O, C, kh, kw = w.shape
    grid = _conv_grid(x.shape[2:], (kh, kw), stride, padding, dilation)
    if _direct_suits(O, x.shape[0] * grid[0] * grid[1]):
        (b,) = _contiguous(b)
        return _direct_forward(x, w, b, stride, padding, dilation, grid)
    cols = im2col(x, (kh, kw), stride, padding, dilation)                # (C*kh*kw, N*Ho*Wo)
    rows = cp.matmul(w.reshape(O, C * kh * kw), cols)                    # (O, N*Ho*Wo)
    return _rows_to_images(rows, x.shape[0], grid, b)


def conv2d_backward(x, w, gy, stride, padding, dilation, needs=(True, True, True)):
    """(gx, gw, gb) of conv2d_forward for gy (N, O, Ho, Wo); None where needs[k] is False."""
    x, w, gy = _contiguous(x, w, gy)
    O, C, kh, kw = w.shape
    grid = gy.shape[2:]
    gx = gw = gb = None
    if _direct_suits(O):
        if needs[0]:
            gx = _direct_input(gy, w, None, x.shape, stride, padding, dilation)
        if needs[1]:
            gw = _direct_weight(x, gy, w.shape, stride, padding, dilation)
        return gx, gw, (_channel_sum(gy) if needs[2] else None)
    if needs[0] or needs[1]:
        g_rows = _images_to_rows(gy)                                     # (O, N*Ho*Wo)
    if needs[0]:
        g_cols = cp.matmul(w.reshape(O, C * kh * kw).T, g_rows)         # (C*kh*kw, N*Ho*Wo)
        gx = _col2im(g_cols, x.shape, (kh, kw), stride, padding, dilation, grid, None)
        del g_cols
    if needs[1]:
        cols = im2col(x, (kh, kw), stride, padding, dilation, grid)     # (C*kh*kw, N*Ho*Wo)
        gw = cp.matmul(g_rows, cols.T).reshape(w.shape)                 # (O, C*kh*kw) -> (O, C, kh, kw)
    if needs[2]:
        gb = _channel_sum(gy)
    return gx, gw, gb


# ------------------------------------------------------------------------------------- conv_transpose2d
# A transposed conv is a conv run backwards: its weight (C_in, C_out, kh, kw) is a conv weight with
# O = C_in, C = C_out over the grid (H, W) of its input. With C_in <= 4 it takes the direct kernels in
# those roles: forward = the conv's input gradient (the gather, plus bias), input gradient = the conv's
# forward, weight gradient = the conv's with x and gy swapped. (A convT 64 -> 3 has O = 64 there, and
# its forward GEMM has C_out*kh*kw rows, 48 for k4, not 3: it stays on the GEMM path.)

def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """y (N, C_out, Ho, Wo) = conv_transpose(x (N, C_in, H, W), w (C_in, C_out, kh, kw)) + b. See reference.py."""
    x, w = _contiguous(x, w)
    N, Cin, H, W = x.shape
    _, Cout, kh, kw = w.shape
    Ho, Wo = (conv_transpose_output_size((H, W)[a], (kh, kw)[a], stride[a], padding[a], output_padding[a],
                                         dilation[a]) for a in (0, 1))
    if _direct_suits(Cin):
        (b,) = _contiguous(b)
        return _direct_input(x, w, b, (N, Cout, Ho, Wo), stride, padding, dilation)
    cols = cp.matmul(w.reshape(Cin, Cout * kh * kw).T, _images_to_rows(x))   # (C_out*kh*kw, N*H*W)
    return _col2im(cols, (N, Cout, Ho, Wo), (kh, kw), stride, padding, dilation, (H, W), b)


def conv_transpose2d_backward(x, w, gy, stride, padding, output_padding, dilation, needs=(True, True, True)):
    """(gx, gw, gb) of conv_transpose2d_forward: gx = conv2d(gy, w), gw = X @ im2col(gy).T."""
    x, w, gy = _contiguous(x, w, gy)
    N, Cin, H, W = x.shape
    _, Cout, kh, kw = w.shape
    gx = gw = gb = None
    if needs[0] and _direct_suits(Cin, N * H * W):
        gx = _direct_forward(gy, w, None, stride, padding, dilation, (H, W))
    if needs[1] and _direct_suits(Cin):
        gw = _direct_weight(gy, x, w.shape, stride, padding, dilation)
    if (needs[0] and gx is None) or (needs[1] and gw is None):
        cols = im2col(gy, (kh, kw), stride, padding, dilation, (H, W))   # (C_out*kh*kw, N*H*W)
        if needs[0] and gx is None:
            gx = _rows_to_images(cp.matmul(w.reshape(Cin, Cout * kh * kw), cols), N, (H, W))   # (C_in, N*H*W)
        if needs[1] and gw is None:
            gw = cp.matmul(_images_to_rows(x), cols.T).reshape(w.shape)     # (C_in, C_out*kh*kw)
    if needs[2]:
        gb = _channel_sum(gy)
    return gx, gw, gb


# ------------------------------------------------------------------------------ per-channel reductions

def _as_ncl(a):
    return cp.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)          # (N, C, H*W)


def _channel_partials(a3, mode, b3=None, mean=None):
    """Partial sums (C, S, 2) in float64 of a3 (N, C, L), S blocks per channel (see gpu_sources)."""
    N, C, L = a3.shape
    M = N * L
    _check_int32(M, "elements per channel")
    # enough blocks to keep every SM busy, but at least 4 elements per thread
    S = int(max(1, min(-(-4 * _sm_count(a3.device.id) // max(C, 1)), M // (4 * src.BLOCK), 1024)))
    partial = cp.empty((C, S, 2), np.float64)
    if partial.size:
        _launch("channel_partial_sums", a3, (S, min(C, src.MAX_GRID_Y)), a3,
                a3 if b3 is None else b3, a3 if mean is None else mean,     # a3: unread stand-ins
                partial, mode, N, C, L)
    return partial, S


def _channel_sum(a):
    """out (C,) = a (N, C, ...) summed over every axis but 1, accumulated in float64."""
    a3 = _as_ncl(a)
    partial, S = _channel_partials(a3, 2)
    out = cp.empty(a3.shape[1], a.dtype)
    if out.size:
        _launch("channel_sum_finish", a3, (_blocks(out.size),), partial, out, S, out.size)
    return out


def _per_channel(v, like, fill):
    """(C,) -> a (1, C, 1) view for broadcasting against (N, C, L); None -> the constant `fill`."""
    if v is None:
        return _constant(fill, like.dtype, like.device.id)
    return cp.asarray(v, dtype=like.dtype).reshape(1, -1, 1)


# -------------------------------------------------------------------------------------------- batch norm

def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, ...), each (C,) in x's dtype."""
    x3 = _as_ncl(x)
    N, C, L = x3.shape
    partial, S = _channel_partials(x3, 0)
    mean, var = cp.empty(C, x.dtype), cp.empty(C, x.dtype)
    if C:
        _launch("channel_stats_finish", x3, (_blocks(C),), partial, x3, mean, var, S, N, C, L)
    return mean, var


def batch_norm_apply(x, mean, invstd, weight, bias):
    """y = (x - mean) * invstd * weight + bias per channel (one fused pass); weight/bias (C,) or None."""
    x3 = _as_ncl(x)
    y = _ew("norm_apply", x3)(x3, _per_channel(mean, x3, 0), _per_channel(invstd, x3, 1),
                               _per_channel(weight, x3, 1), _per_channel(bias, x3, 0))
    return y.reshape(x.shape)


def batch_norm_backward(gy, x, mean, invstd, weight, training, needs=(True, True, True)):
    """(gx, gweight, gbias) of batch_norm_apply; `training` says mean/invstd came from this batch."""
    x3, gy3 = _as_ncl(x), _as_ncl(gy)
    N, C, L = x3.shape
    mean, invstd = (cp.ascontiguousarray(v, dtype=x.dtype) for v in (mean, invstd))
    weight = None if weight is None else cp.ascontiguousarray(weight, dtype=x.dtype)
    partial, S = _channel_partials(gy3, 1, x3, mean)
    gweight, gbias, ca, cb, cd = (cp.empty(C, x.dtype) for _ in range(5))
    if C:
        _launch("norm_backward_finish", x3, (_blocks(C),), partial, mean, invstd,
                invstd if weight is None else weight,                          # invstd: unread stand-in
                gweight, gbias, ca, cb, cd, weight is not None, bool(training), S, C, np.float64(N * L))
    gx = None
    if needs[0]:
        coefficient = [v.reshape(1, C, 1) for v in (ca, cb, cd)]               # gx = ca*gy + cb*x + cd
        gx = _ew("norm_grad_input", x3)(gy3, x3, *coefficient).reshape(x.shape)
    return gx, (gweight if needs[1] else None), (gbias if needs[2] else None)


# ---------------------------------------------------------------------------------------------- LeakyReLU

def leaky_relu_forward(x, slope):
    """y = x where x > 0, slope * x elsewhere."""
    return _ew("leaky_relu_forward", x)(x, x.dtype.type(slope))


def leaky_relu_backward(gy, x, slope):
    """gx = gy where x > 0, slope * gy elsewhere."""
    return _ew("leaky_relu_backward", x)(gy, x, x.dtype.type(slope))


# ------------------------------------------------------------------------------------------------- losses

def _weight(w, like):
    """w as a broadcastable array of like's dtype, or the constant 1 for None."""
    return _constant(1, like.dtype, like.device.id) if w is None else cp.asarray(w, dtype=like.dtype)


def _upstream(gout, like, reduction):
    """(g, scale): the upstream gradient as an array of like's dtype (0-d for 'mean'/'sum') and the
    factor each element's gradient takes from the reduction (1/n for 'mean')."""
    g = cp.asarray(gout, dtype=like.dtype)
    scale = 1.0 / max(like.size, 1) if reduction == "mean" else 1.0
    return g, like.dtype.type(scale)


SMALL_REDUCTION = 1 << 16      # up to this many elements one fused ReductionKernel; beyond, two stages
_SUM_ROWS = 1024


def _reduce_loss(kernel, reduce_kernel, reduction, like, *args):
    """The loss summed (or averaged) over all elements, accumulated in double.

    CuPy runs a ReductionKernel to one output value in a single block, which is fine for a
    discriminator's few thousand logits but takes milliseconds for millions: beyond SMALL_REDUCTION
    the per-element losses are written out and summed in two stages, _SUM_ROWS blocks, then one."""
    if like.size <= SMALL_REDUCTION:
        return _reduction(reduce_kernel, reduction, like.dtype, like.device.id)(*args)
    flat = _ew(kernel, like)(*args).reshape(-1)
    n = flat.size
    k = n // _SUM_ROWS
    total = flat[:_SUM_ROWS * k].reshape(_SUM_ROWS, k).sum(axis=1, dtype=np.float64).sum()
    total += flat[_SUM_ROWS * k:].sum(dtype=np.float64)
    if reduction == "mean":
        total /= n
    return total.astype(like.dtype)


def binary_cross_entropy_forward(p, y, weight, reduction):
    """-weight * (y log p + (1 - y) log(1 - p)), logs clamped at -100; reduced by 'mean' | 'sum' | 'none'."""
    y, w = cp.asarray(y, dtype=p.dtype), _weight(weight, p)
    if reduction == "none":
        return _ew("bce_forward", p)(p, y, w)
    return _reduce_loss("bce_forward", "bce_reduce", reduction, p, p, y, w)


def binary_cross_entropy_backward(gout, p, y, weight, reduction):
    """Gradient of binary_cross_entropy_forward with respect to p."""
    g, scale = _upstream(gout, p, reduction)
    return _ew("bce_backward", p)(g, p, cp.asarray(y, dtype=p.dtype), _weight(weight, p), scale)


def binary_cross_entropy_with_logits_forward(x, y, weight, pos_weight, reduction):
    """weight * ((1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)), stable for any x; reduced."""
    y, w, pw = cp.asarray(y, dtype=x.dtype), _weight(weight, x), _weight(pos_weight, x)
    if reduction == "none":
        return _ew("bce_logits_forward", x)(x, y, w, pw)
    return _reduce_loss("bce_logits_forward", "bce_logits_reduce", reduction, x, x, y, w, pw)


def binary_cross_entropy_with_logits_backward(gout, x, y, weight, pos_weight, reduction):
    """Gradient of binary_cross_entropy_with_logits_forward with respect to x."""
    g, scale = _upstream(gout, x, reduction)
    return _ew("bce_logits_backward", x)(g, x, cp.asarray(y, dtype=x.dtype), _weight(weight, x),
                                         _weight(pos_weight, x), scale)


# ----------------------------------------------------------------------------------------- reflection pad

def reflection_pad2d_forward(x, pad):
    """x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right) mirrored at the edges; pad = (l, r, t, b)."""
    left, right, top, bottom = pad
    (x,) = _contiguous(x)
    N, C, H, W = x.shape
    y = cp.empty((N, C, H + top + bottom, W + left + right), x.dtype)
    _ew("reflection_pad_forward", x)(x, H, W, y.shape[2], y.shape[3], top, left, y)
    return y


def reflection_pad2d_backward(gy, pad):
    """Adjoint of reflection_pad2d_forward: each source pixel sums the gradients of its mirror images."""
    left, right, top, bottom = pad
    (gy,) = _contiguous(gy)
    N, C, Hp, Wp = gy.shape
    gx = cp.empty((N, C, Hp - top - bottom, Wp - left - right), gy.dtype)
    _ew("reflection_pad_backward", gy)(gy, gx.shape[2], gx.shape[3], top, bottom, left, right, gx)
    return gx
