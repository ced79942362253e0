"""Binary cross-entropy on probabilities and on logits, forward and backward.

Serial loops on the calling thread: a GAN's score arrays are small. Sums are taken in float64.
Math (torch's clamps and its log-sum-exp form): kernels/reference.py. Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit


def _flat(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _per_element(v, shape, dtype):
    """Broadcast an optional weight to `shape` as a flat contiguous array; an empty array for None."""
    if v is None:
        return np.empty(0, dtype)
    return _flat(np.broadcast_to(np.asarray(v, dtype), shape))


# Serial loops (loss arrays are small). Weights arrive broadcast and flat, or empty for None. `loss` is
# written only when non-empty (reduction 'none'); the float64 sum is returned either way, so 'mean' and
# 'sum' cost one pass.

@njit(cache=True)
def _bce(p, y, w, loss):
    total = 0.0
    for k in range(p.size):
        log_p = max(np.log(p[k]), -100.0)
        log_q = max(np.log1p(-p[k]), -100.0)
        v = -(y[k] * log_p + (1 - y[k]) * log_q)
        if w.size:
            v *= w[k]
        if loss.size:
            loss[k] = v
        total += v
    return total


@njit(cache=True)
def _bce_grad(g, p, y, w, gp):
    """gp = g * w * (p - y) / max(p * (1 - p), 1e-12); g has one element (mean/sum) or one per element."""
    for k in range(p.size):
        v = (p[k] - y[k]) / max(p[k] * (1 - p[k]), 1e-12)
        if w.size:
            v *= w[k]
        gp[k] = v * (g[k] if g.size > 1 else g[0])


@njit(cache=True)
def _bce_logits(x, y, w, pw, loss):
    total = 0.0
    for k in range(x.size):
        # log(1 + exp(-x)) = max(-x, 0) + log(1 + exp(-|x|)); log rather than log1p, which is 2x slower
        # here and only differs below float eps, as in PyTorch's formula
        softplus_neg = max(-x[k], 0.0) + np.log(1 + np.exp(-abs(x[k])))
        log_weight = 1 + (pw[k] - 1) * y[k] if pw.size else 1.0
        v = (1 - y[k]) * x[k] + log_weight * softplus_neg
        if w.size:
            v *= w[k]
        if loss.size:
            loss[k] = v
        total += v
    return total


@njit(cache=True)
def _bce_logits_grad(g, x, y, w, pw, gx):
    for k in range(x.size):
        e = np.exp(-abs(x[k]))
        sig = 1 / (1 + e) if x[k] >= 0 else e / (1 + e)                   # sigmoid(x), stable
        v = (1 + (pw[k] - 1) * y[k]) * sig - pw[k] * y[k] if pw.size else sig - y[k]
        if w.size:
            v *= w[k]
        gx[k] = v * (g[k] if g.size > 1 else g[0])


def _loss_out(total, loss, n, reduction, dtype):
    if reduction == "none":
        return loss
    return np.asarray(total / n if reduction == "mean" else total, dtype=dtype)


def _grad_in(gout, n, reduction, dtype):
    """Upstream gradient per element as a flat array: one value (mean/sum) or one per element (none)."""
    g = np.asarray(gout, dtype=np.float64)
    if reduction == "none":
        return _flat(g, dtype)
    return np.array([g / n if reduction == "mean" else g], dtype)


def binary_cross_entropy_forward(p, y, weight, reduction):
    """-weight * (y log p + (1 - y) log(1 - p)), logs clamped at -100; reduced by 'mean' | 'sum' | 'none'."""
    loss = np.empty(p.shape if reduction == "none" else 0, p.dtype)
    total = _bce(_flat(p), _flat(y, p.dtype), _per_element(weight, p.shape, p.dtype), loss.reshape(-1))
    return _loss_out(total, loss, p.size, reduction, p.dtype)


def binary_cross_entropy_backward(gout, p, y, weight, reduction):
    """Gradient of binary_cross_entropy_forward with respect to p."""
    gp = np.empty(p.shape, p.dtype)
    _bce_grad(_grad_in(gout, p.size, reduction, p.dtype), _flat(p), _flat(y, p.dtype),
              _per_element(weight, p.shape, p.dtype), gp.reshape(-1))
    return gp


def binary_cross_entropy_with_logits_forward(x, y, weight, pos_weight, reduction):
    """weight * ((1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)), stable for any x; reduced."""
    loss = np.empty(x.shape if reduction == "none" else 0, x.dtype)
    total = _bce_logits(_flat(x), _flat(y, x.dtype), _per_element(weight, x.shape, x.dtype),
                        _per_element(pos_weight, x.shape, x.dtype), loss.reshape(-1))
    return _loss_out(total, loss, x.size, reduction, x.dtype)


def binary_cross_entropy_with_logits_backward(gout, x, y, weight, pos_weight, reduction):
    """Gradient of binary_cross_entropy_with_logits_forward with respect to x."""
    gx = np.empty(x.shape, x.dtype)
    _bce_logits_grad(_grad_in(gout, x.size, reduction, x.dtype), _flat(x), _flat(y, x.dtype),
                     _per_element(weight, x.shape, x.dtype), _per_element(pos_weight, x.shape, x.dtype),
                     gx.reshape(-1))
    return gx
