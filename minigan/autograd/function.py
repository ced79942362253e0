"""Function (a differentiable op), the recorded graph, `no_grad`, and the backward engine.

A `Function` subclass pairs `forward(ctx, *args)` with `backward(ctx, grad_out)`, as in PyTorch.
`forward` works on raw arrays; `backward` works on Tensors and is itself made of differentiable ops,
so a gradient can be differentiated again. `Function.apply` unwraps Tensor arguments, runs `forward`,
and, when gradients are wanted, records a `Node` on the output that remembers the inputs and the context.

The engine (`run_backward`) walks the nodes in reverse topological order (iteratively, in a
deterministic order) and sums the gradients that reach a tensor along several paths. It runs each
`backward` with graph recording switched to `create_graph`: off for ordinary training, so backward ops
record nothing and the kernel-backed ops take their fused first-order kernels; on for a gradient
penalty, so the gradients it returns carry a graph of their own (docs/higher-order.md).
"""
import functools
import threading
import weakref

from .. import backend

_state = threading.local()
Tensor = None        # the Tensor class: tensor.py imports this module first, then sets it


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


_OUTPUT = object()       # marks "the op's own output" among the saved values


class Context:
    """What `forward` leaves for `backward`: saved values, flags, and any attributes it sets.

    `forward` saves raw arrays; `backward` reads them back as Tensors (`saved_tensors`): an input's
    array comes back as that input Tensor and the output's as the output Tensor, so that a backward
    made of differentiable ops connects to the original graph. Anything else comes back as a constant.
    Each saved Tensor's version is checked: a tensor changed in place after it was saved is an error.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *arrays):
        self._saved = arrays

    def _bind(self, args, raw, output):
        """After forward: map each saved array back to the Tensor it came from (see the class doc)."""
        bound, saves_output = [], False
        for value in self._saved:
            if value is output:
                bound.append((_OUTPUT, 0))
                saves_output = True
                continue
            for arg, array in zip(args, raw):
                if value is array and isinstance(arg, Tensor):
                    bound.append((arg, arg._version))
                    break
            else:
                bound.append((value, None))
        self._saved = bound
        return saves_output

    @property
    def saved_tensors(self):
        out = []
        for k, (value, version) in enumerate(self._saved):
            if value is _OUTPUT:
                value = self._output()
            if version is not None and value._version != version:
                raise RuntimeError(
                    f"backward: one of the tensors needed for gradient computation was modified by an "
                    f"in-place operation: {self._name}Backward's saved tensor {k} (shape "
                    f"{value.shape}) is at version {value._version}, expected version {version}. "
                    f"Use an out-of-place operation (mg.where, mg.cat) instead.")
            out.append(Tensor(value) if hasattr(value, "shape") and not isinstance(value, Tensor)
                       else value)
        return tuple(out)


class Node:
    """One recorded op: the Function, its context, and its positional inputs (Tensor or None)."""
    __slots__ = ("function", "ctx", "inputs")

    def __init__(self, function, ctx, inputs):
        self.function, self.ctx, self.inputs = function, ctx, inputs

    @property
    def name(self):
        return self.function.__name__ + "Backward"


class Function:
    """Base class of differentiable ops; subclasses define static `forward` and `backward`.

    forward(ctx, *args) gets raw arrays (and plain values) and returns an array.
    backward(ctx, grad) gets a Tensor and returns one Tensor (or None) per forward argument, computed
    with differentiable ops so that it can be differentiated again.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        raw, inputs, first = [], [], None
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                if first is None:
                    first = i
                elif type(arg.array) is not type(args[first].array) or type(arg) is not Tensor:
                    _check_same_device(cls, args, first, i)
                raw.append(arg.array)
                inputs.append(arg if arg._requires_grad else None)
            else:
                raw.append(arg)
                inputs.append(None)
        needs = tuple(t is not None for t in inputs)
        ctx = Context(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        record = True in needs and is_grad_enabled() and out.dtype.kind in "fc"
        result = Tensor(out, requires_grad=record)
        if record:
            ctx._name = cls.__name__
            if ctx._saved and ctx._bind(args, raw, out):
                ctx._output = weakref.ref(result)      # a weak link: no cycle through the node
            result._node = Node(cls, ctx, tuple(inputs))
        return result


def _check_same_device(cls, args, first, i):
    if args[i].device != args[first].device:
        raise RuntimeError(
            f"{cls.__name__}: expected all tensors on the same device, got {args[first].device} "
            f"(argument {first}) and {args[i].device} (argument {i})")


# ---------------------------------------------------------------- the engine

def sum_to_shape(grad, shape):
    """Sum a broadcast gradient (Tensor) back down to `shape`: the one place broadcasting is undone."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad.reshape(tuple(shape))


def _topological_order(roots):
    """Non-leaf tensors reachable from `roots`, each after every tensor it was computed from."""
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots) if root._node is not None]
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


def _leading_to(order, targets):
    """ids of the tensors in `order` from which some tensor in `targets` (a set of ids) is reached."""
    useful = set()
    for tensor in order:                                 # parents come before children
        inputs = tensor._node.inputs or ()
        if id(tensor) in targets or any(p is not None and (id(p) in targets or id(p) in useful)
                                        for p in inputs):
            useful.add(id(tensor))
    return useful


def _accumulate_leaf(leaf, grad, create_graph):
    """leaf.grad += grad, out of place (`grad` may be shared with other tensors' gradients)."""
    if not create_graph:
        grad = Tensor(grad.array)
        if leaf.grad is not None:
            grad = Tensor(leaf.grad.array + grad.array)
    elif leaf.grad is not None:
        grad = leaf.grad + grad
    leaf.grad = grad


def _check_grad(parent, grad):
    """The gradient for `parent` from `node`'s backward: summed to parent's shape, in parent's dtype."""
    grad = sum_to_shape(grad, parent.shape)
    if grad.dtype != parent.dtype:
        grad = grad.to(parent.dtype)
    return grad


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None,
                 accumulate=True):
    """Propagate `grads` (Tensors shaped like `roots`) back through the graph.

    inputs=None: add into `.grad` of every leaf that requires grad (Tensor.backward).
    inputs given: only those tensors' gradients are computed (and only the nodes that lead to them
    run); they are added into their `.grad` when `accumulate`, and returned as {id(t): gradient}
    (autograd.grad, which passes accumulate=False).
    """
    for root in roots:
        if root._node is not None and root._node.inputs is None:
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (or after its buffers "
                "were freed); pass retain_graph=True to the first backward() call")
    targets = None if inputs is None else {id(t): t for t in inputs}
    order = _topological_order(roots)
    useful = None if targets is None else _leading_to(order, targets)
    pending, found = {}, {}

    def deliver(tensor, grad):          # a gradient that reached a leaf
        if targets is None:
            _accumulate_leaf(tensor, grad, create_graph)
        elif id(tensor) in targets:
            found[id(tensor)] = found[id(tensor)] + grad if id(tensor) in found else grad

    with set_grad_enabled(create_graph):
        for root, grad in zip(roots, grads):
            if root._node is None:
                deliver(root, grad)
            else:
                pending[id(root)] = pending[id(root)] + grad if id(root) in pending else grad
        for tensor in reversed(order):
            grad_out = pending.pop(id(tensor), None)
            if grad_out is None:
                continue
            if targets is not None and id(tensor) in targets:
                found[id(tensor)] = grad_out
            elif targets is None and tensor._retains_grad:
                _accumulate_leaf(tensor, grad_out, create_graph)
            if useful is not None and id(tensor) not in useful:
                continue
            node = tensor._node
            for parent, grad in _node_backward(tensor, node, grad_out, targets, useful):
                if parent._node is None:
                    deliver(parent, grad)
                else:
                    key = id(parent)
                    pending[key] = pending[key] + grad if key in pending else grad
            if not retain_graph:
                node.inputs, node.ctx = None, None
        if targets is not None and accumulate:
            for key, grad in found.items():
                _accumulate_leaf(targets[key], grad, create_graph)
    for callback in _state.__dict__.pop("callbacks", ()):     # queued by api.queue_callback
        callback()
    return found


def _node_backward(tensor, node, grad_out, targets, useful):
    """Run one node's backward; yields (input tensor, its gradient) for each input that gets one."""
    if node.inputs is None:
        raise RuntimeError(f"backward: the graph through {node.name} was already freed")
    if tensor._version != 0:
        raise RuntimeError(
            f"backward: a tensor of shape {tensor.shape} produced by {node.name} was modified by an "
            f"in-place operation; minigan does not record in-place changes to tensors that require "
            f"grad. Use an out-of-place operation (mg.where, mg.cat) instead.")
    ctx, needs = node.ctx, node.ctx.needs_input_grad
    if useful is not None:         # only the inputs that lead to a target
        ctx.needs_input_grad = tuple(n and p is not None and (id(p) in useful or id(p) in targets)
                                     for n, p in zip(needs, node.inputs))
    try:
        in_grads = node.function.backward(ctx, grad_out)
    finally:
        ctx.needs_input_grad = needs
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    for parent, grad in zip(node.inputs, in_grads):
        if parent is not None and grad is not None:
            yield parent, _check_grad(parent, grad)
