"""Convert a PyTorch ``.pth`` state dict to safetensors, once, so minigan can load it.

    python -m minigan.convert latest_net_G.pth horse2zebra_G.safetensors

needs PyTorch (only here: minigan itself never imports it). The file is read with
``torch.load(..., weights_only=True)``, so no code in it runs; every tensor is written, keys as
they are. Then, in minigan::

    G = ResnetGenerator(3, 3, ngf=64, n_blocks=9)           # junyanz's horse2zebra generator
    load_pretrained(G, "horse2zebra_G.safetensors")

``load_pretrained`` is ``G.load_state_dict(mg.load(path))`` with one allowance: checkpoints of
junyanz/pytorch-CycleGAN-and-pix2pix saved before PyTorch 0.4 carry ``running_mean`` /
``running_var`` (and ``num_batches_tracked``) buffers for InstanceNorm layers, which have none in
minigan (nor in today's torch: ``affine=False, track_running_stats=False``). Those keys, and only
where the module is an InstanceNorm without running statistics, are dropped; any other mismatch
still raises.
"""
import argparse
import os
import sys
from collections import namedtuple

import numpy as np

from .serialization import load, save

_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")
LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys", "dropped_keys"])


def drop_instance_norm_stats(state_dict, module):
    """``state_dict`` less the running-stat keys of ``module``'s InstanceNorm layers that keep none.

    Returns (the filtered dict, the dropped keys). Example: an old junyanz ResNet generator's
    ``model.2.running_mean`` goes when ``model.2`` is ``InstanceNorm2d(track_running_stats=False)``.
    """
    from .nn import InstanceNorm2d
    stateless = {name for name, m in module.named_modules()
                 if isinstance(m, InstanceNorm2d) and not getattr(m, "track_running_stats", False)}
    dropped = [key for key in state_dict
               if key.rpartition(".")[2] in _RUNNING_STATS and key.rpartition(".")[0] in stateless]
    return {k: v for k, v in state_dict.items() if k not in dropped}, dropped


def load_pretrained(module, path, strict=True):
    """Load a state dict saved by ``mg.save`` or converted by ``python -m minigan.convert`` into
    ``module``, tolerating old InstanceNorm running stats (see the module docstring).

    Returns ``LoadResult(missing_keys, unexpected_keys, dropped_keys)``.

        >>> load_pretrained(ResnetGenerator(3, 3), "horse2zebra_G.safetensors").dropped_keys
        ['model.2.running_mean', 'model.2.running_var', ...]
    """
    state = load(path)
    if not isinstance(state, dict):
        raise TypeError(f"load_pretrained: {os.fspath(path)!r} holds a {type(state).__name__}, "
                        f"not a state dict")
    state, dropped = drop_instance_norm_stats(state, module)
    missing, unexpected = module.load_state_dict(state, strict=strict)
    return LoadResult(list(missing), list(unexpected), dropped)


def _to_numpy_tree(obj, torch, where):
    """torch Tensors -> NumPy arrays, everywhere in nested dicts/lists (bfloat16 -> float32)."""
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.numpy()
    if isinstance(obj, dict):
        return {k: _to_numpy_tree(v, torch, f"{where}/{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_to_numpy_tree(v, torch, f"{where}/{i}") for i, v in enumerate(obj)]
        return tuple(items) if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str, np.ndarray, np.generic)):
        return obj
    raise TypeError(f"{where} is a {type(obj).__name__}, which is not a tensor or a number")


def convert(src, dst):
    """Read the state dict at ``src`` (``torch.load``, weights only) and write it to ``dst`` as
    safetensors; returns a one-line summary. Raises ValueError with one clear line on bad input."""
    if not os.path.isfile(src):
        raise ValueError(f"no such file: {src}")
    try:
        import torch
    except ImportError:
        raise ValueError("reading a .pth file needs PyTorch (pip install torch); minigan itself "
                         "does not") from None
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:   # torch raises many kinds for a bad or unsafe file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{src} cannot be read as a weights-only PyTorch file (a pickled "
                         f"module or other objects? save model.state_dict() instead): "
                         f"{first}") from None
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{src} holds a {type(obj).__name__}, not a state dict (a dict of "
                         f"name -> tensor)")
    try:
        tree = _to_numpy_tree(obj, torch, os.path.basename(src))
    except TypeError as e:
        raise ValueError(f"{src} is not a state dict: {e}") from None
    save(tree, dst)
    tensors = [v for v in tree.values() if isinstance(v, np.ndarray)]
    stats = sum(1 for k in tree if isinstance(k, str) and k.rpartition(".")[2] in _RUNNING_STATS)
    note = (f"; {stats} running-stat buffers (old InstanceNorm ones are dropped by "
            f"minigan.convert.load_pretrained)" if stats else "")
    return (f"wrote {dst}: {len(tensors)} tensors, {sum(t.size for t in tensors)} numbers"
            f"{note}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minigan.convert",
        description="Convert a PyTorch .pth state dict to .safetensors for minigan (needs torch).")
    parser.add_argument("src", help="the .pth / .pt file (a state dict)")
    parser.add_argument("dst", help="the .safetensors file to write")
    args = parser.parse_args(argv)
    try:
        print(convert(args.src, args.dst))
    except ValueError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
