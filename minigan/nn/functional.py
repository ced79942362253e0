"""nn.functional: PyTorch's signatures and argument checks over the autograd ops.

Simple ops are compositions of autograd primitives (their gradients come for free). The kernel-backed
ops (conv2d, conv_transpose2d, batch_norm, instance_norm, leaky_relu, the BCE losses, pad) are
`Function`s in minigan/autograd (conv.py, norm.py, activation.py, loss.py, pad.py), each with its
forward and its differentiable backward side by side; this file checks arguments the way PyTorch does
and turns ints into (h, w) pairs. Pooling, interpolation and the other spatial ops are written in
functional_spatial.py, the softmax family and classification losses in functional_softmax.py;
both are re-exported here, so `F.interpolate`, `F.cross_entropy` work as in torch.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, ops
from ..autograd.activation import LeakyReLU
from ..autograd.conv import Conv2d, ConvTranspose2d
from ..autograd.loss import BinaryCrossEntropy, BinaryCrossEntropyWithLogits
from ..autograd.norm import normalise
from ..autograd.pad import ConstantPad, ReflectionPad2d
from ._checks import _check_ndim, _check_positive, _check_reduction, _pair, _reduce
from .functional_softmax import cross_entropy, log_softmax, nll_loss, softmax  # noqa: F401
from .functional_spatial import (adaptive_avg_pool2d, avg_pool2d, dropout2d, interpolate,  # noqa: F401
                                 max_pool2d, pixel_shuffle, pixel_unshuffle, replication_pad2d,
                                 upsample)


def _check_same_shape(input, target, name):
    if input.shape != target.shape:
        raise ValueError(f"{name}: target shape {target.shape} must equal input shape {input.shape}")


# ---------------------------------------------------------------- activations
def relu(input):
    return ops.ReLU.apply(input)


def tanh(input):
    return ops.Tanh.apply(input)


def sigmoid(input):
    return ops.Sigmoid.apply(input)


# ---------------------------------------------------------------- linear, embedding, dropout
def linear(input, weight, bias=None):
    """y = x @ W^T + b. input (*, in_features), weight (out_features, in_features), bias (out,)."""
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1]} features in its last dimension, "
                         f"expected in_features={weight.shape[1]} (weight shape {weight.shape})")
    out = input @ weight.T
    return out + bias if bias is not None else out


def embedding(input, weight):
    """Rows of `weight` (num_embeddings, dim) picked by integer `input` (any shape)."""
    index = input.array if isinstance(input, Tensor) else input
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got dtype {index.dtype}")
    return weight[index]


def dropout(input, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).

    On the CPU the mask is drawn from minigan's global generator. On the GPU it is drawn on the device
    (no host mask, no copy) by a Philox generator seeded with one number from the global generator, so
    `manual_seed` makes GPU masks reproducible too, but they differ from the CPU's.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    from .. import random as mg_random
    if input.device == "cuda":
        seed = int(mg_random.generator().integers(2 ** 63))       # a host draw: no sync
        device_rng = backend.cp.random.Generator(backend.cp.random.Philox4x3210(seed))
        keep = device_rng.random(input.shape, dtype=np.float32) >= p
    else:
        keep = mg_random.generator().random(input.shape, dtype=np.float32) >= p
    mask = backend.to_device((keep / (1 - p) if p < 1 else keep * 0.0).astype(input.dtype),
                             input.device)
    return input * Tensor(mask)


# ---------------------------------------------------------------- losses
def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, reduced."""
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """|input - target|, reduced."""
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


# ================================================================ kernel-backed ops (minigan/autograd)

def _check_dtype(input, others, fn):
    for name, t in others.items():
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{fn}: {name} dtype {t.dtype} must equal the input dtype {input.dtype}")


def _conv_checks(fn, input, weight, bias, in_channels, out_channels, groups):
    if groups != 1:
        raise NotImplementedError(f"{fn}: only groups=1 is supported, got groups={groups}")
    _check_ndim(input, (3, 4), "input", fn)
    _check_ndim(weight, (4,), "weight", fn)
    if input.shape[-3] != in_channels:
        batched = input.shape if input.ndim == 4 else (1,) + input.shape
        raise ValueError(f"{fn}: weight of size {list(weight.shape)} expects the input to have {in_channels} "
                         f"channels, but input of size {list(batched)} has {input.shape[-3]}")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{fn}: bias must have shape ({out_channels},), got {bias.shape}")
    _check_dtype(input, {"weight": weight, "bias": bias}, fn)


def _batched(function, input, *args):
    """Run a 4-D op on a 3-D (C, H, W) input as a batch of one, as PyTorch allows."""
    if input.ndim == 4:
        return function.apply(input, *args)
    return function.apply(input.unsqueeze(0), *args).squeeze(0)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, like PyTorch) over input (N, C, H, W) or (C, H, W).

    weight (O, C, kh, kw), bias (O,) or None; stride, padding, dilation: int or (h, w);
    padding may also be 'valid' (0) or 'same' (stride 1, output size = input size).
    Returns (N, O, Ho, Wo) with Ho = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1.

        >>> y = conv2d(mg.randn(8, 3, 32, 32), mg.randn(16, 3, 4, 4), stride=2, padding=1)   # (8, 16, 16, 16)
    """
    fn = "conv2d"
    _conv_checks(fn, input, weight, bias, weight.shape[1], weight.shape[0], groups)
    stride, dilation = _pair(stride, "stride", fn), _pair(dilation, "dilation", fn)
    _check_positive(stride, "stride", fn)
    _check_positive(dilation, "dilation", fn)
    kernel = weight.shape[2:]
    if padding == "valid":
        padding = 0
    elif padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        if stride != (1, 1) or any(t % 2 for t in total):
            raise ValueError(f"{fn}: padding='same' needs stride 1 and an odd effective kernel size, got "
                             f"stride {stride}, kernel {tuple(kernel)}, dilation {dilation}")
        padding = tuple(t // 2 for t in total)
    padding = _pair(padding, "padding", fn)
    _check_positive(padding, "padding", fn, minimum=0)
    size = input.shape[-2:]
    padded = [s + 2 * p for s, p in zip(size, padding)]
    reach = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if any(r > p for r, p in zip(reach, padded)):
        raise ValueError(f"{fn}: calculated padded input size per channel: ({padded[0]} x {padded[1]}). "
                         f"Kernel size: ({reach[0]} x {reach[1]}). Kernel size can't be greater than actual "
                         f"input size")
    return _batched(Conv2d, input, weight, bias, stride, padding, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the adjoint of conv2d) over input (N, C_in, H, W) or (C_in, H, W).

    weight (C_in, C_out, kh, kw), bias (C_out,) or None. Returns (N, C_out, Ho, Wo) with
    Ho = (H - 1)*sh - 2*ph + dh*(kh - 1) + output_padding_h + 1; output_padding < stride or < dilation.

        >>> x, w = mg.randn(8, 16, 16, 16), mg.randn(16, 3, 4, 4)
        >>> y = conv_transpose2d(x, w, stride=2, padding=1)            # (8, 3, 32, 32)
    """
    fn = "conv_transpose2d"
    _conv_checks(fn, input, weight, bias, weight.shape[0], weight.shape[1], groups)
    stride, padding = _pair(stride, "stride", fn), _pair(padding, "padding", fn)
    output_padding, dilation = _pair(output_padding, "output_padding", fn), _pair(dilation, "dilation", fn)
    _check_positive(stride, "stride", fn)
    _check_positive(dilation, "dilation", fn)
    _check_positive(padding + output_padding, "padding and output_padding", fn, minimum=0)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{fn}: output padding must be smaller than either stride or dilation, got "
                         f"output_padding {output_padding}, stride {stride}, dilation {dilation}")
    size = [(h - 1) * s - 2 * p + d * (k - 1) + op + 1 for h, s, p, d, k, op in
            zip(input.shape[-2:], stride, padding, dilation, weight.shape[2:], output_padding)]
    if min(size) < 1:
        raise ValueError(f"{fn}: the output size {tuple(size)} is too small (input {input.shape}, "
                         f"kernel {weight.shape[2:]}, padding {padding})")
    return _batched(ConvTranspose2d, input, weight, bias, stride, padding, output_padding, dilation)


# ------------------------------------------------------------------------------------------ normalisation

def _normalise(fn, input, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps,
               per_instance):
    _check_ndim(input, (2, 3, 4, 5) if not per_instance else (3, 4, 5), "input", fn)
    C = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"{fn}: {name} must have shape ({C},) for input of shape {input.shape}, "
                             f"got {t.shape}")
    _check_dtype(input, {"weight": weight, "bias": bias}, fn)
    if not use_batch_stats and (running_mean is None or running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must be given when not using batch "
                         f"statistics")
    if use_batch_stats:
        count = input.numel() // (C * (input.shape[0] if per_instance else 1))
        if count < 2:
            what = "spatial element" if per_instance else "value per channel"
            raise ValueError(f"{fn}: expected more than 1 {what} when training, got input of shape "
                             f"{input.shape}")
    return normalise(input, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps,
                     per_instance)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation over dim 1 of input (N, C, ...), like torch.nn.functional.batch_norm.

    training: normalise with the batch's mean and biased variance, and update running_mean/running_var
    (Tensors (C,), or None) in place with `momentum`, using the unbiased variance as PyTorch does.
    Otherwise normalise with the running statistics. weight/bias (C,) or None.

        >>> y = batch_norm(x, mg.zeros(16), mg.ones(16), training=True)    # x (N, 16, H, W)
    """
    return _normalise("batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps,
                      per_instance=False)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation: each (sample, channel) plane of input (N, C, H, W) normalised by its own
    statistics; computed as batch norm of the input viewed as (1, N*C, H, W). weight/bias (C,) or None.

        >>> y = instance_norm(mg.randn(1, 256, 64, 64))
    """
    return _normalise("instance_norm", input, running_mean, running_var, weight, bias, use_input_stats,
                      momentum, eps, per_instance=True)


def _normalised(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over `axes`, biased variance, in differentiable ops."""
    centred = x - x.mean(dim=axes, keepdim=True)
    return centred * ((centred * centred).mean(dim=axes, keepdim=True) + eps) ** -0.5


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise input (N, C, *) over each group of C/num_groups channels and all of *, per sample;
    then weight (C,) and bias (C,) per channel. Composed of differentiable ops (any order).

        >>> y = group_norm(mg.randn(2, 8, 4, 4), 4)
    """
    fn = "group_norm"
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(f"{fn}: expected input (N, C, *) with C divisible by num_groups="
                         f"{num_groups}, got shape {input.shape}")
    C = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"{fn}: {name} must have shape ({C},), got {t.shape}")
    x = input.reshape(input.shape[0], num_groups, -1)              # (N, G, C/G * prod(*))
    y = _normalised(x, 2, eps).reshape(input.shape)
    per_channel = (C,) + (1,) * (input.ndim - 2)                    # broadcast over *
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dims `normalized_shape` of input (*, normalized_shape), per
    element of *; then weight and bias (both shaped normalized_shape) elementwise.

        >>> y = layer_norm(mg.randn(4, 10), (10,))
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {t.shape}")
    y = _normalised(input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


# --------------------------------------------------------------------------------------------- activation

def leaky_relu(input, negative_slope=0.01):
    """x where x > 0, negative_slope * x elsewhere (a fused kernel).

        >>> leaky_relu(mg.tensor([-1.0, 2.0]), 0.2)      # [-0.2, 2.0]
    """
    return LeakyReLU.apply(input, float(negative_slope))


# ------------------------------------------------------------------------------------------------- BCE

def _check_target(fn, input, target, weight):
    if not isinstance(target, Tensor):
        raise TypeError(f"{fn}: target must be a Tensor, got {type(target).__name__}")
    _check_same_shape(input, target, fn)
    if weight is not None:
        try:
            np.broadcast_shapes(weight.shape, input.shape)
        except ValueError:
            raise ValueError(f"{fn}: weight of shape {weight.shape} does not broadcast to the input shape "
                             f"{input.shape}") from None


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-weight * (y log p + (1 - y) log(1 - p)) for probabilities p = input, each log clamped at -100.

    target: same shape as input (soft targets allowed); weight: broadcastable to input, or None.
    reduction: 'mean' | 'sum' | 'none'. Raises if a CPU input has values outside [0, 1]. A GPU input is
    not checked: that would copy to the host (a sync) on every call. Like torch's CUDA kernel, which
    asserts on the device instead, ours clamps each log at -100, so such values give a wrong loss, not NaN.

        >>> loss = binary_cross_entropy(mg.tensor([0.9, 0.2]), mg.tensor([1.0, 0.0]))
    """
    fn = "binary_cross_entropy"
    _check_reduction(reduction, fn)
    _check_target(fn, input, target, weight)
    if input.device == "cpu":
        lo, hi = float(input.array.min()), float(input.array.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{fn}: all elements of input should be between 0 and 1, got values in "
                             f"[{lo:.4g}, {hi:.4g}]")
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE on logits x: weight * ((1 - y) x + (1 + (pos_weight - 1) y) log(1 + exp(-x))), computed stably.

    target: same shape as input (soft targets allowed); weight: broadcastable to input; pos_weight:
    broadcastable to input (usually (C,) for input (N, C)), weighs the positive term. reduction as in BCE.

        >>> loss = binary_cross_entropy_with_logits(mg.randn(64, 1), mg.ones(64, 1))
    """
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, fn)
    _check_target(fn, input, target, weight)
    if pos_weight is not None:
        _check_target(fn, input, target, pos_weight)
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


# ------------------------------------------------------------------------------------------------ padding

def pad(input, pad, mode="constant", value=0):
    """Pad the last len(pad)//2 dims; pad = (left, right, top, bottom, ...) as in PyTorch (last dim first).

    mode 'constant' (any ndim; negative amounts crop), 'reflect' (4-D input, pads of the last two dims,
    each smaller than that dim, the edge pixel not repeated) or 'replicate' (the edge pixel repeated).

        >>> pad(mg.randn(1, 3, 8, 8), (3, 3, 3, 3), mode="reflect").shape     # (1, 3, 14, 14)
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2 * input.ndim ({2 * input.ndim}), "
                         f"got {len(pad)}")
    if mode == "constant":
        return ConstantPad.apply(input, pad, value)
    if mode == "replicate":
        if input.ndim not in (3, 4) or len(pad) not in (2, 4):
            raise NotImplementedError(f"pad: mode='replicate' supports 3-D or 4-D input with 2 or 4 "
                                      f"pad values, got {input.ndim}-D input and {len(pad)} values")
        return replication_pad2d(input, pad + (0, 0) * (len(pad) == 2))
    if mode != "reflect":
        raise NotImplementedError(f"pad: mode must be 'constant', 'reflect' or 'replicate', got "
                                  f"{mode!r}")
    if input.ndim != 4 or len(pad) not in (2, 4):
        raise NotImplementedError(f"pad: mode='reflect' supports 4-D input with 2 or 4 pad values, got "
                                  f"{input.ndim}-D input and {len(pad)} values")
    pad = pad + (0, 0) * (len(pad) == 2)
    for k, dim in ((0, 3), (2, 2)):
        if min(pad[k], pad[k + 1]) < 0 or max(pad[k], pad[k + 1]) >= input.shape[dim]:
            raise ValueError(f"pad: padding size should be less than the corresponding input dimension, but "
                             f"got padding ({pad[k]}, {pad[k + 1]}) at dimension {dim} of input "
                             f"{list(input.shape)}")
    return ReflectionPad2d.apply(input, pad)
