"""gradcheck and gradgradcheck: compare backward() with central finite differences, in float64.

Instead of building the whole Jacobian, the check projects the output on a fixed random vector r:
L(x) = sum(r * f(x)). backward() gives dL/dx analytically; each element of x is then nudged by +-eps
to get the same derivative numerically. A wrong backward shows up as a mismatch in some element
(with probability one over the choice of r).

    >>> import minigan as mg
    >>> x = mg.randn(3, 4, dtype="float64", requires_grad=True)
    >>> mg.autograd.gradcheck(lambda t: (t * t).sum(dim=1), (x,))
    True

gradgradcheck checks second derivatives the same way: it runs gradcheck on the function that maps
(inputs, v) to the vector-Jacobian product grad(f(inputs), inputs, v, create_graph=True). A wrong
double backward (a backward whose own backward is wrong) fails it.
"""
import numpy as np

from .. import backend
from .function import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytic gradient disagrees with the numeric one."""


def _projection(fn, inputs, weights):
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    total = None
    for out, r in zip(outputs, weights):
        term = (out * Tensor(r)).sum()
        total = term if total is None else total + term
    return total


def _float64_run(fn, inputs):
    """(inputs copied to float64, fn's outputs on them as a tuple, computed without a graph)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    inputs = tuple(Tensor(t.array.astype(np.float64), requires_grad=t.requires_grad)
                   if isinstance(t, Tensor) and t.array.dtype.kind == "f" else t for t in inputs)
    with no_grad():
        outputs = fn(*inputs)
    return inputs, outputs if isinstance(outputs, (tuple, list)) else (outputs,)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check `fn`'s gradients w.r.t. every input that requires grad. Returns True, or raises
    GradcheckError naming the input and its worst element (or returns False if raise_exception
    is False). Inputs are copied to float64 first; `fn` may return a tensor or a tuple of them.
    """
    inputs, outputs = _float64_run(fn, inputs)
    rng = np.random.default_rng(seed)
    weights = [backend.to_device(rng.standard_normal(o.shape), o.device) for o in outputs]

    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    loss = _projection(fn, inputs, weights)
    if loss.requires_grad:
        loss.backward()

    for index, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = backend.to_device(t.grad.array, "cpu") if t.grad is not None \
            else np.zeros(t.shape)
        numeric = np.zeros(t.shape)
        flat = t.array.reshape(-1)  # a view: nudging it nudges the input
        with no_grad():
            for k in range(flat.size):
                original = flat[k].item()
                flat[k] = original + eps
                plus = _projection(fn, inputs, weights).item()
                flat[k] = original - eps
                minus = _projection(fn, inputs, weights).item()
                flat[k] = original
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and error.max() > 0:
            worst = np.unravel_index(int(np.argmax(error)), t.shape)
            message = (f"gradcheck: the gradient of input {index} (shape {t.shape}) is wrong at "
                       f"index {tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, "
                       f"numeric {numeric[worst]:.6g} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """Check `fn`'s second derivatives (torch.autograd.gradgradcheck): gradcheck of the map
    (inputs, v) -> grad(fn(inputs), inputs, grad_outputs=v, create_graph=True).

    grad_outputs: the v's, one per output of `fn`; random (and themselves checked) when None.
    Returns True, or raises GradcheckError naming the input of that map (the inputs first, then the
    v's) and its worst element.

        >>> x = mg.randn(3, dtype="float64", requires_grad=True)
        >>> mg.autograd.gradgradcheck(lambda t: (t ** 3).sum(), (x,))
        True
    """
    from .api import grad
    inputs, outputs = _float64_run(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = tuple(Tensor(backend.to_device(rng.standard_normal(o.shape), o.device),
                                    requires_grad=True) for o in outputs)
    grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
    wanted = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivatives(*args):
        ins, vs = args[:len(inputs)], args[len(inputs):]
        with enable_grad():
            outs = fn(*ins)
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            grads = grad(outs, [ins[i] for i in wanted], vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(ins[i].array * 0) for g, i in zip(grads, wanted))

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)
