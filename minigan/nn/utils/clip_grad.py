"""Gradient clipping in place, as torch.nn.utils: by the total norm or by value.

    >>> loss.backward()
    >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    >>> opt.step()
"""
import math

import numpy as np

from ... import backend
from ...autograd import Tensor


def _grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.array for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their total norm is at most max_norm.

    The total norm is the norm_type-norm of the per-parameter norms (inf: the largest |g|), taken
    over every `.grad` of `parameters` (an iterable of Tensors or one Tensor). Like torch, each
    gradient is multiplied by min(1, max_norm / (total + 1e-6)). Returns the total norm (a 0-d
    Tensor, before clipping). error_if_nonfinite=True raises when it is NaN or infinite.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    xp = backend.get_array_module(grads[0])
    if math.isinf(norm_type):
        norms = [xp.abs(g).max() for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [(xp.abs(g) ** norm_type).sum() ** (1.0 / norm_type) for g in grads]
        total = (xp.abs(xp.stack(norms)) ** norm_type).sum() ** (1.0 / norm_type)
    total = total.astype(grads[0].dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                           f"is non-finite ({float(total)}), so it cannot be clipped; pass "
                           f"error_if_nonfinite=False to clip anyway")
    coef = xp.minimum(grads[0].dtype.type(max_norm) / (total + grads[0].dtype.type(1e-6)), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of `parameters` into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)
