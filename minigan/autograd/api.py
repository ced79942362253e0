"""Tensor creation functions, joining functions, and `grad` (torch.autograd.grad)."""
import numpy as np

from .. import backend
from .. import random as mg_random
from . import ops, shape as shape_ops
from .function import _state as engine_state, run_backward
from .tensor import Tensor, _as_array, _initial_grad


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor; Python floats become float32, NumPy arrays keep their dtype.

    >>> tensor([1.0, 2.0], requires_grad=True).shape
    (2,)
    """
    return Tensor(_as_array(data, dtype, device), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _filled(fill, shape, dtype, device, requires_grad):
    device = backend.parse_device(device)
    xp = backend.cp if device == "cuda" else np
    data = xp.full(_shape(shape), fill, dtype=np.float32 if dtype is None else dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(fill_value, tuple(shape), dtype, device, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device,
                requires_grad=requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor (float32 on the default device unless told)."""
    device = backend.parse_device(device)
    xp = backend.cp if device == "cuda" else np
    return Tensor(xp.empty(_shape(shape), dtype=np.float32 if dtype is None else dtype),
                  requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return empty(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing `array`'s memory and dtype (float64 stays float64, as torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... below end (torch.arange): int64 for int arguments, else float32.

    >>> arange(5).tolist(), arange(0, 1, 0.25).tolist()
    ([0, 1, 2, 3, 4], [0.0, 0.25, 0.5, 0.75])
    """
    start, end = (0, start) if end is None else (start, end)
    if dtype is None:
        whole = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if whole else np.float32
    values = np.arange(start, end, step, dtype=np.float64 if np.dtype(dtype).kind == "f" else None)
    return Tensor(_as_array(values.astype(dtype), device=device or backend.default_device()),
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end inclusive (float32 unless told)."""
    values = np.linspace(start, end, int(steps)).astype(np.float32 if dtype is None else dtype)
    return Tensor(_as_array(values, device=device or backend.default_device()),
                  requires_grad=requires_grad)


def _random(draw, shape, dtype, device, requires_grad):
    """Draw on the host from the global generator (same numbers on every device), then move."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    data = draw(mg_random.generator(), _shape(shape), np.float64 if dtype == np.float64
                else np.float32).astype(dtype, copy=False)
    return Tensor(_as_array(data, device=device or backend.default_device()),
                  requires_grad=requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the global generator (`mg.manual_seed`)."""
    return _random(lambda g, s, dt: g.standard_normal(s, dtype=dt), shape, dtype, device,
                   requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples from the global generator."""
    return _random(lambda g, s, dt: g.random(s, dtype=dt), shape, dtype, device, requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def randint(low, high, size, device=None):
    data = mg_random.generator().integers(low, high, size=size, dtype=np.int64)
    return Tensor(_as_array(data, device=device or backend.default_device()))


def cat(tensors, dim=0):
    """Concatenate along an existing dimension (torch.cat)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    dim = dim % tensors[0].ndim
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != tensors[0].ndim or any(a != b for d, (a, b) in
                                            enumerate(zip(t.shape, tensors[0].shape)) if d != dim):
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, which does not match tensor 0's "
                             f"shape {tensors[0].shape} outside dim {dim}")
    return shape_ops.Cat.apply(dim, *tensors)


def stack(tensors, dim=0):
    """Join along a new dimension (torch.stack)."""
    tensors = list(tensors)
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, expected {tensors[0].shape}")
    return shape_ops.Stack.apply(dim % (tensors[0].ndim + 1), *tensors)


def where(condition, input, other):
    """Elementwise `input` where `condition` else `other`."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    return ops.Where.apply(cond, input, other)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple (torch.autograd.grad).

    outputs: a Tensor or a sequence of them; grad_outputs: matching d(loss)/d(output) (None = ones for a
    scalar output). Nothing is added into `.grad`. create_graph=True records the backward pass, so the
    returned gradients can be differentiated again (a gradient penalty); retain_graph defaults to it.
    An input that the outputs do not depend on raises, unless allow_unused=True (its gradient is None).

        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (g,) = mg.autograd.grad((x ** 3).sum(), x, create_graph=True)    # 3 x^2
        >>> (h,) = mg.autograd.grad(g.sum(), x)                               # 6 x
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    roots, grads = [], []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"grad: outputs[{i}] does not require grad and has no grad_fn")
        roots.append(out)
        grads.append(_initial_grad(out, g, "grad"))
    found = run_backward(roots, grads, create_graph if retain_graph is None else retain_graph,
                         create_graph, inputs, accumulate=False)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) was not used in the graph of the "
                               f"outputs; pass allow_unused=True if this is expected")
        result.append(g if g is None or create_graph else g.detach())
    return tuple(result)


def queue_callback(callback):
    """Call `callback()` once, when the backward pass now running has finished (torch's engine
    `queue_callback`). Called from a Function's backward; DistributedDataParallel all-reduces there."""
    engine_state.__dict__.setdefault("callbacks", []).append(callback)


def Variable(data, requires_grad=False, volatile=False):
    """torch.autograd.Variable, kept for old scripts: the tensor itself (a Variable has been a Tensor
    since torch 0.4), or a leaf that requires a gradient when requires_grad=True. `volatile` is ignored."""
    t = data if isinstance(data, Tensor) else tensor(np.asarray(data))
    if requires_grad and not t.requires_grad:
        t = t.detach()
        t.requires_grad = True
    return t
