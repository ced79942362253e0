"""CPU kernels for batch norm, LeakyReLU, the BCE losses and reflection padding (re-exported by cpu.py).

Each is one or two fused passes over memory. Batch norm and padding run one channel or plane per task.
LeakyReLU comes in a pair: a serial `_x_span` that does elements [start, stop), and `_x_parallel` that
splits the array over the threads; arrays smaller than PARALLEL_MIN stay on the calling thread, where
there are no workers to wake. The losses are serial loops (their arrays are small).
Math and shapes: reference.py. Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

PARALLEL_MIN = 1 << 17       # elements below which LeakyReLU runs on the calling thread
_SPANS = 64                  # pieces a parallel elementwise kernel cuts its array into


def _flat(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _per_element(v, shape, dtype):
    """Broadcast an optional weight to `shape` as a flat contiguous array; an empty array for None."""
    if v is None:
        return np.empty(0, dtype)
    return _flat(np.broadcast_to(np.asarray(v, dtype), shape))


def _run(span, parallel, n, *args):
    """Call span(*args, 0, n) here for small n, else parallel(*args, n) across the threads."""
    if n < PARALLEL_MIN:
        return span(*args, 0, n)
    return parallel(*args, n)


@njit(cache=True, inline="always")
def _bounds(t, n):
    return t * n // _SPANS, (t + 1) * n // _SPANS


# ------------------------------------------------------------------------------------------ batch norm

@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _bn_stats(x, mean, var):
    """Per-channel mean and biased variance of x (N, C, L) in one pass, in float64.

    Sums are taken of x - k, with k the channel's first value: var = E[(x-k)^2] - E[x-k]^2 then loses
    no precision to a large mean."""
    N, C, L = x.shape
    for c in prange(C):
        k = x[0, c, 0]
        s = 0.0
        q = 0.0
        for n in range(N):
            for i in range(L):
                d = x[n, c, i] - k
                s += d
                q += d * d
        m = s / (N * L)
        mean[c] = k + m
        var[c] = max(q / (N * L) - m * m, 0.0)


@njit(parallel=True, cache=True)
def _bn_apply(x, scale, shift, y):
    """y[n, c, :] = x[n, c, :] * scale[c] + shift[c]; x, y (N, C, L)."""
    N, C, L = x.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        a, b = scale[c], shift[c]
        for k in range(L):
            y[n, c, k] = x[n, c, k] * a + b


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _bn_sums(gy, x, mean, gsum, gxsum):
    """gsum[c] = sum gy, gxsum[c] = sum gy * (x - mean) over n and L, in float64."""
    N, C, L = x.shape
    for c in prange(C):
        s = 0.0
        sx = 0.0
        m = mean[c]
        for n in range(N):
            for k in range(L):
                g = gy[n, c, k]
                s += g
                sx += g * (x[n, c, k] - m)
        gsum[c] = s
        gxsum[c] = sx


@njit(parallel=True, cache=True)
def _bn_grad_input(gy, x, a, b, d, gx):
    """gx[n, c, :] = a[c] * gy + b[c] * x + d[c]  (the batch-norm input gradient, rearranged)."""
    N, C, L = x.shape
    for t in prange(N * C):
        n, c = t // C, t % C
        ac, bc, dc = a[c], b[c], d[c]
        for k in range(L):
            gx[n, c, k] = ac * gy[n, c, k] + bc * x[n, c, k] + dc


def _as_ncl(a):
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)      # (N, C, H*W)


def batch_norm_stats(x):
    """Per-channel mean and biased variance of x (N, C, ...), each (C,) in x's dtype."""
    mean = np.empty(x.shape[1], np.float64)
    var = np.empty(x.shape[1], np.float64)
    _bn_stats(_as_ncl(x), mean, var)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batch_norm_apply(x, mean, invstd, weight, bias):
    """y = (x - mean) * invstd * weight + bias per channel, as one multiply-add: y = x * scale + shift."""
    scale = invstd.astype(np.float64) * (1.0 if weight is None else weight)
    shift = (0.0 if bias is None else bias) - mean * scale
    y = np.empty(x.shape, x.dtype)
    _bn_apply(_as_ncl(x), scale.astype(x.dtype), shift.astype(x.dtype), y.reshape(_as_ncl(x).shape))
    return y


def batch_norm_backward(gy, x, mean, invstd, weight, training, needs=(True, True, True)):
    """(gx, gweight, gbias) of batch_norm_apply; `training` says mean/invstd came from this batch."""
    x3, gy3 = _as_ncl(x), _as_ncl(gy)
    C, M = x3.shape[1], x3.shape[0] * x3.shape[2]
    gsum, gxsum = np.empty(C), np.empty(C)
    _bn_sums(gy3, x3, mean.astype(x.dtype), gsum, gxsum)
    invstd = invstd.astype(np.float64)
    gbias, gweight = gsum, gxsum * invstd                 # sum gy, sum gy * xhat
    gx = None
    if needs[0]:
        scale = invstd * (1.0 if weight is None else weight)
        if training:      # gx = scale * (gy - gbias/M - xhat * gweight/M), xhat = (x - mean) * invstd
            b = -scale * invstd * gweight / M
            d = -scale * gbias / M - b * mean
        else:             # gx = scale * gy
            b, d = np.zeros(C), np.zeros(C)
        gx = np.empty(x.shape, x.dtype)
        _bn_grad_input(gy3, x3, scale.astype(x.dtype), b.astype(x.dtype), d.astype(x.dtype),
                       gx.reshape(x3.shape))
    return (gx, gweight.astype(x.dtype) if needs[1] else None, gbias.astype(x.dtype) if needs[2] else None)


# ------------------------------------------------------------------------------------------- LeakyReLU

@njit(cache=True)
def _lrelu_span(x, slope, y, start, stop):
    xs, ys = x[start:stop], y[start:stop]        # views from 0: the loop vectorises (see cpu_rows.py)
    for k in range(xs.size):
        v = xs[k]
        ys[k] = v if v > 0 else v * slope


@njit(parallel=True, cache=True)
def _lrelu_parallel(x, slope, y, n):
    for t in prange(_SPANS):
        start, stop = _bounds(t, n)
        _lrelu_span(x, slope, y, start, stop)


@njit(cache=True)
def _lrelu_grad_span(gy, x, slope, gx, start, stop):
    gs, xs, out = gy[start:stop], x[start:stop], gx[start:stop]
    for k in range(gs.size):
        g = gs[k]
        out[k] = g if xs[k] > 0 else g * slope


@njit(parallel=True, cache=True)
def _lrelu_grad_parallel(gy, x, slope, gx, n):
    for t in prange(_SPANS):
        start, stop = _bounds(t, n)
        _lrelu_grad_span(gy, x, slope, gx, start, stop)


def leaky_relu_forward(x, slope):
    """y = x where x > 0, slope * x elsewhere."""
    y = np.empty(x.shape, x.dtype)
    _run(_lrelu_span, _lrelu_parallel, x.size, _flat(x), x.dtype.type(slope), y.reshape(-1))
    return y


def leaky_relu_backward(gy, x, slope):
    """gx = gy where x > 0, slope * gy elsewhere."""
    gx = np.empty(x.shape, x.dtype)
    _run(_lrelu_grad_span, _lrelu_grad_parallel, x.size, _flat(gy), _flat(x), x.dtype.type(slope),
         gx.reshape(-1))
    return gx


# ----------------------------------------------------------------------------------------------- losses
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


# ------------------------------------------------------------------------------------- reflection pad

def _reflect_index(n, before, after):
    i = np.abs(np.arange(-before, n + after))
    return np.where(i > n - 1, 2 * (n - 1) - i, i)


@njit(parallel=True, cache=True)
def _gather_planes(x, rows, left, right, y):
    """y[p, a] = row rows[a] of x[p], mirrored left and right; x (P, H, W), y (P, Hp, left + W + right)."""
    W = x.shape[2]
    for p in prange(x.shape[0]):
        for a in range(rows.size):
            src, dst = x[p, rows[a]], y[p, a]
            dst[left: left + W] = src
            for k in range(left):                   # dst[left - 1 - k] mirrors src[k + 1]
                dst[left - 1 - k] = src[k + 1]
            for k in range(right):
                dst[left + W + k] = src[W - 2 - k]


@njit(parallel=True, cache=True)
def _scatter_planes(gy, rows, left, right, gx):
    """The adjoint of _gather_planes: gx[p] (zeroed here) += each padded row folded back onto its source."""
    W = gx.shape[2]
    for p in prange(gy.shape[0]):
        gx[p] = 0
        for a in range(rows.size):
            src, dst = gy[p, a], gx[p, rows[a]]
            middle = src[left: left + W]              # a view from 0: the loop vectorises
            for q in range(W):
                dst[q] += middle[q]
            for k in range(left):
                dst[k + 1] += src[left - 1 - k]
            for k in range(right):
                dst[W - 2 - k] += src[left + W + k]


def reflection_pad2d_forward(x, pad):
    """x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right), mirrored; pad = (l, r, t, b)."""
    left, right, top, bottom = pad
    N, C, H, W = x.shape
    rows = _reflect_index(H, top, bottom)
    y = np.empty((N, C, rows.size, W + left + right), x.dtype)
    _gather_planes(np.ascontiguousarray(x).reshape(N * C, H, W), rows, left, right,
                   y.reshape(N * C, rows.size, -1))
    return y


def reflection_pad2d_backward(gy, pad):
    """Adjoint of reflection_pad2d_forward: sums each padded position's gradient into its source pixel."""
    left, right, top, bottom = pad
    N, C, Hp, Wp = gy.shape
    H, W = Hp - top - bottom, Wp - left - right
    gx = np.empty((N, C, H, W), gy.dtype)
    _scatter_planes(np.ascontiguousarray(gy).reshape(N * C, Hp, Wp), _reflect_index(H, top, bottom),
                    left, right, gx.reshape(N * C, H, W))
    return gx
