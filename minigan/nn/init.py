"""Weight initialisation, in place, with torch.nn.init's names and formulas.

Every function fills a Tensor (usually a Parameter) in place, without recording a graph, and returns
it. Numbers are drawn on the host from minigan's global generator (`mg.manual_seed`), or from the
`generator=` (a numpy.random.Generator) if given, then moved to the tensor's device and dtype, so a
seed builds the same model on every device.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> mg.manual_seed(0)
    >>> layer = nn.Conv2d(3, 64, 4, 2, 1)
    >>> nn.init.normal_(layer.weight, 0.0, 0.02)     # DCGAN's init; or nn.init.dcgan_init_(model)
"""
import math

import numpy as np

from .. import backend
from .. import random as mg_random

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
          "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
          "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_gain(nonlinearity, param=None):
    """The gain torch recommends for a nonlinearity (leaky_relu takes its slope as `param`).

    >>> calculate_gain("relu")
    1.4142135623730951
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope must be a number, got {slope!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one "
                         f"of {sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: Linear (out, in); conv (out, in, kh, kw) counts kh*kw too.

    Like torch, dimension 1 is "in" and dimension 0 "out" for every layout, including a transposed
    conv's (in, out, kh, kw) weight.
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape "
                         f"{tensor.shape}")
    receptive_field = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write host `values` (float64) into `tensor` in place: no graph, its device and dtype."""
    tensor.array[...] = backend.to_device(values.astype(tensor.dtype, copy=False), tensor.device)
    return tensor


def _rng(generator):
    return mg_random.generator() if generator is None else generator


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    return _fill(tensor, _rng(generator).uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    return _fill(tensor, _rng(generator).normal(mean, std, size=tensor.shape))


def constant_(tensor, val):
    """Fill with `val`."""
    tensor.array[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    torch's default Linear/Conv init is kaiming_uniform_(w, a=sqrt(5)), i.e. b = 1 / sqrt(fan_in).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def default_init_(weight, bias=None, generator=None):
    """torch's reset_parameters for Linear and convolutions: kaiming_uniform_(a=sqrt(5)) weight,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)


def dcgan_init_(module, std=0.02, generator=None):
    """The DCGAN paper's init over `module` and all its descendants; returns `module`.

    Each layer's class attribute `init_role` says what it gets: "weight" (Linear, Conv2d,
    ConvTranspose2d): weight ~ N(0, std^2), bias 0; "norm" (BatchNorm, affine InstanceNorm):
    weight ~ N(1, std^2), bias 0; None (every other module): untouched.

    >>> G = nn.init.dcgan_init_(G)
    """
    def init(m):
        role = getattr(m, "init_role", None)
        if role == "weight":
            normal_(m.weight, 0.0, std, generator)
        elif role == "norm" and m.weight is not None:
            normal_(m.weight, 1.0, std, generator)
        else:
            return
        if m.bias is not None:
            zeros_(m.bias)

    return module.apply(init)
