"""Differentiable LeakyReLU over the fused kernels.

Its backward gx = leaky_relu_backward(gy, x) is linear in gy with a constant mask from x, so the
backward is an op of its own (LeakyReLUBackward) whose backward is itself again: d/dgy applies the same
mask, and the mask's derivative with respect to x is zero. Both orders run the fused kernel.
"""
from .. import kernels
from .function import Function


class LeakyReLU(Function):
    """y = x where x > 0, slope * x elsewhere."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return kernels.leaky_relu_forward(x, slope)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return LeakyReLUBackward.apply(gy, x, ctx.slope), None


class LeakyReLUBackward(Function):
    """gx = gy where x > 0, slope * gy elsewhere."""

    @staticmethod
    def forward(ctx, gy, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return kernels.leaky_relu_backward(gy, x, slope)

    @staticmethod
    def backward(ctx, ggx):
        (x,) = ctx.saved_tensors
        return LeakyReLUBackward.apply(ggx, x, ctx.slope), None, None
