"""Function (a differentiable op), the recorded graph, `no_grad`, and the backward engine.

A `Function` subclass pairs `forward(ctx, *args)` with `backward(ctx, grad_out)`, as in PyTorch.
`Function.apply` unwraps Tensor arguments to raw arrays, runs `forward`, and, when gradients are
wanted, records a `Node` on the output that remembers the inputs and the context. `Tensor.backward`
walks those nodes in reverse topological order (iteratively, in a deterministic order), sums
gradients that reach a tensor along several paths, and frees the graph unless `retain_graph=True`.
"""
import functools
import threading

from .. import backend

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, "grad_enabled", True)


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with mg.no_grad(): ...` runs ops without recording a graph."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self):
        super().__init__(True)


class Context:
    """What `forward` leaves for `backward`: saved arrays, flags, and any attributes it sets."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """One recorded op: the Function, its context, and its positional inputs (Tensor or None)."""
    __slots__ = ("function", "ctx", "inputs")

    def __init__(self, function, ctx, inputs):
        self.function, self.ctx, self.inputs = function, ctx, inputs

    @property
    def name(self):
        return self.function.__name__ + "Backward"


class Function:
    """Base class of differentiable ops; subclasses define static `forward` and `backward`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor
        device = None
        raw, needs = [], []
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                if device is None:
                    device, first = arg.device, i
                elif arg.device != device:
                    raise RuntimeError(
                        f"{cls.__name__}: expected all tensors on the same device, got {device} "
                        f"(argument {first}) and {arg.device} (argument {i})")
                raw.append(arg.data)
                needs.append(arg.requires_grad)
            else:
                raw.append(arg)
                needs.append(False)
        record = any(needs) and is_grad_enabled()
        ctx = Context(tuple(needs))
        out = cls.forward(ctx, *raw, **kwargs)
        result = Tensor(out, requires_grad=record)
        if record:
            inputs = tuple(a if isinstance(a, Tensor) and a.requires_grad else None for a in args)
            result._node = Node(cls, ctx, inputs)
        return result


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back down to `shape` (the one place broadcasting is undone)."""
    if grad.shape == shape:
        return grad
    xp = backend.get_array_module(grad)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return xp.reshape(grad, shape)


def _topological_order(root):
    """Non-leaf tensors reachable from `root`, each after every tensor it was computed from."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        for parent in reversed(tensor._node.inputs or ()):
            if parent is not None and parent._node is not None and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _accumulate_leaf(leaf, grad):
    from .tensor import Tensor
    if leaf.grad is None:
        leaf.grad = Tensor(grad)
    else:  # out of place: `grad` may be shared with other tensors' gradients
        leaf.grad = Tensor(leaf.grad.data + grad)


def run_backward(root, grad, retain_graph=False):
    """Propagate `grad` (an array shaped like `root`) to every leaf that requires grad."""
    if root._node.inputs is None:
        raise RuntimeError(
            "backward: trying to backward through the graph a second time (or after its buffers "
            "were freed); pass retain_graph=True to the first backward() call")
    order = _topological_order(root)
    grads = {id(root): grad}
    for tensor in reversed(order):
        node = tensor._node
        grad_out = grads.pop(id(tensor), None)
        if grad_out is None:
            continue
        if tensor._retains_grad:
            _accumulate_leaf(tensor, grad_out)
        if node.inputs is None:
            raise RuntimeError(f"backward: the graph through {node.name} was already freed")
        in_grads = node.function.backward(node.ctx, grad_out)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, g in zip(node.inputs, in_grads):
            if parent is None or g is None:
                continue
            g = sum_to_shape(g, parent.data.shape)
            if parent._node is None:
                _accumulate_leaf(parent, g)
            elif id(parent) in grads:
                grads[id(parent)] = grads[id(parent)] + g
            else:
                grads[id(parent)] = g
        if not retain_graph:
            node.inputs, node.ctx = None, None
