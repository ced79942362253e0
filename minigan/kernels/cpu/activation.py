"""LeakyReLU forward and backward.

Each comes in a pair: a serial `_x_span` that does elements [start, stop), and `_x_parallel` that splits
the array into _SPANS pieces over the threads. Arrays smaller than PARALLEL_MIN stay on the calling
thread, where there is no worker to wake. Math: kernels/reference.py. Debug with NUMBA_DISABLE_JIT=1.
"""
import numpy as np
from numba import njit, prange

PARALLEL_MIN = 1 << 17       # elements below which LeakyReLU runs on the calling thread
_SPANS = 64                  # pieces a parallel elementwise kernel cuts its array into


def _flat(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _run(span, parallel, n, *args):
    """Call span(*args, 0, n) here for small n, else parallel(*args, n) across the threads."""
    if n < PARALLEL_MIN:
        return span(*args, 0, n)
    return parallel(*args, n)


@njit(cache=True, inline="always")
def _bounds(t, n):
    return t * n // _SPANS, (t + 1) * n // _SPANS


@njit(cache=True)
def _lrelu_span(x, slope, y, start, stop):
    xs, ys = x[start:stop], y[start:stop]        # views from 0: the loop vectorises (see rows.py)
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
