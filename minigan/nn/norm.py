"""Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d, GroupNorm, LayerNorm (torch.nn's
defaults and keys).

Parameters `weight` (gamma, starts at 1) and `bias` (beta, starts at 0) exist when affine=True
(bias only with the keyword bias=True, the default, as in torch 2.13).
With track_running_stats=True the buffers `running_mean`, `running_var` (unbiased batch variance
in the running estimate, as torch) and `num_batches_tracked` are kept and saved in state_dict.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> bn = nn.BatchNorm2d(64)
    >>> y = bn(mg.randn(8, 64, 16, 16))     # training: batch statistics, running stats updated
    >>> _ = bn.eval()                         # eval: the running statistics normalise
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from . import functional as F
from . import init
from .module import Module, new_parameter


class _Norm(Module):
    """Parameters, buffers and checks shared by batch and instance normalisation."""
    init_role = "norm"

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, device, dtype,
                 bias):
        super().__init__()
        layer = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"{layer}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{layer}: momentum must be in [0, 1] or None, got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"{layer}: eps must be > 0, got {eps!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        shape = (num_features,)
        self.register_parameter("weight", new_parameter(shape, device, dtype) if affine else None)
        self.register_parameter("bias", new_parameter(shape, device, dtype) if affine and bias
                                else None)
        if track_running_stats:
            device = backend.parse_device(device)
            xp = backend.cp if device == "cuda" else np
            dtype = np.float32 if dtype is None else dtype
            self.register_buffer("running_mean", Tensor(xp.zeros(shape, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(shape, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input, dims, channel_dim=1):
        """`input` must have one of `dims` dimensions and num_features channels in `channel_dim`."""
        layer = type(self).__name__
        if input.ndim not in dims:
            expected = " or ".join(f"{d}D" for d in dims)
            raise ValueError(f"{layer}: expected {expected} input, got {input.ndim}D input of "
                             f"shape {input.shape}")
        if input.shape[channel_dim] != self.num_features:
            raise ValueError(f"{layer}: expected {self.num_features} channels (num_features) in "
                             f"dimension {channel_dim}, got input of shape {input.shape}")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_Norm):
    """Batch statistics over (N, *spatial) per channel in training; running statistics in eval."""
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias)

    def forward(self, input):
        self._check_input(input, self._dims)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # a cumulative average of all batches so far
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep_stats else None,
                            self.running_var if keep_stats else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C = num_features."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C = num_features."""
    _dims = (4,)


class InstanceNorm2d(_Norm):
    """Normalise each sample's each channel over (H, W): (N, C, H, W) or unbatched (C, H, W).

    torch's defaults: affine=False, track_running_stats=False (pix2pix/CycleGAN's "instance" norm).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias)

    def forward(self, input):
        self._check_input(input, (3, 4), channel_dim=input.ndim - 3)
        if input.ndim == 3:  # unbatched (C, H, W)
            return self.forward(input.unsqueeze(0)).squeeze(0)
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, use_input_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)


class GroupNorm(Module):
    """Normalise each sample's groups of num_channels/num_groups channels (N, C, *), then a
    per-channel weight (starts at 1) and bias (starts at 0) when affine. No running statistics:
    training and eval compute the same thing.

        >>> y = nn.GroupNorm(8, 64)(mg.randn(2, 64, 16, 16))
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"GroupNorm: {name} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        shape = (num_channels,)
        self.register_parameter("weight", new_parameter(shape, device, dtype) if affine else None)
        self.register_parameter("bias", new_parameter(shape, device, dtype) if affine else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LayerNorm(Module):
    """Normalise over the trailing dims normalized_shape (an int or a tuple), then an elementwise
    weight (starts at 1) and bias (starts at 0) of that shape when elementwise_affine.

        >>> y = nn.LayerNorm((64, 8, 8))(mg.randn(2, 64, 8, 8))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple of them, "
                             f"got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.register_parameter("weight", new_parameter(shape, device, dtype) if elementwise_affine
                                else None)
        self.register_parameter("bias", new_parameter(shape, device, dtype)
                                if elementwise_affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
