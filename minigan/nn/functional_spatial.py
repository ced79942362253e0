"""nn.functional's spatial ops on (N, C, H, W): pooling, interpolation, pixel shuffle, replication
padding and channel dropout, with torch's signatures, defaults and output sizes.

Pooling runs the Functions of autograd/pool.py (each with its adjoint as backward). Interpolation
multiplies by constant resampling matrices (one per axis); the others are compositions of
differentiable indexing, reshape and arithmetic ops, so every order of derivative comes from those
ops. Re-exported by minigan.nn.functional: call them as `F.interpolate(...)`.

    >>> import minigan as mg
    >>> import minigan.nn.functional as F
    >>> x = mg.randn(2, 3, 8, 8)
    >>> F.interpolate(x, scale_factor=2, mode="bilinear").shape, F.avg_pool2d(x, 2).shape
    ((2, 3, 16, 16), (2, 3, 4, 4))
"""
import math

import numpy as np

from .. import backend
from .. import random as mg_random
from ..autograd import Tensor
from ..autograd.pool import AvgPool2d, avg_pool_divisor, max_pool2d as _max_pool2d, pool_geometry
from ._checks import _check_ndim, _check_positive, _pair


def _batched(fn, input, compute):
    """Run `compute` on 4-D input; a 3-D (C, H, W) input as a batch of one, as torch allows."""
    _check_ndim(input, (3, 4), "input", fn)
    if input.ndim == 4:
        return compute(input)
    out = compute(input.unsqueeze(0))
    return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)


def _geometry(fn, input, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _pair(kernel_size, "kernel_size", fn)
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride", fn)
    padding, dilation = _pair(padding, "padding", fn), _pair(dilation, "dilation", fn)
    _check_positive(kernel, "kernel_size", fn)
    _check_positive(stride, "stride", fn)
    _check_positive(dilation, "dilation", fn)
    _check_positive(padding, "padding", fn, minimum=0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{fn}: pad should be at most half of the effective kernel size, got "
                         f"padding {padding} and kernel_size {kernel}")
    geometry = pool_geometry(input.shape[-2:], kernel, stride, padding, dilation, ceil_mode)
    if min(geometry.Ho, geometry.Wo) < 1:
        raise ValueError(f"{fn}: the output size {(geometry.Ho, geometry.Wo)} is too small for input "
                         f"{input.shape} (kernel_size {kernel}, padding {padding})")
    return geometry


# ---------------------------------------------------------------- pooling
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average over kernel_size windows of input (N, C, H, W) or (C, H, W); stride defaults to
    kernel_size. count_include_pad=False divides by the number of input (not padding) elements.

        >>> F.avg_pool2d(mg.randn(1, 3, 8, 8), 3, stride=2, padding=1).shape    # (1, 3, 4, 4)
    """
    fn = "avg_pool2d"

    def compute(x):
        geometry = _geometry(fn, x, kernel_size, stride, padding, 1, ceil_mode)
        if divisor_override is not None:
            if divisor_override <= 0:
                raise ValueError(f"{fn}: divisor_override must be > 0, got {divisor_override}")
            divisor = np.full((geometry.Ho, geometry.Wo), float(divisor_override))
        else:
            divisor = avg_pool_divisor(x.shape[-2:], geometry, count_include_pad)
        return AvgPool2d.apply(x, geometry, divisor)
    return _batched(fn, input, compute)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over kernel_size windows of input (N, C, H, W) or (C, H, W); padding counts as -inf.
    The gradient goes to each window's (first) largest element. return_indices=True also returns
    each maximum's index into its flattened (H, W) plane, as torch.

        >>> F.max_pool2d(mg.randn(1, 3, 8, 8), 2).shape                          # (1, 3, 4, 4)
    """
    fn = "max_pool2d"

    def compute(x):
        geometry = _geometry(fn, x, kernel_size, stride, padding, dilation, ceil_mode)
        return _max_pool2d(x, geometry, return_indices)
    return _batched(fn, input, compute)


def _adaptive_size(output_size, size, fn):
    pair = (output_size, output_size) if output_size is None or isinstance(
        output_size, (int, np.integer)) else tuple(output_size)
    if len(pair) != 2:
        raise ValueError(f"{fn}: output_size must be an int or a pair, got {output_size!r}")
    pair = tuple(n if o is None else int(o) for o, n in zip(pair, size))
    _check_positive(pair, "output_size", fn)
    return pair


def _bin_matrix(n, out, dtype):
    """(out, n): row i averages input positions floor(i n / out) .. ceil((i + 1) n / out) - 1."""
    matrix = np.zeros((out, n), dtype=dtype)
    for i in range(out):
        start, end = (i * n) // out, -(-((i + 1) * n) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output_size (int, pair, None = keep), torch's bins: output i
    averages input floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1.

        >>> F.adaptive_avg_pool2d(mg.randn(2, 8, 7, 7), 1).shape                  # (2, 8, 1, 1)
    """
    fn = "adaptive_avg_pool2d"

    def compute(x):
        (h, w), (ho, wo) = x.shape[-2:], _adaptive_size(output_size, x.shape[-2:], fn)
        if h % ho == 0 and w % wo == 0:                    # equal bins: plain average pooling
            return avg_pool2d(x, (h // ho, w // wo))
        rows = Tensor(backend.to_device(_bin_matrix(h, ho, x.dtype), x.device))     # (Ho, H)
        cols = Tensor(backend.to_device(_bin_matrix(w, wo, x.dtype).T, x.device))   # (W, Wo)
        return rows @ x @ cols                             # (N, C, Ho, W) @ (W, Wo)
    return _batched(fn, input, compute)


# ---------------------------------------------------------------- interpolation
def _source_nearest(n, out, scale):
    """torch's nearest source index per output index, in float32 as torch computes it."""
    scale = np.float32(1.0 / scale) if scale is not None else np.float32(n) / np.float32(out)
    index = np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(index, n - 1)


def _source_linear(n, out, scale, align_corners, dtype):
    """(i0, i1, weight of i1) per output index, torch's area_pixel_compute_source_index."""
    if align_corners:
        ratio = dtype.type((n - 1) / (out - 1)) if out > 1 else dtype.type(0)
        src = ratio * np.arange(out, dtype=dtype)
    else:
        ratio = dtype.type(1.0 / scale) if scale is not None else dtype.type(n) / dtype.type(out)
        src = np.maximum(ratio * (np.arange(out, dtype=dtype) + dtype.type(0.5)) - dtype.type(0.5), 0)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, (src - i0).astype(dtype)


def _resampling_matrix(n, out, index, weight, dtype):
    """(out, n): row o takes (1 - weight[o]) of input index[0][o] and weight[o] of index[1][o]."""
    matrix = np.zeros((out, n), dtype=dtype)
    rows = np.arange(out)
    np.add.at(matrix, (rows, index[0]), 1 - weight)
    np.add.at(matrix, (rows, index[1]), weight)
    return matrix


def _resize(x, axis, index, weight):
    """Resample x (N, C, H, W) along axis 2 or 3 (see _resampling_matrix), as a product with a
    constant matrix: a dense GEMM (cuBLAS on the GPU), whose backward is another one. It costs
    O(H) per output element, yet at GAN sizes it beats a gather with a scatter-add backward."""
    n, out = x.shape[axis], len(index[0])
    weight = np.zeros(out) if weight is None else weight
    matrix = _resampling_matrix(n, out, index, weight, x.dtype)           # (out, n)
    if axis == 2:
        return Tensor(backend.to_device(matrix, x.device)) @ x            # (Ho, H) @ (N, C, H, W)
    return x @ Tensor(backend.to_device(matrix.T.copy(), x.device))       # (N, C, H, W) @ (W, Wo)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize input (N, C, H, W) to `size` (int or (h, w)) or by `scale_factor` (number or pair),
    mode 'nearest' or 'bilinear', with torch's source-index rules (align_corners for bilinear only;
    default False). The output size from a scale factor is floor(H * scale_factor).

        >>> F.interpolate(mg.randn(1, 3, 4, 4), size=(6, 8), mode="bilinear", align_corners=True).shape
        (1, 3, 6, 8)
    """
    fn = "interpolate"
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"{fn}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    _check_ndim(input, (4,), "input", fn)
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{fn}: align_corners can only be set with the interpolating modes "
                         f"('bilinear'), got mode {mode!r}")
    if antialias:
        raise NotImplementedError(f"{fn}: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    in_size = input.shape[-2:]
    if size is not None:
        out_size, scales = _pair(size, "size", fn), (None, None)
    else:
        scales = tuple(float(s) for s in (scale_factor if isinstance(scale_factor, (tuple, list))
                                          else (scale_factor, scale_factor)))
        if len(scales) != 2 or min(scales) <= 0:
            raise ValueError(f"{fn}: scale_factor must be a positive number or pair, got "
                             f"{scale_factor!r}")
        out_size = tuple(int(math.floor(n * s)) for n, s in zip(in_size, scales))
        if recompute_scale_factor:
            scales = (None, None)
    _check_positive(out_size, "output size", fn)
    out = input
    for axis, n, o, scale in zip((2, 3), in_size, out_size, scales):
        if mode == "nearest":
            index = _source_nearest(n, o, scale)
            out = _resize(out, axis, (index, index), None)
        else:
            i0, i1, weight = _source_linear(n, o, scale, bool(align_corners), np.dtype(input.dtype))
            out = _resize(out, axis, (i0, i1), weight)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The old name of `interpolate` (torch.nn.functional.upsample)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


# ---------------------------------------------------------------- shuffling, padding, dropout
def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): sub-pixel convolution's rearrangement (ESPCN).

        >>> F.pixel_shuffle(mg.randn(1, 12, 4, 4), 2).shape                      # (1, 3, 8, 8)
    """
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if r < 1 or c % (r * r):
        raise ValueError(f"pixel_shuffle: the channels ({c}) must be divisible by upscale_factor^2 "
                         f"({r}^2), got input of shape {input.shape}")
    x = input.reshape(-1, c // (r * r), r, r, h, w)           # (B, C, r, r, H, W)
    x = x.permute(0, 1, 4, 2, 5, 3)                           # (B, C, H, r, W, r)
    return x.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if r < 1 or h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height and width must be divisible by "
                         f"downscale_factor ({r}), got input of shape {input.shape}")
    x = input.reshape(-1, c, h // r, r, w // r, r)            # (B, C, H, r, W, r)
    x = x.permute(0, 1, 3, 5, 2, 4)                           # (B, C, r, r, H, W)
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))


def replication_pad2d(input, pad):
    """Pad (N, C, H, W) or (C, H, W) by repeating the edge pixels; pad = (left, right, top, bottom).
    Also F.pad(input, pad, mode='replicate')."""
    pad = tuple(int(p) for p in pad)
    if len(pad) != 4 or min(pad) < 0:
        raise ValueError(f"replication_pad2d: pad must be 4 amounts >= 0 (left, right, top, "
                         f"bottom), got {pad}")
    _check_ndim(input, (3, 4), "input", "replication_pad2d")
    h, w = input.shape[-2:]
    rows = np.clip(np.arange(-pad[2], h + pad[3]), 0, h - 1)
    cols = np.clip(np.arange(-pad[0], w + pad[1]), 0, w - 1)
    out = input[..., backend.to_device(rows, input.device), :]
    return out[..., backend.to_device(cols, input.device)]


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) (or (C, H, W)) with probability p, scale the rest by
    1/(1-p) (training only). The (N, C) mask comes from minigan's global generator."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    _check_ndim(input, (3, 4), "input", "dropout2d")
    if not training or p == 0:
        return input
    shape = input.shape[:-2] + (1, 1)                         # one draw per channel
    keep = mg_random.generator().random(shape) >= p
    mask = (keep / (1 - p) if p < 1 else keep * 0.0).astype(input.dtype)
    return input * Tensor(backend.to_device(mask, input.device))
