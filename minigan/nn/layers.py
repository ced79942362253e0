"""Layers without convolution, normalisation or pooling: Linear, Embedding, Dropout(2d),
activations, softmax, shape and padding layers, and the loss modules. Each is a thin wrapper over `minigan.nn.functional`.

Constructor arguments, defaults, initialisation and state_dict keys follow torch.nn.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> D = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    >>> nn.BCEWithLogitsLoss()(D(mg.randn(64, 2)), mg.ones(64, 1)).shape
    ()
"""
import numpy as np

from . import functional as F
from . import init
from .module import Module, new_parameter


def _check_positive(value, name, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- linear, embedding
class Linear(Module):
    """y = x W^T + b. input (*, in_features) -> (*, out_features).

    weight (out_features, in_features) and bias (out_features,) start as torch's: U(-k, k) with
    k = 1/sqrt(in_features).
    """
    init_role = "weight"

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _check_positive(in_features, "in_features", "Linear")
        self.out_features = _check_positive(out_features, "out_features", "Linear")
        self.weight = new_parameter((out_features, in_features), device, dtype)
        self.register_parameter("bias", new_parameter((out_features,), device, dtype) if bias
                                else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_init_(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> rows of weight (num_embeddings, dim).

    weight starts N(0, 1); the row `padding_idx` (if given) starts at zero and gets no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = _check_positive(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _check_positive(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings="
                                 f"{num_embeddings}, got {padding_idx}")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = new_parameter((num_embeddings, embedding_dim), device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input):
        out = F.embedding(input, self.weight)
        if self.padding_idx is None:
            return out
        index = getattr(input, "array", input)
        keep = (index != self.padding_idx)[..., None].astype(out.dtype)  # (*, 1): cuts the gradient
        return out * keep

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """Zero elements with probability p in training (scaling the rest by 1/(1-p)); identity in eval.

    `inplace` is accepted for torch compatibility and ignored (minigan has no in-place ops).
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability p in training (scaling the rest by
    1/(1-p)); identity in eval. `inplace` is accepted and ignored."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)


# ---------------------------------------------------------------- activations
class ReLU(Module):
    """max(x, 0). `inplace` is accepted and ignored."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """max(x, 0) + negative_slope * min(x, 0). `inplace` is accepted and ignored."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Softmax(Module):
    """softmax along `dim`."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax) along `dim`, computed stably."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments (like torch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


# ---------------------------------------------------------------- shape
class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): dimensions start_dim..end_dim merged into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size`, e.g. (N, 1024) -> (N, 64, 4, 4)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        dim = self.dim % input.ndim
        if int(np.prod(self.unflattened_size)) != input.shape[dim] and -1 not in \
                self.unflattened_size:
            raise ValueError(f"Unflatten: dimension {self.dim} has size {input.shape[dim]}, which "
                             f"cannot be split into {self.unflattened_size}")
        return input.reshape(input.shape[:dim] + self.unflattened_size + input.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# ---------------------------------------------------------------- padding
def _pad4(padding, layer):
    """An int or a (left, right, top, bottom) tuple -> the 4-tuple F.pad takes."""
    if isinstance(padding, int):
        return (padding,) * 4
    padding = tuple(padding)
    if len(padding) != 4:
        raise ValueError(f"{layer}: padding must be an int or (left, right, top, bottom), got "
                         f"{padding!r}")
    return padding


class ReflectionPad2d(Module):
    """Pad (N, C, H, W) by mirroring the edge (the edge itself not repeated), as in CycleGAN."""

    def __init__(self, padding):
        super().__init__()
        self.padding = _pad4(padding, "ReflectionPad2d")

    def forward(self, input):
        return F.pad(input, self.padding, mode="reflect")

    def extra_repr(self):
        return str(self.padding)


class ReplicationPad2d(Module):
    """Pad (N, C, H, W) by repeating the edge pixels; padding is an int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        self.padding = _pad4(padding, "ReplicationPad2d")

    def forward(self, input):
        return F.pad(input, self.padding, mode="replicate")

    def extra_repr(self):
        return str(self.padding)


class ConstantPad2d(Module):
    """Pad (N, C, H, W) with `value`; padding is an int or (left, right, top, bottom)."""

    def __init__(self, padding, value):
        super().__init__()
        self.padding, self.value = _pad4(padding, type(self).__name__), value

    def forward(self, input):
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pad (N, C, H, W) with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return str(self.padding)


# ---------------------------------------------------------------- losses
def _check_reduction(reduction, layer):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{layer}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction, type(self).__name__)


class MSELoss(_Loss):
    """mean((input - target)^2) (or sum / none per `reduction`)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """mean(|input - target|) (or sum / none per `reduction`)."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; logs clamped at -100 like torch. `weight` (a Tensor
    broadcastable to the input) rescales each element's loss."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits in the numerically stable form (better than Sigmoid+BCELoss).

    weight: per-element rescaling; pos_weight: weight of the positive term, per class (last dim).
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities (N, C, ...); `weight` (C,)
    rescales each class, targets equal to ignore_index are skipped."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(NLLLoss):
    """Cross-entropy of logits (N, C, ...) against class indices (or class probabilities), with
    torch's weight, ignore_index, reduction and label_smoothing."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)
