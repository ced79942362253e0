"""Argument checks shared by the nn.functional files: each raises one line naming the function, the
argument, what was expected and what was got."""
import numpy as np


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


def _pair(value, name, fn):
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in pair)


def _check_ndim(tensor, ndims, name, fn):
    if tensor.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{fn}: expected {name} to be {want}, got {tensor.ndim}-D with shape {tensor.shape}")


def _check_positive(values, name, fn, minimum=1):
    if min(values) < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {values}")
