"""Differentiable padding: reflection padding over the kernels, and constant padding (or cropping).

Both are linear, so each backward is the adjoint op: reflection padding's adjoint adds every mirrored
pixel's gradient back to its source (ReflectionPad2dBackward), whose own adjoint is reflection padding
again; a constant pad's adjoint is the crop that removes it, which is a constant pad by negative amounts.
"""
from .. import backend, kernels
from .function import Function


class ReflectionPad2d(Function):
    """x (N, C, H, W) mirrored at its edges by pad = (left, right, top, bottom)."""

    @staticmethod
    def forward(ctx, x, pad):
        ctx.pad = pad
        return kernels.reflection_pad2d_forward(x, pad)

    @staticmethod
    def backward(ctx, gy):
        return ReflectionPad2dBackward.apply(gy, ctx.pad), None


class ReflectionPad2dBackward(Function):
    """The adjoint of ReflectionPad2d: gy (N, C, H + top + bottom, W + left + right) -> gx (N, C, H, W)."""

    @staticmethod
    def forward(ctx, gy, pad):
        ctx.pad = pad
        return kernels.reflection_pad2d_backward(gy, pad)

    @staticmethod
    def backward(ctx, ggx):
        return ReflectionPad2d.apply(ggx, ctx.pad), None


class ConstantPad(Function):
    """Pad (or crop, for negative amounts) the trailing dims with a constant; pad = (last dim's before,
    after, the dim before's before, after, ...), PyTorch's order."""

    @staticmethod
    def forward(ctx, x, pad, value):
        xp = backend.get_array_module(x)
        lead = x.ndim - len(pad) // 2
        amounts = [(0, 0)] * lead + [(pad[2 * k], pad[2 * k + 1]) for k in reversed(range(len(pad) // 2))]
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, amounts))
        if min(shape) < 0:
            raise ValueError(f"pad: padding {pad} makes a negative size {shape} from input shape {x.shape}")
        src = tuple(slice(max(-a, 0), n - max(-b, 0)) for n, (a, b) in zip(x.shape, amounts))
        dst = tuple(slice(max(a, 0), m - max(b, 0)) for m, (a, b) in zip(shape, amounts))
        y = xp.full(shape, value, dtype=x.dtype)
        y[dst] = x[src]
        ctx.pad = pad
        return y

    @staticmethod
    def backward(ctx, gy):
        return ConstantPad.apply(gy, tuple(-p for p in ctx.pad), 0), None, None
