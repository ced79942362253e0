"""One Adam step on one parameter as a single pass over memory (reference.adam_step does ten).

Serial on the calling thread: a parameter is at most a few hundred thousand floats, and a step updates
dozens of them, one after another. The scalars arrive in the arrays' dtype and the operations run in
reference.adam_step's order, so float32 results round exactly as the NumPy version's do.
Debug with NUMBA_DISABLE_JIT=1.
"""
import math

import numpy as np
from numba import njit


# Two loops without branches inside, so that LLVM vectorises them: weight decay is folded into g
# beforehand when asked for, AMSGrad has a loop of its own, and error_model="numpy" drops the
# division-by-zero check Python semantics would put in front of every division.

@njit(cache=True, error_model="numpy")
def _adam(p, g, m, v, c1, beta2, c2, bias2_sqrt, eps, step_size):
    for k in range(p.size):
        mk = m[k] + (g[k] - m[k]) * c1
        vk = v[k] * beta2 + g[k] * g[k] * c2
        m[k] = mk
        v[k] = vk
        p[k] -= mk / (np.sqrt(vk) / bias2_sqrt + eps) * step_size


@njit(cache=True, error_model="numpy")
def _adam_amsgrad(p, g, m, v, vmax, c1, beta2, c2, bias2_sqrt, eps, step_size):
    for k in range(p.size):
        mk = m[k] + (g[k] - m[k]) * c1
        vk = v[k] * beta2 + g[k] * g[k] * c2
        m[k] = mk
        v[k] = vk
        wk = max(vmax[k], vk)
        vmax[k] = wk
        p[k] -= mk / (np.sqrt(wk) / bias2_sqrt + eps) * step_size


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """reference.adam_step, fused; every array C-contiguous with param's dtype (else the reference runs)."""
    arrays = (param, grad, exp_avg, exp_avg_sq) + (() if max_exp_avg_sq is None else (max_exp_avg_sq,))
    dtype = param.dtype
    if any(not a.flags.c_contiguous or a.dtype != dtype for a in arrays):
        from ..reference import adam_step as plain
        return plain(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay)
    s = dtype.type
    if weight_decay:
        grad = grad + s(weight_decay) * param                   # L2 decay, as the reference adds it
    flat = [a.reshape(-1) for a in arrays[:1] + (grad,) + arrays[2:]]
    scalars = (s(1 - beta1), s(beta2), s(1 - beta2), s(math.sqrt(1 - beta2 ** step)), s(eps),
               s(lr / (1 - beta1 ** step)))
    if max_exp_avg_sq is None:
        _adam(*flat, *scalars)
    else:
        _adam_amsgrad(*flat, *scalars)
