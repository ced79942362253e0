"""Reference kernels in plain NumPy: the oracle of the fast kernels' tests, and the text to learn from.

Every function here has a twin with the same name and signature in `cpu.py` (Numba) and `gpu.py` (CuPy).
They take and return raw arrays, never Tensors. Conventions shared by all three files:

- Images are NCHW. `stride`, `padding`, `dilation`, `output_padding` are int pairs (h, w).
- conv2d weight: (O, C, kh, kw), PyTorch's layout. conv_transpose2d weight: (C_in, C_out, kh, kw).
- Column matrix of `im2col`: shape (C*kh*kw, N*Ho*Wo); row (c, i, j) -> c*kh*kw + i*kw + j, column
  (n, ho, wo) -> (n*Ho + ho)*Wo + wo, and
  cols[(c, i, j), (n, ho, wo)] = x_padded[n, c, ho*s + i*d, wo*s + j*d].
  A convolution is then one matrix product: W.reshape(O, C*kh*kw) @ cols -> (O, N*Ho*Wo).
- Backward functions take `needs` (one flag per gradient) and return None for gradients not asked for.
- Reductions 'mean' | 'sum' return a 0-d array, 'none' an array shaped like the input.
"""
import math

import numpy as np

from ..backend import get_array_module


def conv_output_size(size, kernel, stride, padding, dilation):
    """Output length of a convolution along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation):
    """Output length of a transposed convolution along one axis."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _pad_for_taps(x, kernel_size, stride, padding, dilation, out_size):
    """Zero-pad x (N, C, H, W) so that every tap window of an (Ho, Wo) output grid lies inside it."""
    pads = [(0, 0), (0, 0)]
    for axis, (k, s, p, d, o) in enumerate(zip(kernel_size, stride, padding, dilation, out_size)):
        reach = (k - 1) * d + s * (o - 1) + 1          # padded length the taps touch
        extra = max(0, reach - (x.shape[2 + axis] + 2 * p))
        pads.append((p, p + extra))
    return np.pad(x, pads)


def _out_size(shape, kernel_size, stride, padding, dilation, out_size):
    if out_size is not None:
        return tuple(out_size)
    return tuple(conv_output_size(shape[2 + a], kernel_size[a], stride[a], padding[a], dilation[a])
                 for a in (0, 1))


def im2col(x, kernel_size, stride, padding, dilation, out_size=None):
    """Unfold x (N, C, H, W) into columns (C*kh*kw, N*Ho*Wo); `out_size` (Ho, Wo) defaults to the conv's."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    Ho, Wo = _out_size(x.shape, kernel_size, stride, padding, dilation, out_size)
    xp = _pad_for_taps(x, kernel_size, stride, padding, dilation, (Ho, Wo))
    cols = np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # tap (i, j) sees rows i*dh + sh*ho and columns j*dw + sw*wo of the padded image
            window = xp[:, :, i * dh: i * dh + sh * (Ho - 1) + 1: sh, j * dw: j * dw + sw * (Wo - 1) + 1: sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)      # (N, C, Ho, Wo) -> (C, N, Ho, Wo)
    return cols.reshape(C * kh * kw, N * Ho * Wo)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_size=None):
    """Adjoint of im2col: fold columns (C*kh*kw, N*Ho*Wo) back into x_shape, summing overlapping taps."""
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    Ho, Wo = _out_size(x_shape, kernel_size, stride, padding, dilation, out_size)
    xp = _pad_for_taps(np.zeros(x_shape, cols.dtype), kernel_size, stride, padding, dilation, (Ho, Wo))
    cols = cols.reshape(C, kh, kw, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i * dh: i * dh + sh * (Ho - 1) + 1: sh, j * dw: j * dw + sw * (Wo - 1) + 1: sw]
            window += cols[:, i, j].transpose(1, 0, 2, 3)     # (C, N, Ho, Wo) -> (N, C, Ho, Wo)
    ph, pw = padding
    return np.ascontiguousarray(xp[:, :, ph: ph + H, pw: pw + W])


# ---------------------------------------------------------------------------------------------- conv2d

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or no bias when b is None."""
    N = x.shape[0]
    O, C, kh, kw = w.shape
    cols = im2col(x, (kh, kw), stride, padding, dilation)            # (C*kh*kw, N*Ho*Wo)
    Ho, Wo = _out_size(x.shape, (kh, kw), stride, padding, dilation, None)
    y = w.reshape(O, C * kh * kw) @ cols                              # (O, N*Ho*Wo)
    y = y.reshape(O, N, Ho, Wo).transpose(1, 0, 2, 3)                 # (N, O, Ho, Wo)
    if b is not None:
        y = y + b.reshape(1, O, 1, 1)
    return np.ascontiguousarray(y)


def conv2d_backward(x, w, gy, stride, padding, dilation, needs=(True, True, True)):
    """Gradients (gx, gw, gb) of conv2d_forward given gy (N, O, Ho, Wo).

    With gY = gy as (O, N*Ho*Wo): gw = gY @ im2col(x).T, gx = col2im(W.T @ gY), gb = gy summed over N, H, W.
    """
    O, C, kh, kw = w.shape
    gY = gy.transpose(1, 0, 2, 3).reshape(O, -1)                     # (O, N*Ho*Wo)
    gx = gw = gb = None
    if needs[0]:
        gcols = w.reshape(O, C * kh * kw).T @ gY                      # (C*kh*kw, N*Ho*Wo)
        gx = col2im(gcols, x.shape, (kh, kw), stride, padding, dilation)
    if needs[1]:
        gw = (gY @ im2col(x, (kh, kw), stride, padding, dilation).T).reshape(w.shape)
    if needs[2]:
        gb = gy.sum(axis=(0, 2, 3))
    return gx, gw, gb


# ------------------------------------------------------------------------------------ conv_transpose2d

def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """y (N, C_out, Ho, Wo) = conv_transpose(x (N, C_in, H, W), w (C_in, C_out, kh, kw)) + b (C_out,).

    The adjoint of conv2d: each input pixel scatters w[c_in] * x into the output; as matrices,
    cols = W.T @ X with X = x as (C_in, N*H*W), then col2im folds cols into y.
    """
    N, Cin, H, W = x.shape
    _, Cout, kh, kw = w.shape
    Ho, Wo = (conv_transpose_output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a],
                                         output_padding[a], dilation[a]) for a in (0, 1))
    X = x.transpose(1, 0, 2, 3).reshape(Cin, N * H * W)              # (C_in, N*H*W)
    cols = w.reshape(Cin, Cout * kh * kw).T @ X                       # (C_out*kh*kw, N*H*W)
    y = col2im(cols, (N, Cout, Ho, Wo), (kh, kw), stride, padding, dilation, out_size=(H, W))
    if b is not None:
        y += b.reshape(1, Cout, 1, 1)
    return y


def conv_transpose2d_backward(x, w, gy, stride, padding, output_padding, dilation, needs=(True, True, True)):
    """Gradients (gx, gw, gb) of conv_transpose2d_forward: gx is conv2d(gy, w); gw = X @ im2col(gy).T."""
    N, Cin, H, W = x.shape
    _, Cout, kh, kw = w.shape
    gx = gw = gb = None
    cols = im2col(gy, (kh, kw), stride, padding, dilation, out_size=(H, W))   # (C_out*kh*kw, N*H*W)
    if needs[0]:
        gX = w.reshape(Cin, Cout * kh * kw) @ cols                   # (C_in, N*H*W)
        gx = np.ascontiguousarray(gX.reshape(Cin, N, H, W).transpose(1, 0, 2, 3))
    if needs[1]:
        X = x.transpose(1, 0, 2, 3).reshape(Cin, N * H * W)
        gw = (X @ cols.T).reshape(w.shape)
    if needs[2]:
        gb = gy.sum(axis=(0, 2, 3))
    return gx, gw, gb


# ------------------------------------------------------------------------------------------ batch norm
# Batch norm over axis 1 of x (N, C, *spatial). Instance norm is batch norm of x viewed as (1, N*C, H, W).

def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, ...), each (C,), accumulated in float64."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, dtype=np.float64)
    var = x.var(axis=axes, dtype=np.float64)
    return mean.astype(x.dtype), var.astype(x.dtype)


def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_apply(x, mean, invstd, weight, bias):
    """y = (x - mean) * invstd * weight + bias, per channel; weight/bias (C,) or None (meaning 1 and 0)."""
    y = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    if weight is not None:
        y = y * _per_channel(weight, x.ndim)
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)
    return y.astype(x.dtype)


def batch_norm_backward(gy, x, mean, invstd, weight, training, needs=(True, True, True)):
    """Gradients (gx, gweight, gbias) of batch_norm_apply.

    With xhat = (x - mean) * invstd, M elements per channel, g = gy * weight:
      gbias = sum(gy), gweight = sum(gy * xhat),
      training (mean/invstd are this batch's): gx = invstd * (g - mean(g) - xhat * mean(g * xhat))
      eval (mean/invstd are constants):          gx = invstd * g
    """
    axes = (0,) + tuple(range(2, x.ndim))
    xhat = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    gbias = gy.sum(axis=axes)
    gweight = (gy * xhat).sum(axis=axes)
    gx = None
    if needs[0]:
        scale = invstd if weight is None else invstd * weight
        if training:
            M = x.size // x.shape[1]
            gx = _per_channel(scale, x.ndim) * (gy - _per_channel(gbias / M, x.ndim)
                                                 - xhat * _per_channel(gweight / M, x.ndim))
        else:
            gx = gy * _per_channel(scale, x.ndim)
        gx = gx.astype(x.dtype)
    return gx, (gweight if needs[1] else None), (gbias if needs[2] else None)


# ------------------------------------------------------------------------------------------ LeakyReLU

def leaky_relu_forward(x, slope):
    """y = x where x > 0, slope * x elsewhere."""
    return np.where(x > 0, x, x * x.dtype.type(slope))


def leaky_relu_backward(gy, x, slope):
    """gx = gy where x > 0, slope * gy elsewhere (PyTorch's choice at x == 0)."""
    return np.where(x > 0, gy, gy * gy.dtype.type(slope))


# ----------------------------------------------------------------------------------------------- losses

def _reduce(loss, reduction):
    if reduction == "mean":
        return np.asarray(loss.mean(dtype=np.float64), dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(loss.sum(dtype=np.float64), dtype=loss.dtype)
    return loss


def _reduce_grad(gout, n, reduction, dtype):
    """The upstream gradient each element receives: gout / n for 'mean', gout for 'sum' or 'none'."""
    gout = np.asarray(gout, dtype=dtype)
    return gout / dtype.type(n) if reduction == "mean" else gout


def binary_cross_entropy_forward(p, y, weight, reduction):
    """loss = -weight * (y * log(p) + (1 - y) * log(1 - p)), each log clamped at -100 like PyTorch."""
    with np.errstate(divide="ignore"):                # log(0) = -inf, then clamped
        log_p = np.maximum(np.log(p), -100)
        log_1mp = np.maximum(np.log1p(-p), -100)
    loss = -(y * log_p + (1 - y) * log_1mp)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.astype(p.dtype), reduction)


def binary_cross_entropy_backward(gout, p, y, weight, reduction):
    """gp = gout * weight * (p - y) / max(p * (1 - p), 1e-12)  (PyTorch's formula)."""
    g = _reduce_grad(gout, p.size, reduction, p.dtype)
    gp = g * (p - y) / np.maximum(p * (1 - p), 1e-12)
    if weight is not None:
        gp = gp * weight
    return gp.astype(p.dtype)


def binary_cross_entropy_with_logits_forward(x, y, weight, pos_weight, reduction):
    """loss = weight * ((1 - y) * x + (1 + (pos_weight - 1) * y) * softplus(-x)), softplus computed stably.

    softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)).
    """
    softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
    loss = (1 - y) * x + log_weight * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.astype(x.dtype), reduction)


def binary_cross_entropy_with_logits_backward(gout, x, y, weight, pos_weight, reduction):
    """gx = gout * weight * ((1 + (pos_weight - 1) * y) * sigmoid(x) - pos_weight * y)
    (sigmoid(x) - y without pos_weight)."""
    g = _reduce_grad(gout, x.size, reduction, x.dtype)
    sig = 1 / (1 + np.exp(-x))
    if pos_weight is None:
        gx = sig - y
    else:
        gx = (1 + (pos_weight - 1) * y) * sig - pos_weight * y
    if weight is not None:
        gx = gx * weight
    return (g * gx).astype(x.dtype)


# ------------------------------------------------------------------------------------------------ padding
# pad = (left, right, top, bottom), PyTorch's order for the last two axes.

def _reflect_index(n, before, after):
    """Source index of each of the n + before + after positions of a reflect-padded axis ."""
    i = np.arange(-before, n + after)
    i = np.abs(i)                                     # left side mirrors around 0
    return np.where(i > n - 1, 2 * (n - 1) - i, i)    # right side mirrors around n - 1


def reflection_pad2d_forward(x, pad):
    """x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right), mirrored at the edges (pads < sizes)."""
    left, right, top, bottom = pad
    rows = _reflect_index(x.shape[2], top, bottom)
    cols = _reflect_index(x.shape[3], left, right)
    return np.ascontiguousarray(x[:, :, rows[:, None], cols[None, :]])


def reflection_pad2d_backward(gy, pad):
    """Adjoint of reflection_pad2d_forward: every padded position's gradient goes back to its source pixel."""
    left, right, top, bottom = pad
    N, C, Hp, Wp = gy.shape
    H, W = Hp - top - bottom, Wp - left - right
    rows = _reflect_index(H, top, bottom)
    cols = _reflect_index(W, left, right)
    gx = np.zeros((N, C, H, W), dtype=gy.dtype)
    np.add.at(gx, (slice(None), slice(None), rows[:, None], cols[None, :]), gy)
    return gx


# ------------------------------------------------------------------------------------------- optimizer
# One Adam step on one parameter, in place. NumPy's ufuncs hand CuPy arrays to CuPy, so this also runs on
# the GPU (gpu.adam_step is this function); the CPU kernel reproduces its order of operations, so the two
# round alike.

def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """Adam (torch's formula) on param, updating exp_avg, exp_avg_sq and (AMSGrad, else None)
    max_exp_avg_sq in place; `step` counts from 1. All arrays share param's shape and dtype.

    g = grad + weight_decay * param;  m += (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2;
    param -= lr / (1 - beta1^step) * m / (sqrt(v or max(v_max, v)) / sqrt(1 - beta2^step) + eps)
    """
    if weight_decay:
        grad = grad + weight_decay * param
    exp_avg += (grad - exp_avg) * (1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += grad * grad * (1 - beta2)
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = np.sqrt(second) / math.sqrt(1 - beta2 ** step) + eps
    param -= exp_avg / denom * (lr / (1 - beta1 ** step))


# -------------------------------------------------------------------------------------------- pooling
# `geom` is a Geometry whose grid (Ho, Wo) is the pooled size (nn.functional applies ceil_mode). A window
# is visited as kh*kw strided slices of the padded input, one per kernel offset (i, j):
# xpad[..., i*dh : i*dh + sh*(Ho-1) + 1 : sh, j*dw : ...] is the (N, C, Ho, Wo) plane of every window's
# (i, j) element. Whole-array operations only, so these also run on CuPy arrays (gpu.py uses them).

def pool_padded_size(size, geom):
    """(Hp, Wp): the padded input size that every window fits in (padding top/left, padding or more
    bottom/right, since ceil_mode windows may overhang)."""
    return tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1) for n, p, o, s, d, k in zip(
        size, (geom.ph, geom.pw), (geom.Ho, geom.Wo), (geom.sh, geom.sw), (geom.dh, geom.dw), (geom.kh, geom.kw)))


def pool_windows(geom):
    """(k, slices) for each kernel offset k = i*kw + j: that element of every window, (..., Ho, Wo)."""
    for i in range(geom.kh):
        for j in range(geom.kw):
            yield i * geom.kw + j, (Ellipsis, slice(i * geom.dh, i * geom.dh + geom.sh * (geom.Ho - 1) + 1, geom.sh),
                                    slice(j * geom.dw, j * geom.dw + geom.sw * (geom.Wo - 1) + 1, geom.sw))


def pool_crop(xpad, geom, size):
    """The (..., H, W) input region of a padded (..., Hp, Wp) array (a view)."""
    return xpad[..., geom.ph:geom.ph + size[0], geom.pw:geom.pw + size[1]]


def pool_pad(x, geom, value):
    """x (..., H, W) -> (..., Hp, Wp) with `value` around it."""
    padded = pool_padded_size(x.shape[-2:], geom)
    if padded == x.shape[-2:]:
        return x
    xpad = get_array_module(x).full(x.shape[:-2] + padded, value, dtype=x.dtype)
    pool_crop(xpad, geom, x.shape[-2:])[...] = x
    return xpad


def avg_pool2d_forward(x, geom, divisor):
    """y (N, C, Ho, Wo): each window's sum over the zero-padded x (offsets in order), / divisor (Ho, Wo)."""
    xp = get_array_module(x)
    xpad = pool_pad(x, geom, 0)
    y = xp.zeros(x.shape[:-2] + (geom.Ho, geom.Wo), dtype=x.dtype)
    for _, window in pool_windows(geom):
        y += xpad[window]
    return y / xp.asarray(divisor, dtype=x.dtype)


def max_pool2d_forward(x, geom, with_pick=True):
    """(y, pick): each window's largest value and (with_pick, else None) its offset i*kw + j, both
    (N, C, Ho, Wo). The first largest wins; a NaN wins over numbers (the last NaN), as in torch; padding
    is never picked."""
    xp = get_array_module(x)
    xpad = pool_pad(x, geom, -np.inf)
    inside = xp.zeros(pool_padded_size(x.shape[-2:], geom), dtype=bool)    # which padded cells are input
    pool_crop(inside, geom, x.shape[-2:])[...] = True
    best = pick = found = None
    for k, window in pool_windows(geom):
        values, real = xpad[window], inside[window[1:]]
        if best is None:
            best, found = values.copy(), xp.broadcast_to(real, values.shape).copy()
            pick = xp.zeros(values.shape, dtype=np.int64)
            continue
        take = (values > best) | (values != values) | ~found       # larger, NaN, or the first input cell
        take &= real
        xp.copyto(best, values, where=take)
        xp.copyto(pick, k, where=take)
        found |= real
    return best, (pick if with_pick else None)
