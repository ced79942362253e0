"""SyncBatchNorm: batch normalisation whose statistics are those of the global batch over all ranks.

torch.nn.SyncBatchNorm's semantics. In training under a process group of more than one rank, with
M the element count per channel summed over the ranks and xhat = (x - mean) * invstd:

    forward:   mean = allreduce(sum x) / M;  var = allreduce(sum (x - mean)^2) / M   (two passes)
    backward:  sum_dy = allreduce(sum gy), sum_dy_xhat = allreduce(sum gy * xhat)   (one all-reduce)
               gx = invstd * weight * (gy - sum_dy / M - xhat * sum_dy_xhat / M)
               gweight = sum gy * xhat, gbias = sum gy   (this rank's; DistributedDataParallel
               averages them with the other gradients)

so that N ranks at batch B compute what BatchNorm computes at batch N * B (float64 equal to
rounding). The running statistics take the global mean and unbiased variance (M / (M - 1)).
In eval mode, without a process group, or with one rank, it is BatchNorm.

    >>> G = SyncBatchNorm.convert_sync_batchnorm(DCGANGenerator(64, 100, 3))  # BatchNorm*d -> Sync
"""
import numpy as np

from .. import backend, kernels
from .. import distributed as dist
from ..autograd import Function, Tensor, is_grad_enabled
from .module import Module
from .norm import _BatchNorm


def _channel_sums(array):
    """Per-channel float64 sums of x (N, C, ...): (C,)."""
    return array.sum(axis=(0,) + tuple(range(2, array.ndim)), dtype=np.float64)


def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))                   # (C,) -> (1, C, 1, ...)


class SyncBatchNormFunction(Function):
    """y = (x - mean) * invstd * weight + bias with the global batch's mean and invstd (see the
    module docstring); running statistics updated in forward."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        xp = backend.get_array_module(x)
        C = x.shape[1]
        local = xp.concatenate([_channel_sums(x), xp.array([x.size // C], np.float64)])
        dist.all_reduce(local)                                          # (C + 1,): sums, count
        count = local[C].item()
        mean = (local[:C] / count).astype(x.dtype)
        centred = _channel_sums((x - _per_channel(mean, x.ndim)) ** 2)
        var = (dist.all_reduce(xp.ascontiguousarray(centred)) / count).astype(x.dtype)
        invstd = (1 / xp.sqrt(var.astype(np.float64) + eps)).astype(x.dtype)   # as BatchNorm's
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean \
                + momentum * mean.astype(running_mean.dtype)
        if running_var is not None:
            unbiased = var * (count / max(count - 1, 1))
            running_var[...] = (1 - momentum) * running_var \
                + momentum * unbiased.astype(running_var.dtype)
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.count = mean, invstd, count
        return kernels.batch_norm_apply(x, ctx.mean, ctx.invstd, weight, bias)

    @staticmethod
    def backward(ctx, gy):
        if is_grad_enabled():
            raise RuntimeError("SyncBatchNorm: double backward (create_graph=True, as a gradient "
                               "penalty needs) is not supported; use norm='none' or 'instance' "
                               "in D")
        x, weight = (t.array if t is not None else None for t in ctx.saved_tensors)
        gy = gy.array
        xp = backend.get_array_module(x)
        _, gweight, gbias = kernels.batch_norm_backward(gy, x, ctx.mean, ctx.invstd, weight, True,
                                                        needs=(False, True, True))
        sums = xp.concatenate([gbias, gweight]).astype(np.float64)      # sum gy, sum gy * xhat
        dist.all_reduce(sums)
        C, M = x.shape[1], ctx.count
        invstd = ctx.invstd.astype(np.float64)
        scale = invstd * (1.0 if weight is None else weight)
        b = -scale * invstd * sums[C:] / M      # gx = scale * gy + b * x + d, per channel
        d = -scale * sums[:C] / M - b * ctx.mean.astype(np.float64)
        gx = None
        if ctx.needs_input_grad[0]:
            per_channel = (lambda v: _per_channel(v, x.ndim).astype(x.dtype))
            gx = gy * per_channel(scale) + x * per_channel(b) + per_channel(d)
        return (None if gx is None else Tensor(gx),
                Tensor(gweight) if ctx.needs_input_grad[1] else None,
                Tensor(gbias) if ctx.needs_input_grad[2] else None, None, None, None, None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) input whose training statistics span every rank's batch.

    Arguments, parameters, buffers and state_dict keys are BatchNorm2d's (torch.nn.SyncBatchNorm
    takes 2-D to 5-D input). ``convert_sync_batchnorm(module)`` swaps a model's BatchNorm1d/2d for
    it, keeping their weights and statistics.
    """
    _dims = (2, 3, 4, 5)

    def forward(self, input):
        if not self.training or dist.get_world_size() == 1:
            return super().forward(input)
        self._check_input(input, self._dims)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # a cumulative average of all batches so far
                factor = 1.0 / float(self.num_batches_tracked.item())
        stats = [None if b is None else b.array for b in (self.running_mean, self.running_var)]
        return SyncBatchNormFunction.apply(input, self.weight, self.bias, *stats, factor, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        """Replace every BatchNorm1d/BatchNorm2d in ``module`` (or module itself) by a SyncBatchNorm
        holding the same Parameters and buffers; returns the converted module."""
        return convert_sync_batchnorm(module)


def convert_sync_batchnorm(module):
    """``SyncBatchNorm.convert_sync_batchnorm``: BatchNorm layers -> SyncBatchNorm, in place (the
    children keep their names and order, so state_dict keys are unchanged)."""
    if not isinstance(module, Module):
        raise TypeError(f"convert_sync_batchnorm: module must be an nn.Module, got "
                        f"{type(module).__name__}")
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        sync = SyncBatchNorm.__new__(SyncBatchNorm)
        sync.__dict__.update(module.__dict__)       # the same Parameters, buffers and settings
        return sync
    for name, child in list(module._modules.items()):
        if child is not None:
            module._modules[name] = convert_sync_batchnorm(child)   # same key, same position
    return module
