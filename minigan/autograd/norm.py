"""Differentiable batch and instance normalisation over the fused kernels.

Instance norm is batch norm of x (N, C, H, W) viewed as (1, N*C, H*W), with weight and bias shared by
the N samples. `normalise` computes the statistics (and updates running ones), then `BatchNorm` applies
them. With xhat = (x - mean) * invstd, M values per statistic and g = gy * weight:

    training (mean, invstd are x's own):   gx = invstd * (g - mean(g) - xhat * mean(g * xhat))
    eval (running statistics, constants):  gx = invstd * g
    gweight = sum(gy * xhat),  gbias = sum(gy)

First-order training runs that formula as one fused kernel. With create_graph the same formula is
written in Tensor ops, with mean and invstd recomputed from x, so that it can be differentiated again.
"""
import numpy as np

from .. import backend, kernels
from .function import Function, is_grad_enabled
from .tensor import Tensor


class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias per channel of x (N, C, ...); `training` means mean and
    invstd are x's own statistics (computed with `eps`), so they carry gradient. per_instance: the
    statistics are per (sample, channel), mean/invstd of shape (N*C,)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, training, per_instance, eps):
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.eps = mean, invstd, eps
        ctx.training, ctx.per_instance = training, per_instance
        x2, weight2, bias2 = _as_batch(x, weight, bias, per_instance)
        return kernels.batch_norm_apply(x2, mean, invstd, weight2, bias2).reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        if not is_grad_enabled():           # first order: the fused kernel
            return _fused_backward(ctx, gy.array, x.array, None if weight is None else weight.array)
        N, C = x.shape[:2]
        x3, gy3 = x.reshape(N, C, -1), gy.reshape(N, C, -1)             # (N, C, L)
        axes = (2,) if ctx.per_instance else (0, 2)
        if ctx.training:
            mean = x3.mean(dim=axes, keepdim=True)
            invstd = (((x3 - mean) ** 2).mean(dim=axes, keepdim=True) + ctx.eps) ** -0.5
        else:
            mean = Tensor(ctx.mean.reshape(1, C, 1))
            invstd = Tensor(ctx.invstd.reshape(1, C, 1))
        xhat = (x3 - mean) * invstd
        g = gy3 if weight is None else gy3 * weight.reshape(1, C, 1)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            if ctx.training:
                g = g - g.mean(dim=axes, keepdim=True) - xhat * (g * xhat).mean(dim=axes, keepdim=True)
            gx = (g * invstd).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            gw = (gy3 * xhat).sum(dim=(0, 2))
        if ctx.needs_input_grad[2]:
            gb = gy3.sum(dim=(0, 2))
        return gx, gw, gb, None, None, None, None, None


def _as_batch(x, weight, bias, per_instance):
    """Instance norm's view as batch norm: x (1, N*C, L), weight and bias tiled to (N*C,)."""
    if not per_instance:
        return x, weight, bias
    xp = backend.get_array_module(x)
    N, C = x.shape[:2]
    tile = (lambda v: None if v is None else xp.tile(v, N))            # (N*C,)
    return x.reshape(1, N * C, -1), tile(weight), tile(bias)


def _fused_backward(ctx, gy, x, weight):
    x2, weight2, _ = _as_batch(x, weight, None, ctx.per_instance)
    gx, gw, gb = kernels.batch_norm_backward(gy.reshape(x2.shape), x2, ctx.mean, ctx.invstd, weight2,
                                             ctx.training, needs=ctx.needs_input_grad[:3])
    if ctx.per_instance:     # sum the N copies of each channel's parameter
        C = x.shape[1]
        gw = None if gw is None else gw.reshape(-1, C).sum(axis=0)
        gb = None if gb is None else gb.reshape(-1, C).sum(axis=0)
    gx = None if gx is None else gx.reshape(x.shape)
    return tuple(None if g is None else Tensor(g) for g in (gx, gw, gb)) + (None,) * 5


def _update_running(running, value, momentum):
    """running = (1 - momentum) * running + momentum * value, in place on running.array."""
    running.array[...] = (1 - momentum) * running.array + momentum * value.astype(running.dtype)


def normalise(input, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps,
              per_instance):
    """Batch norm (per_instance=False) or instance norm of input (N, C, ...), arguments checked by
    nn.functional: the statistics, the running-statistic update (PyTorch's: the unbiased variance goes
    into running_var; for instance norm the N samples' statistics are averaged), and BatchNorm."""
    x = input.array
    xp = backend.get_array_module(x)
    C = x.shape[1]
    if not use_batch_stats:
        mean = running_mean.array.astype(x.dtype)
        invstd = (1 / xp.sqrt(running_var.array.astype(np.float64) + eps)).astype(x.dtype)
        return BatchNorm.apply(input, weight, bias, mean, invstd, False, False, eps)
    x_stats = x.reshape(1, x.shape[0] * C, -1) if per_instance else x
    count = x_stats.size // x_stats.shape[1]
    mean, var = kernels.batch_norm_stats(x_stats)
    invstd = (1 / xp.sqrt(var.astype(np.float64) + eps)).astype(x.dtype)
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(-1, C).mean(axis=0), momentum)
    if running_var is not None:
        unbiased = var * (count / max(count - 1, 1))
        _update_running(running_var, unbiased.reshape(-1, C).mean(axis=0), momentum)
    return BatchNorm.apply(input, weight, bias, mean, invstd, True, per_instance, eps)
