"""Differentiable binary cross-entropy losses over the fused kernels.

First-order training takes the input gradient from the fused kernel. With create_graph it is written
in Tensor ops, so it can be differentiated again; the target's gradient (soft targets that require
grad, rare) is always written in Tensor ops. `reduction` is 'mean', 'sum' or 'none'; g is the
upstream gradient (a scalar, or shaped like the input for 'none').
"""
from .. import kernels
from .function import Function, is_grad_enabled
from .tensor import Tensor


def _as_dtype(a, dtype):
    return None if a is None else a.astype(dtype, copy=False)


def _per_element(g, input, reduction):
    """The upstream gradient each element receives: g / n for 'mean', g otherwise."""
    return g / input.numel() if reduction == "mean" else g


def _weighted(t, weight):
    return t if weight is None else t * weight


class BinaryCrossEntropy(Function):
    """-weight * (y log p + (1 - y) log(1 - p)), each log clamped at -100 (PyTorch's)."""

    @staticmethod
    def forward(ctx, p, y, weight, reduction):
        y, weight = _as_dtype(y, p.dtype), _as_dtype(weight, p.dtype)
        ctx.save_for_backward(p, y, weight)
        ctx.reduction = reduction
        return kernels.binary_cross_entropy_forward(p, y, weight, reduction)

    @staticmethod
    def backward(ctx, g):
        p, y, weight = ctx.saved_tensors
        gp = gy = None
        if ctx.needs_input_grad[0] and not is_grad_enabled():
            gp = Tensor(kernels.binary_cross_entropy_backward(
                g.array, p.array, y.array, None if weight is None else weight.array, ctx.reduction))
        elif ctx.needs_input_grad[0]:        # PyTorch's formula: (p - y) / max(p (1 - p), 1e-12)
            gp = _per_element(g, p, ctx.reduction) * _weighted(
                (p - y) / (p * (1 - p)).clamp(min=1e-12), weight)
        if ctx.needs_input_grad[1]:          # d/dy = log(1 - p) - log(p), each clamped at -100
            log_ratio = (1 - p).log().clamp(min=-100) - p.log().clamp(min=-100)
            gy = _per_element(g, p, ctx.reduction) * _weighted(log_ratio, weight)
        return gp, gy, None, None


class BinaryCrossEntropyWithLogits(Function):
    """weight * ((1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)), computed stably."""

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        y, weight = _as_dtype(y, x.dtype), _as_dtype(weight, x.dtype)
        pos_weight = _as_dtype(pos_weight, x.dtype)
        ctx.save_for_backward(x, y, weight, pos_weight)
        ctx.reduction = reduction
        return kernels.binary_cross_entropy_with_logits_forward(x, y, weight, pos_weight, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, pos_weight = ctx.saved_tensors
        gx = gy = None
        if ctx.needs_input_grad[0] and not is_grad_enabled():
            raw = [None if t is None else t.array for t in (weight, pos_weight)]
            gx = Tensor(kernels.binary_cross_entropy_with_logits_backward(
                g.array, x.array, y.array, *raw, ctx.reduction))
        elif ctx.needs_input_grad[0]:        # sigmoid(x) - y, or (1 + (pw - 1) y) sigmoid(x) - pw y
            d = x.sigmoid() - y if pos_weight is None else \
                (1 + (pos_weight - 1) * y) * x.sigmoid() - pos_weight * y
            gx = _per_element(g, x, ctx.reduction) * _weighted(d, weight)
        if ctx.needs_input_grad[1]:          # d/dy = -x + (pos_weight - 1) * softplus(-x)
            d = -x
            if pos_weight is not None:
                softplus = (-x).relu() + ((-x.abs()).exp() + 1).log()
                d = d + (pos_weight - 1) * softplus
            gy = _per_element(g, x, ctx.reduction) * _weighted(d, weight)
        return gx, gy, None, None, None
