"""Module and Parameter: the bookkeeping every layer and model shares, as in torch.nn.Module.

A `Module` registers what is assigned to it: `Parameter`s (trained), sub-`Module`s, and buffers
(state that is saved but not trained, like BatchNorm's running statistics; `register_buffer`).
From those registries come `parameters()`, `state_dict()`, `train()`/`eval()`, `to()` and `repr`.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> class MLP(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(2, 8)
    ...         self.out = nn.Linear(8, 1)
    ...     def forward(self, x):
    ...         return self.out(self.fc(x).relu())
    >>> list(MLP().state_dict())
    ['fc.weight', 'fc.bias', 'out.weight', 'out.bias']

`state_dict()` keys are those of the torch module with the same layout, so weights move both ways.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: assigning one to a module attribute registers it.

    `Parameter(data)` shares `data`'s array (a Tensor, NumPy or CuPy array); requires_grad=True.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        copy = Parameter(self.array.copy(), requires_grad=self.requires_grad)
        memo[id(self)] = copy
        return copy


def new_parameter(shape, device=None, dtype=None):
    """An uninitialised Parameter of `shape` (float32 on the default device unless told)."""
    device = backend.parse_device(device)
    xp = backend.cp if device == "cuda" else np
    return Parameter(xp.empty(shape, dtype=np.float32 if dtype is None else dtype))


class RemovableHandle:
    """What register_forward_pre_hook returns: `remove()` takes the hook out again."""

    def __init__(self, hooks, key):
        self.hooks, self.key = hooks, key

    def remove(self):
        self.hooks.pop(self.key, None)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _as_array(value, key):
    """The array behind a state_dict value: a Tensor, NumPy/CuPy array, torch tensor or number."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor (torch not imported)
        return value.detach().cpu().numpy()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    if isinstance(value, (int, float, bool, np.generic)):
        return np.asarray(value)
    raise TypeError(f"load_state_dict: the value for {key!r} must be a Tensor or an array, got "
                    f"{type(value).__name__}")


class Module:
    """Base class of layers and models: subclasses set attributes in `__init__`, define `forward`.

    Calling the module (`module(x)`) runs `forward(x)`, after any forward pre-hooks.
    `init_role` tells nn.init.dcgan_init_ what to do with a layer ("weight", "norm" or None).
    """
    init_role = None

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in self.__dict__.get("_forward_pre_hooks", {}).values():
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook):
        """Call `hook(module, args)` before every forward (torch's); a non-None result replaces
        the positional args. Returns a handle whose `remove()` unregisters it. spectral_norm uses one."""
        hooks = self._forward_pre_hooks
        key = max(hooks, default=-1) + 1
        hooks[key] = hook
        return RemovableHandle(hooks, key)

    # ------------------------------------------------------------ registration
    def _registries(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign to a {type(self).__name__} before "
                                 f"Module.__init__() is called (call super().__init__() first)")
        return self._parameters, self._buffers, self._modules

    def __setattr__(self, name, value):
        params, buffers, modules = self._registries()
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} of "
                                f"{type(self).__name__} (expected an nn.Parameter or None)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__} (expected a Tensor or None)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to submodule {name!r} of "
                                f"{type(self).__name__} (expected an nn.Module or None)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop `name` from every registry and the instance dict (before re-registering it)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name):  # only called when normal lookup fails
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_name(self, name, what):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        registered = any(name in registry for registry in self._registries())
        if not registered and hasattr(self, name):
            raise KeyError(f"{what} name {name!r} is already an attribute of {type(self).__name__}")

    def register_parameter(self, name, param):
        """Register `param` (a Parameter, or None for an absent one such as bias=False)."""
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a Tensor (or None): state, not trained; saved unless persistent=False."""
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Register `module` (or None) as a child called `name`."""
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be an nn.Module or None, got "
                            f"{type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first, each module once."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        seen = set()
        owners = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for owner_name, owner in owners:
            for name, value in getattr(owner, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{owner_name}.{name}" if owner_name else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a parameter shared by two layers appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target):
        """The descendant at dotted path `target` ("" is self)."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = module._modules[part]
        return module

    def apply(self, fn):
        """Call `fn(module)` on every child (recursively) and then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ mode, device, grads
    def train(self, mode=True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: the same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's `.grad` (to None, or to zeros with set_to_none=False)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.array[...] = 0

    def to(self, *args, device=None, dtype=None):
        """Move parameters and buffers to a device and/or cast floating ones to a dtype, in place.

        `to("cuda")`, `to(mg.float64)`, `to("cpu", mg.float32)`. The Parameter objects stay the same
        (only their `.array` is replaced), so an optimizer built before the move still holds them.
        Returns self.
        """
        for arg in args:
            if isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        device = None if device is None else backend.parse_device(device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: dtype must be a floating point type, got {dtype}")

        def convert(array):
            if device is not None:
                array = backend.to_device(array, device)
            if dtype is not None and array.dtype.kind == "f" and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        for tensor in list(self.parameters()) + list(self.buffers()):
            tensor.array = convert(tensor.array)
            if tensor.grad is not None:
                tensor.grad.array = convert(tensor.grad.array)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """OrderedDict of dotted name -> Tensor for parameters and persistent buffers.

        The values share memory with the module (like PyTorch) but are cut from the graph; with
        keep_vars=True they are the Parameters themselves. Keys follow torch's naming:
        `"0.weight"`, `"block.bn.running_mean"`, `"bn.num_batches_tracked"`.
        """
        destination = OrderedDict() if destination is None else destination
        for key, value in self._own_state(prefix):
            destination[key] = value if keep_vars else value.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, f"{prefix}{name}.", keep_vars)
        return destination

    def _own_state(self, prefix):
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent:
                yield prefix + name, buf

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from `state_dict` (name -> Tensor / NumPy / CuPy array) into this module.

        Values are cast to each parameter's dtype and device and copied into its existing array.
        A shape mismatch always raises; with strict=True (default) so do missing and unexpected
        keys. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got "
                            f"{type(state_dict).__name__}")
        own = OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            own.update(module._own_state(f"{prefix}." if prefix else ""))
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = _as_array(state_dict[key], key)
            if tuple(array.shape) != target.shape:
                errors.append(f"size mismatch for {key}: copying a value of shape "
                              f"{tuple(array.shape)} from the state_dict, but the shape in the "
                              f"current model is {target.shape}")
            arrays[key] = array
        if strict:
            if missing:
                errors.insert(0, "missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.insert(0, "unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, array in arrays.items():
            target = own[key]
            target.array[...] = backend.to_device(array, target.device).astype(target.dtype,
                                                                             copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        """The text inside this module's parentheses in `repr` (subclasses override)."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
