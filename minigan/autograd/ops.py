"""Differentiable ops, arithmetic and elementwise math: one `Function` per op, forward and backward
side by side (reductions, shapes, indexing and joining are in shape.py).

`forward` works on raw NumPy or CuPy arrays through `xp = get_array_module(x)`. `backward` works on
Tensors and is written with differentiable ops, so its result can be differentiated again: Mul's
backward is `g * b`, Tanh's is `g * (1 - out * out)` with `out` the saved output Tensor. Masks (where
ReLU passes, the sign in Abs) are constants: the second derivative of a piecewise-linear op is zero.
Gradients of broadcasting ops are returned broadcast-shaped; the engine sums them back to each input's
shape (function.sum_to_shape).
"""
import numpy as np

from .. import backend, kernels
from .function import Function
from .tensor import Tensor

xp_of = backend.get_array_module


def _like(value, array):
    """A Python scalar as an array of `array`'s dtype, so float32 math stays float32."""
    return value if hasattr(value, "shape") else array.dtype.type(value)


def _constant(array, like):
    """A mask or factor array as a constant Tensor of `like`'s dtype (it carries no gradient)."""
    return Tensor(array.astype(like.dtype, copy=False))


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + _like(b, a)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - _like(b, a)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * _like(b, a)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / _like(b, a)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """a ** b for a tensor base and a scalar or tensor exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** _like(b, a)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ga = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        gb = g * out * a.log() if ctx.needs_input_grad[1] else None
        return ga, gb


class RPow(Function):
    """scalar ** tensor."""

    @staticmethod
    def forward(ctx, a, base):
        out = _like(base, a) ** a
        ctx.save_for_backward(out)
        ctx.log_base = np.log(base)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * ctx.log_base, None


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both arguments need at least 1 dimension, got shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match: the last "
                f"dimension of input ({a.shape[-1]}) must equal the "
                f"{'second-to-last' if b.ndim > 1 else 'only'} dimension of other "
                f"({b.shape[-2 if b.ndim > 1 else 0]})")
        ctx.save_for_backward(a, b)
        return kernels.matmul(a, b)                    # 2-D: threaded BLAS split (kernels/cpu/gemm.py)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a2 = a.unsqueeze(0) if a.ndim == 1 else a              # (.., n, k)
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b             # (.., k, m)
        g2 = g.unsqueeze(-2) if a.ndim == 1 else g
        g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2           # (.., n, m)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2 @ b2.transpose(-1, -2)                     # (.., n, k)
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
        if ctx.needs_input_grad[1]:
            gb = a2.transpose(-1, -2) @ g2                     # (.., k, m)
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb


# ---------------------------------------------------------------- elementwise math
class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved_tensors[0])


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _constant(xp_of(a.array).sign(a.array), g)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        half = a.dtype.type(0.5)
        out = half * xp_of(a).tanh(half * a) + half    # = 1 / (1 + exp(-a)), without overflow
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp_of(a).maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * _constant(out.array > 0, g)


class LeakyReLU(Function):
    """Slow-path LeakyReLU from primitives; nn.functional uses the fused kernel."""

    @staticmethod
    def forward(ctx, a, slope):
        ctx.save_for_backward(a)
        ctx.slope = slope
        return xp_of(a).where(a > 0, a, a * a.dtype.type(slope))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _constant(xp_of(a.array).where(a.array > 0, 1, ctx.slope), g), None


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, low, high):
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        return xp_of(a).clip(a, low, high)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        inside = xp_of(a.array).ones(a.shape, dtype=bool)
        if ctx.low is not None:
            inside &= a.array >= ctx.low
        if ctx.high is not None:
            inside &= a.array <= ctx.high
        return g * _constant(inside, g), None, None


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        xp = xp_of(cond)
        if hasattr(a, "dtype"):
            return xp.where(cond, a, _like(b, a))
        return xp.where(cond, _like(a, b) if hasattr(b, "dtype") else a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        ga = Where.apply(cond.array, g, 0.0) if ctx.needs_input_grad[1] else None
        gb = Where.apply(cond.array, 0.0, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return Cast.apply(g, ctx.dtype), None


class Clone(Function):
    """A copy of the data, in the graph (gradients pass through unchanged)."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.device = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return ToDevice.apply(g, ctx.device), None


