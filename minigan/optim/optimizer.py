"""Optimizers: the Optimizer base (param groups, state, state_dict), SGD, Adam, AdamW and RMSprop,
as torch.optim.

Updates follow torch's formulas exactly and change each Parameter's array in place, outside the
graph, with in-place NumPy/CuPy ops and one reusable scratch array per parameter (no temporaries on
the hot path).

    >>> import minigan as mg
    >>> from minigan import nn, optim
    >>> model = nn.Linear(2, 1)
    >>> opt = optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    >>> loss = (model(mg.randn(8, 2)) ** 2).mean()
    >>> opt.zero_grad(); loss.backward(); opt.step()

`state_dict()` has torch's shape: {"state": {index: {"step": int, "exp_avg": array, ...}},
"param_groups": [{"lr": ..., "params": [index, ...]}, ...]}, so a checkpoint can hold it.
"""

import numpy as np

from .. import backend, kernels
from ..autograd import Tensor, enable_grad


def _check(condition, what, value, cls):
    if not condition:
        raise ValueError(f"{cls}: invalid {what}: {value!r}")


class Optimizer:
    """Base class: holds `param_groups` (dicts of params and hyperparameters) and per-param `state`.

    params: an iterable of Parameters, or of dicts {"params": [...], "lr": ...} (param groups whose
    missing hyperparameters come from `defaults`). Subclasses implement `step()`.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}           # Parameter -> dict of its state (arrays and a step count)
        self._scratch = {}        # id(Parameter) -> a work array shaped like it (not saved)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            f"dicts, got a single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a dict {"params": [...], **hyperparameters}; missing ones come from defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear more than once "
                             f"(in one group or in several)")
        group = {**self.defaults, **param_group, "params": params}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Clear every optimized parameter's grad (to None; to zeros with set_to_none=False)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    def _evaluate(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _scratch_like(self, p):
        """A work array shaped like parameter `p`'s, allocated once and reused every step."""
        array = p.array
        buf = self._scratch.get(id(p))
        if buf is None or buf.shape != array.shape or buf.dtype != array.dtype \
                or type(buf) is not type(array):
            buf = backend.get_array_module(array).empty_like(array)
            self._scratch[id(p)] = buf
        return buf

    def _state_array(self, state, key, like):
        """state[key] on `like`'s device and dtype (moved once if the model moved since)."""
        array = state[key]
        if type(array) is not type(like) or array.dtype != like.dtype:
            array = backend.to_device(array, backend.device_of(like)).astype(like.dtype)
            state[key] = array
        return array

    # ------------------------------------------------------------ state
    def state_dict(self):
        """A snapshot: {"state": {index: {name: array copy or int}}, "param_groups": [...]}.

        Parameters are numbered in order over the groups, as in torch.
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: v.copy() if hasattr(v, "shape") else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a `state_dict()` (arrays may be NumPy, CuPy or Tensors; they are copied to each
        parameter's device and dtype). The groups must match this optimizer's in number and size."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(saved_groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the state, "
                                 f"{len(group['params'])} here")
            by_index.update(zip(saved["params"], group["params"]))
        state = {}
        for key, values in state_dict["state"].items():
            if key not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key!r}, which no "
                                 f"parameter group lists")
            p = by_index[key]
            state[p] = {k: self._restore(v, p, k) for k, v in values.items()}
        self.state = state
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})

    def _restore(self, value, param, key):
        """A saved state value for `param`: arrays copied onto its device (floats in its dtype)."""
        value = value.array if isinstance(value, Tensor) else value
        if key == "step":
            return int(np.asarray(backend.to_device(value, "cpu")) if hasattr(value, "shape")
                       else value)
        if not hasattr(value, "shape"):
            return value
        if tuple(value.shape) != param.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} has shape "
                             f"{tuple(value.shape)}, but its parameter has shape {param.shape}")
        array = backend.to_device(value, param.device)
        dtype = param.dtype if array.dtype.kind == "f" else array.dtype
        return array.astype(dtype, copy=True)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, weight decay and Nesterov.

    g = grad + weight_decay * p;  b = momentum * b + (1 - dampening) * g (b = g on the first step);
    p -= lr * (g + momentum * b if nesterov else b)   (plain p -= lr * g when momentum == 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        _check(lr >= 0, "learning rate", lr, "SGD")
        _check(momentum >= 0, "momentum value", momentum, "SGD")
        _check(weight_decay >= 0, "weight_decay value", weight_decay, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure=None):
        """One update of every parameter that has a grad; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                p._version += 1       # updated in place: a graph that saved p can no longer backward
                param, grad = p.array, p.grad.array
                if weight_decay:
                    grad = grad + weight_decay * param
                if momentum:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grad.copy()
                        buf = state["momentum_buffer"]
                    else:
                        buf = self._state_array(state, "momentum_buffer", param)
                        buf *= momentum
                        buf += grad if dampening == 0 else (1 - dampening) * grad
                    grad = grad + momentum * buf if nesterov else buf
                update = self._scratch_like(p)
                backend.get_array_module(param).multiply(grad, lr, out=update)
                param -= update
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba) with torch's exact update, optional L2 weight decay and AMSGrad.

    g = grad + weight_decay * p;  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    (with amsgrad, v_max = max(v_max, v) replaces v in the denominator).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False):
        name = type(self).__name__
        _check(lr >= 0, "learning rate", lr, name)
        _check(eps >= 0, "epsilon value", eps, name)
        _check(len(betas) == 2 and all(0 <= b < 1 for b in betas), "betas", betas, name)
        _check(weight_decay >= 0, "weight_decay value", weight_decay, name)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _init_state(self, p, amsgrad):
        xp = backend.get_array_module(p.array)
        state = {"step": 0, "exp_avg": xp.zeros_like(p.array), "exp_avg_sq": xp.zeros_like(p.array)}
        if amsgrad:
            state["max_exp_avg_sq"] = xp.zeros_like(p.array)
        self.state[p] = state
        return state

    def step(self, closure=None):
        """One update of every parameter that has a grad; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                p._version += 1       # updated in place: a graph that saved p can no longer backward
                state = self.state.get(p) or self._init_state(p, amsgrad)
                self._update(p, state, lr, beta1, beta2, eps, weight_decay, amsgrad)
        return loss

    def _update(self, p, state, lr, beta1, beta2, eps, weight_decay, amsgrad):
        """In-place Adam step on one parameter: one fused pass on the CPU (kernels.adam_step)."""
        param = p.array
        exp_avg = self._state_array(state, "exp_avg", param)
        exp_avg_sq = self._state_array(state, "exp_avg_sq", param)
        second = self._state_array(state, "max_exp_avg_sq", param) if amsgrad else None
        state["step"] += 1
        kernels.adam_step(param, p.grad.array, exp_avg, exp_avg_sq, second, state["step"], lr, beta1, beta2,
                          eps, weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), torch's AdamW: each step first
    shrinks the weights, p *= 1 - lr * weight_decay, then takes Adam's step on the plain gradient.
    Same state keys as Adam ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _update(self, p, state, lr, beta1, beta2, eps, weight_decay, amsgrad):
        if weight_decay:
            p.array *= 1 - lr * weight_decay
        super()._update(p, state, lr, beta1, beta2, eps, 0, amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton) with torch's exact update: optional momentum, centering and L2
    weight decay. WGAN (Arjovsky et al. 2017) trains its critic with it at lr 5e-5.

    g = grad + weight_decay * p;  v = alpha v + (1 - alpha) g^2;
    avg = sqrt(v - m^2) + eps with m = alpha m + (1 - alpha) g when centered, else sqrt(v) + eps;
    p -= lr * b with b = momentum * b + g / avg when momentum > 0, else p -= lr * g / avg.
    State per parameter (torch's keys): "step", "square_avg", "momentum_buffer" (momentum > 0),
    "grad_avg" (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False):
        _check(lr >= 0, "learning rate", lr, "RMSprop")
        _check(eps >= 0, "epsilon value", eps, "RMSprop")
        _check(momentum >= 0, "momentum value", momentum, "RMSprop")
        _check(weight_decay >= 0, "weight_decay value", weight_decay, "RMSprop")
        _check(alpha >= 0, "alpha value", alpha, "RMSprop")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _init_state(self, p, momentum, centered):
        xp = backend.get_array_module(p.array)
        state = {"step": 0, "square_avg": xp.zeros_like(p.array)}
        if momentum > 0:
            state["momentum_buffer"] = xp.zeros_like(p.array)
        if centered:
            state["grad_avg"] = xp.zeros_like(p.array)
        self.state[p] = state
        return state

    def step(self, closure=None):
        """One update of every parameter that has a grad; returns closure() if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                p._version += 1       # updated in place: a graph that saved p can no longer backward
                state = self.state.get(p) or self._init_state(p, momentum, centered)
                self._update(p, state, group["lr"], group["alpha"], group["eps"],
                             group["weight_decay"], momentum, centered)
        return loss

    def _update(self, p, state, lr, alpha, eps, weight_decay, momentum, centered):
        """In-place RMSprop step on one parameter; `work` is the only scratch array."""
        param, grad = p.array, p.grad.array
        xp = backend.get_array_module(param)
        square_avg = self._state_array(state, "square_avg", param)
        work = self._scratch_like(p)
        if weight_decay:
            grad = grad + weight_decay * param
        state["step"] += 1
        square_avg *= alpha                           # v = alpha v + (1 - alpha) g^2
        xp.multiply(grad, grad, out=work)
        work *= 1 - alpha
        square_avg += work
        if centered:
            grad_avg = self._state_array(state, "grad_avg", param)
            xp.subtract(grad, grad_avg, out=work)     # m += (1 - alpha) (g - m)  (torch's lerp)
            work *= 1 - alpha
            grad_avg += work
            xp.multiply(grad_avg, grad_avg, out=work)  # avg = sqrt(v - m^2) + eps
            xp.subtract(square_avg, work, out=work)
            xp.sqrt(work, out=work)
        else:
            xp.sqrt(square_avg, out=work)             # avg = sqrt(v) + eps
        work += eps
        xp.divide(grad, work, out=work)               # g / avg
        if momentum > 0:
            buf = self._state_array(state, "momentum_buffer", param)
            buf *= momentum                           # b = momentum b + g / avg
            buf += work
            xp.multiply(buf, lr, out=work)
        else:
            work *= lr
        param -= work
