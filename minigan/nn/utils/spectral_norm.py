"""Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for GANs"), as
torch.nn.utils.spectral_norm: the weight is divided by an estimate of its largest singular value.

    W_mat = weight_orig with dimension `dim` moved first, flattened to (h, w)
    training forward:  v = normalize(W_matᵀ u), u = normalize(W_mat v)   (n_power_iterations times,
                       no graph; u and v are buffers, so the estimate improves across steps)
    every forward:     sigma = uᵀ W_mat v,  weight = weight_orig / sigma  (sigma in the graph)

The module keeps torch's names, so state_dicts move both ways: the parameter `weight_orig` and the
buffers `weight_u` (h,) and `weight_v` (w,). A forward pre-hook sets `module.weight` before each
forward; in eval mode u and v stay as they are.

    >>> D = nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(3, 64, 4, 2, 1)), nn.LeakyReLU(0.2))
    >>> list(D[0].state_dict())
    ['bias', 'weight_orig', 'weight_u', 'weight_v']
"""
from ... import backend
from ... import random as mg_random
from ...autograd import Tensor, no_grad
from ..conv import ConvTranspose2d
from ..module import Parameter


def _normalize(vector, eps):
    """vector / max(||vector||, eps), torch.nn.functional.normalize's rule (no host sync)."""
    xp = backend.get_array_module(vector)
    return vector / xp.maximum(xp.linalg.norm(vector), eps)


class SpectralNorm:
    """The forward pre-hook: recomputes `module.<name>` from `<name>_orig`, `<name>_u`, `<name>_v`."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got "
                             f"{n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight):
        """weight (Tensor) with dimension `dim` first, as (h, w)."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.matrix(weight)                                  # (h, w), in the graph
        if do_power_iteration:
            w_mat = matrix.array
            for _ in range(self.n_power_iterations):                  # in place on the buffers
                v.array[...] = _normalize(w_mat.T @ u.array, self.eps)
                u.array[...] = _normalize(w_mat @ v.array, self.eps)
        u_now, v_now = Tensor(u.array.copy()), Tensor(v.array.copy())  # constants in the graph
        sigma = (u_now * (matrix @ v_now)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            if self.name + suffix in module.__dict__:
                object.__delattr__(module, self.name + suffix)
            else:
                delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach().array.copy()))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Apply spectral normalisation to `module.<name>` and return the module (torch's signature).

    dim: the output dimension of the weight: 0, or 1 for ConvTranspose2d (its weight is
    (in, out, kh, kw)) when None. u and v start as normalised N(0, 1) draws from minigan's generator.
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"spectral_norm: cannot register two spectral_norm hooks on the same "
                               f"parameter {name!r}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    h, w = fn.matrix(weight).shape
    rng, device = mg_random.generator(), weight.device
    draw = (lambda n: Tensor(backend.to_device(_normalize(rng.normal(0.0, 1.0, n), eps)
                                               .astype(weight.dtype), device)))
    u, v = draw(h), draw(w)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())          # a plain attribute until forward
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo spectral_norm: `module.<name>` becomes a Parameter again, holding weight_orig / sigma."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"remove_spectral_norm: spectral_norm of {name!r} not found in {module}")
