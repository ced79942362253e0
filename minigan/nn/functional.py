"""nn.functional: PyTorch-signature functions over Tensors.

Simple ops are compositions of autograd primitives (their gradients come for free). The kernel-backed
ops (conv2d, conv_transpose2d, batch_norm, instance_norm, leaky_relu, the BCE losses, pad) are fused
`Function`s over minigan.kernels, further down.
"""
import numpy as np

from .. import backend
from ..autograd import Tensor, ops
from ..autograd.function import Function


def _check_reduction(reduction, name):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction, name):
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


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


def leaky_relu(input, negative_slope=0.01):
    """max(x, 0) + negative_slope * min(x, 0). (Composed; the fused kernel version replaces it.)"""
    return ops.LeakyReLU.apply(input, negative_slope)


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
    index = input.data if isinstance(input, Tensor) else input
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got dtype {index.dtype}")
    return weight[index]


def dropout(input, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    from .. import random as mg_random
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


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) with each log clamped at -100, like PyTorch."""
    _check_same_shape(input, target, "binary_cross_entropy")
    lo, hi = float(input.data.min()), float(input.data.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values "
                         f"in [{lo:.4g}, {hi:.4g}]")
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    return _reduce(loss * weight if weight is not None else loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE on logits in the stable form max(x, 0) - x*y + log(1 + exp(-|x|))."""
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    softplus_neg_abs = (1 + (-input.abs()).exp()).log()        # log(1 + exp(-|x|))
    if pos_weight is None:
        loss = input.relu() - input * target + softplus_neg_abs
    else:  # (1 - y) x + (1 + (pw - 1) y) softplus(-x)
        log_weight = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + log_weight * (softplus_neg_abs + (-input).relu())
    return _reduce(loss * weight if weight is not None else loss, reduction,
                   "binary_cross_entropy_with_logits")
