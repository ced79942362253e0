"""Array kernels behind nn.functional, dispatched on the array type: NumPy -> cpu/, CuPy -> gpu.py.

Every name below exists with the same signature in `reference` (readable NumPy, the test oracle),
`cpu` (Numba + BLAS) and `gpu` (CuPy). They take and return raw arrays, never Tensors; reference.py
documents the shapes and layouts. A call goes to the GPU module when any argument is a CuPy array.

    >>> import numpy as np
    >>> from minigan import kernels
    >>> kernels.leaky_relu_forward(np.array([-1.0, 2.0]), 0.2)
    array([-0.2,  2. ])
"""
import functools
import importlib

import numpy as np

from .. import backend
from ..backend import is_cupy_array
from . import cpu
from .cpu import gemm


@functools.lru_cache(maxsize=None)
def _gpu():
    """The CuPy kernels, imported on first use (importing them needs CuPy)."""
    try:
        return importlib.import_module(".gpu", __name__)
    except ImportError as e:
        raise RuntimeError(f"CuPy arrays were given but the GPU kernels could not be imported: {e}") from e


def module_for(*arrays):
    """cpu, or the gpu module when any of `arrays` is a CuPy array."""
    return _gpu() if any(is_cupy_array(a) for a in arrays) else cpu


# -------------------------------------------------------------------------------------- convolution

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or no bias when b is None:
    reference.conv2d_forward."""
    return module_for(x, w, b).conv2d_forward(x, w, b, stride, padding, dilation)


def conv2d_backward(x, w, gy, stride, padding, dilation, needs=(True, True, True)):
    """Gradients (gx, gw, gb) of conv2d_forward given gy (N, O, Ho, Wo): reference.conv2d_backward."""
    return module_for(x, w, gy).conv2d_backward(x, w, gy, stride, padding, dilation, needs=needs)


def conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation):
    """y (N, C_out, Ho, Wo) = conv_transpose(x (N, C_in, H, W), w (C_in, C_out, kh, kw)) + b (C_out,):
    reference.conv_transpose2d_forward."""
    return module_for(x, w, b).conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation)


def conv_transpose2d_backward(x, w, gy, stride, padding, output_padding, dilation, needs=(True, True, True)):
    """Gradients (gx, gw, gb) of conv_transpose2d_forward: gx is conv2d(gy, w); gw = X @ im2col(gy).T:
    reference.conv_transpose2d_backward."""
    return module_for(x, w, gy).conv_transpose2d_backward(
        x, w, gy, stride, padding, output_padding, dilation, needs=needs)


def im2col(x, kernel_size, stride, padding, dilation, out_size=None):
    """Unfold x (N, C, H, W) into columns (C*kh*kw, N*Ho*Wo); `out_size` (Ho, Wo) defaults to the conv's:
    reference.im2col."""
    return module_for(x).im2col(x, kernel_size, stride, padding, dilation, out_size=out_size)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_size=None):
    """Adjoint of im2col: fold columns (C*kh*kw, N*Ho*Wo) back into x_shape, summing overlapping taps:
    reference.col2im."""
    return module_for(cols).col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_size=out_size)


# ------------------------------------------------------- batch norm (instance norm runs through it)

def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, ...), each (C,), accumulated in float64:
    reference.batch_norm_stats."""
    return module_for(x).batch_norm_stats(x)


def batch_norm_apply(x, mean, invstd, weight, bias):
    """y = (x - mean) * invstd * weight + bias, per channel; weight/bias (C,) or None (meaning 1 and 0):
    reference.batch_norm_apply."""
    return module_for(x, mean, weight).batch_norm_apply(x, mean, invstd, weight, bias)


def batch_norm_backward(gy, x, mean, invstd, weight, training, needs=(True, True, True)):
    """Gradients (gx, gweight, gbias) of batch_norm_apply: reference.batch_norm_backward."""
    return module_for(gy, x, mean, weight).batch_norm_backward(
        gy, x, mean, invstd, weight, training, needs=needs)


# ---------------------------------------------------------------------------------------- LeakyReLU

def leaky_relu_forward(x, slope):
    """y = x where x > 0, slope * x elsewhere: reference.leaky_relu_forward."""
    return module_for(x).leaky_relu_forward(x, slope)


def leaky_relu_backward(gy, x, slope):
    """gx = gy where x > 0, slope * gy elsewhere (PyTorch's choice at x == 0):
    reference.leaky_relu_backward."""
    return module_for(gy, x).leaky_relu_backward(gy, x, slope)


# ------------------------------------------------------------------------------------------- losses

def binary_cross_entropy_forward(p, y, weight, reduction):
    """loss = -weight * (y * log(p) + (1 - y) * log(1 - p)), each log clamped at -100 like PyTorch:
    reference.binary_cross_entropy_forward."""
    return module_for(p, y, weight).binary_cross_entropy_forward(p, y, weight, reduction)


def binary_cross_entropy_backward(gout, p, y, weight, reduction):
    """gp = gout * weight * (p - y) / max(p * (1 - p), 1e-12)  (PyTorch's formula):
    reference.binary_cross_entropy_backward."""
    return module_for(gout, p, y, weight).binary_cross_entropy_backward(gout, p, y, weight, reduction)


def binary_cross_entropy_with_logits_forward(x, y, weight, pos_weight, reduction):
    """loss = weight * ((1 - y) * x + (1 + (pos_weight - 1) * y) * softplus(-x)), softplus computed stably:
    reference.binary_cross_entropy_with_logits_forward."""
    return module_for(x, y, weight).binary_cross_entropy_with_logits_forward(
        x, y, weight, pos_weight, reduction)


def binary_cross_entropy_with_logits_backward(gout, x, y, weight, pos_weight, reduction):
    """gx = gout * weight * ((1 + (pos_weight - 1) * y) * sigmoid(x) - pos_weight * y):
    reference.binary_cross_entropy_with_logits_backward."""
    return module_for(gout, x, y, weight).binary_cross_entropy_with_logits_backward(
        gout, x, y, weight, pos_weight, reduction)


# ------------------------------------------------------------------------------------------ padding

def reflection_pad2d_forward(x, pad):
    """x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right), mirrored at the edges (pads < sizes):
    reference.reflection_pad2d_forward."""
    return module_for(x).reflection_pad2d_forward(x, pad)


def reflection_pad2d_backward(gy, pad):
    """Adjoint of reflection_pad2d_forward: every padded position's gradient goes back to its source pixel:
    reference.reflection_pad2d_backward."""
    return module_for(gy).reflection_pad2d_backward(gy, pad)


# ------------------------------------------------------------------------------------------- pooling

def avg_pool2d_forward(x, geom, divisor):
    """y (N, C, Ho, Wo): each window's sum over the zero-padded x (N, C, H, W), / divisor (Ho, Wo); geom a
    Geometry whose grid is the pooled size: reference.avg_pool2d_forward."""
    return module_for(x).avg_pool2d_forward(x, geom, divisor)


def max_pool2d_forward(x, geom, with_pick=True):
    """(y, pick): each window's largest value and its offset i*kw + j (None unless with_pick):
    reference.max_pool2d_forward."""
    return module_for(x).max_pool2d_forward(x, geom, with_pick=with_pick)


# ------------------------------------------------------------------------------------------- optimizer

def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """One Adam step on one parameter, in place: reference.adam_step."""
    return module_for(param).adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2,
                                       eps, weight_decay)


def matmul(a, b, out=None):
    """a @ b. 2-D NumPy products go through cpu.gemm (split over minigan's threads, numpy's BLAS at one
    thread inside them: cpu/threads.py); anything else is xp.matmul."""
    if is_cupy_array(a) or is_cupy_array(b) or a.ndim != 2 or b.ndim != 2:
        return backend.get_array_module(a).matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    return gemm.matmul(a, b, out)


# The kernels above, each with the same signature in reference, cpu and gpu (tests/kernels checks it).
NAMES = ("conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward",
         "im2col", "col2im", "batch_norm_stats", "batch_norm_apply", "batch_norm_backward",
         "leaky_relu_forward", "leaky_relu_backward",
         "binary_cross_entropy_forward", "binary_cross_entropy_backward",
         "binary_cross_entropy_with_logits_forward", "binary_cross_entropy_with_logits_backward",
         "reflection_pad2d_forward", "reflection_pad2d_backward", "avg_pool2d_forward", "max_pool2d_forward",
         "adam_step")
__all__ = list(NAMES) + ["matmul", "module_for", "cpu"]
