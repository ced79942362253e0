"""nn.functional's softmax family and classification losses, with torch's signatures: softmax,
log_softmax, nll_loss and cross_entropy.

All are compositions of differentiable ops (exp, log, sum, indexing), so they differentiate to any
order. log_softmax subtracts the maximum (a constant: it cancels in the result) before exp, so
large logits do not overflow. Re-exported by minigan.nn.functional.

    >>> import minigan as mg
    >>> import minigan.nn.functional as F
    >>> logits, labels = mg.randn(4, 10), mg.tensor([1, 0, 9, 3])
    >>> F.cross_entropy(logits, labels).shape
    ()
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from ._checks import _check_reduction


def _dim(input, dim, fn):
    if dim is None:               # torch's legacy choice when dim is not given
        return 0 if input.ndim in (0, 1, 3) else 1
    if not -max(input.ndim, 1) <= dim < max(input.ndim, 1):
        raise IndexError(f"{fn}: dim must be in [{-input.ndim}, {input.ndim - 1}], got {dim}")
    return dim % max(input.ndim, 1)


def log_softmax(input, dim=None, dtype=None):
    """log(softmax(input)) along `dim`, computed stably: x - max - log(sum(exp(x - max))).

        >>> F.log_softmax(mg.tensor([1.0, 2.0, 3.0]), dim=0).exp().sum().item()   # 1.0
    """
    dim = _dim(input, dim, "log_softmax")
    x = input if dtype is None else input.to(dtype)
    shifted = x - Tensor(x.array.max(axis=dim, keepdims=True))      # a constant: cancels below
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, with the maximum subtracted first.

        >>> F.softmax(mg.randn(2, 5), dim=1).sum(1)        # ones
    """
    dim = _dim(input, dim, "softmax")
    x = input if dtype is None else input.to(dtype)
    e = (x - Tensor(x.array.max(axis=dim, keepdims=True))).exp()
    return e / e.sum(dim, keepdim=True)


def _class_targets(input, target, fn):
    """target as an int64 array of shape input's without dim 1 (checked)."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{fn}: target must be a Tensor, got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: expected class indices (an integer target), got dtype {target.dtype}")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(f"{fn}: target shape {target.shape} must be {expected} for input of "
                         f"shape {input.shape}")
    return target.array.astype(np.int64, copy=False)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: -weight[t] * input[n, t] for log-probabilities input (N, C) (or
    (N, C, d1, ...), or (C,)) and class indices target (N) (or (N, d1, ...), or ()).

    weight: (C,) per-class weights or None; targets equal to ignore_index count for nothing.
    reduction 'mean' divides by the summed weights of the counted targets, as torch. Out-of-range
    targets raise on the CPU; a GPU input is not checked (that would copy to the host each call).

        >>> F.nll_loss(F.log_softmax(mg.randn(3, 5), 1), mg.tensor([1, 0, 4]))
    """
    fn = "nll_loss"
    _check_reduction(reduction, fn)
    labels = _class_targets(input, target, fn)
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None and weight.shape != (n_classes,):
        raise ValueError(f"{fn}: weight must have shape ({n_classes},), got {weight.shape}")
    xp = backend.get_array_module(input.array)
    counted = labels != ignore_index
    safe = xp.where(counted, labels, 0)
    if input.device == "cpu" and bool(((safe < 0) | (safe >= n_classes)).any()):   # GPU: no sync
        raise IndexError(f"{fn}: target values must be in [0, {n_classes - 1}] (or ignore_index="
                         f"{ignore_index}), got values in [{int(labels.min())}, {int(labels.max())}]")
    rows = input.reshape(1, -1) if input.ndim == 1 else \
        input.permute(0, *range(2, input.ndim), 1).reshape(-1, n_classes)   # (M, C), classes last
    safe, counted = safe.reshape(-1), counted.reshape(-1)                    # (M,)
    picked = rows[xp.arange(safe.size), safe]                                # (M,): log p of t
    weights = counted.astype(input.dtype)
    if weight is not None:
        weights = weights * weight.array[safe]
    losses = -picked * Tensor(weights)
    if reduction == "none":
        return losses.reshape(labels.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / Tensor(weights.sum())


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits input (N, C, ...) against class indices target (N, ...) (=
    nll_loss(log_softmax(input, 1), target)) or against class probabilities (a float target shaped
    like input). weight: (C,) per-class weights; label_smoothing mixes the target with uniform.

        >>> F.cross_entropy(mg.randn(4, 10), mg.tensor([1, 0, 9, 3]))
    """
    fn = "cross_entropy"
    _check_reduction(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, dim)
    n_classes = input.shape[dim]
    class_weight = 1.0 if weight is None else \
        weight.reshape((-1,) + (1,) * (input.ndim - dim - 1))          # (C, 1, ...): along dim
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ValueError(f"{fn}: a probability target must have the input's shape "
                             f"{input.shape}, got {target.shape}")
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        losses = -(logp * target * class_weight).sum(dim)
        if reduction == "mean":
            return losses.mean()
        return losses.sum() if reduction == "sum" else losses
    loss = nll_loss(logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    # torch's smoothing term: the (weighted) mean over classes of -log p at the counted targets,
    # reduced as nll_loss is ('mean' divides by the counted targets' class weights)
    labels = _class_targets(input, target, fn)
    counted = labels != ignore_index
    smooth = (-logp * class_weight).sum(dim) * Tensor(counted.astype(input.dtype)) / n_classes
    if reduction == "mean":
        xp = backend.get_array_module(labels)
        weights = counted if weight is None else weight.array[xp.where(counted, labels, 0)] * counted
        smooth = smooth.sum() / Tensor(weights.sum().astype(input.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * loss + label_smoothing * smooth
