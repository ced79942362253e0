"""Differentiable convolutions over the kernels: conv2d, conv_transpose2d, and the weight gradient.

The three ops are each other's derivatives. With y = conv2d(x, w) (weights (O, C, kh, kw)):

    dL/dx = conv_transpose2d(gy, w)          the adjoint of a conv is a transposed conv
    dL/dw = ConvWeightGrad(x, gy)            an op of its own, whose backward is again a conv pair:
            d/dx  = conv_transpose2d(gy, ggw),   d/dgy = conv2d(x, ggw)

and a transposed conv swaps the roles: its input gradient is conv2d(gy, w), its weight gradient
ConvWeightGrad(gy, x). So any order of derivative is a chain of these three.

First-order training (no create_graph: graph recording is off while backward runs) calls the fused
kernels instead, one call for all three gradients, which share their im2col/col2im work.

Geometry arguments are pairs of ints, already checked by nn.functional: stride, padding, dilation,
output_padding.
"""
from .. import backend, kernels
from .function import Function, is_grad_enabled
from .tensor import Tensor


def _wrap(*arrays):
    return tuple(None if a is None else Tensor(a) for a in arrays)


def _output_padding(size, out_size, kernel, stride, padding, dilation):
    """The output_padding that makes a transposed conv from `out_size` land exactly on `size`."""
    return tuple(s - ((o - 1) * st - 2 * p + d * (k - 1) + 1)
                 for s, o, k, st, p, d in zip(size, out_size, kernel, stride, padding, dilation))


def _conv_to(x, w, size, stride, padding, dilation):
    """conv2d(x, w), cropped to `size`: the adjoint of a transposed conv whose output_padding is at
    least its stride (allowed when smaller than its dilation) has rows that no input reached."""
    y = Conv2d.apply(x, w, None, stride, padding, dilation)
    if y.shape[2:] != tuple(size):
        y = y[:, :, :size[0], :size[1]]
    return y


def _input_grad(gy, w, x_size, stride, padding, dilation):
    """dL/dx of y = conv2d(x, w): a transposed conv of gy, cropped/padded to x's size."""
    op = _output_padding(x_size, gy.shape[2:], w.shape[2:], stride, padding, dilation)
    return ConvTranspose2d.apply(gy, w, None, stride, padding, op, dilation)


class Conv2d(Function):
    """y = conv2d(x (N, C, H, W), w (O, C, kh, kw)) + b (O,)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, dilation)
        return kernels.conv2d_forward(x, w, b, stride, padding, dilation)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if not is_grad_enabled():           # first order: one fused kernel call
            grads = kernels.conv2d_backward(x.array, w.array, gy.array, *ctx.geometry, needs=needs)
            return _wrap(*grads) + (None, None, None)
        stride, padding, dilation = ctx.geometry
        gx = _input_grad(gy, w, x.shape[2:], *ctx.geometry) if needs[0] else None
        gw = ConvWeightGrad.apply(x, gy, w.shape, stride, padding, dilation) if needs[1] else None
        gb = gy.sum(dim=(0, 2, 3)) if needs[2] else None
        return gx, gw, gb, None, None, None


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x (N, C_in, H, W), w (C_in, C_out, kh, kw)) + b (C_out,)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_padding, dilation):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, output_padding, dilation)
        return kernels.conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if not is_grad_enabled():
            grads = kernels.conv_transpose2d_backward(x.array, w.array, gy.array, *ctx.geometry,
                                                      needs=needs)
            return _wrap(*grads) + (None,) * 4
        stride, padding, _, dilation = ctx.geometry
        gx = _conv_to(gy, w, x.shape[2:], stride, padding, dilation) if needs[0] else None
        gw = ConvWeightGrad.apply(gy, x, w.shape, stride, padding, dilation) if needs[1] else None
        gb = gy.sum(dim=(0, 2, 3)) if needs[2] else None
        return gx, gw, gb, None, None, None, None


class ConvWeightGrad(Function):
    """gw (O, C, kh, kw) = dL/dw of y = conv2d(x, w) for gy = dL/dy: a bilinear op of (x, gy)."""

    @staticmethod
    def forward(ctx, x, gy, weight_shape, stride, padding, dilation):
        ctx.save_for_backward(x, gy)
        ctx.geometry = (stride, padding, dilation)
        w = backend.get_array_module(x).empty(weight_shape, x.dtype)    # only its shape is read
        return kernels.conv2d_backward(x, w, gy, stride, padding, dilation,
                                       needs=(False, True, False))[1]

    @staticmethod
    def backward(ctx, ggw):
        x, gy = ctx.saved_tensors
        gx = _input_grad(gy, ggw, x.shape[2:], *ctx.geometry) if ctx.needs_input_grad[0] else None
        ggy = _conv_to(x, ggw, gy.shape[2:], *ctx.geometry) if ctx.needs_input_grad[1] else None
        return gx, ggy, None, None, None, None

