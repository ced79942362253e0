"""``torch.utils.data``'s names: the loader of ``minigan.data`` plus TensorDataset and random_split.

``Dataset``, ``DataLoader``, ``Subset`` and the collate are ``minigan.data.loader``'s (one loader);
see there for the determinism contract: same seed, same batches, with any ``num_workers``.

    >>> from minigan.utils.data import DataLoader, TensorDataset
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, num_workers=2)
"""
import numpy as np

from ..data.loader import (DataLoader, Dataset, Subset, collate, collate_arrays, current_rng,
                           sample_rng)
from ..distributed.sampler import DistributedSampler  # noqa: F401  (torch.utils.data's name)
from ..random import generator as global_generator

__all__ = ["Dataset", "DataLoader", "Subset", "TensorDataset", "ConcatDataset", "random_split",
           "default_collate", "collate_arrays", "current_rng", "sample_rng"]


def default_collate(batch):
    """torch's ``default_collate``: a list of samples -> a batch of CPU Tensors (see ``collate``)."""
    return collate(batch, "cpu")


class TensorDataset(Dataset):
    """Sample i is ``tuple(t[i] for t in tensors)``; every tensor has the same first size.

    tensors: Tensors or arrays, (N, ...) each. Example: ``TensorDataset(x, y)[3]`` -> (x[3], y[3]).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        sizes = {len(t) for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"TensorDataset: every tensor must have the same first size, got "
                             f"{[len(t) for t in tensors]}")
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


class ConcatDataset(Dataset):
    """The samples of several datasets, one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.ends = np.cumsum([len(d) for d in self.datasets])   # (D,) end index of each

    def __len__(self):
        return int(self.ends[-1])

    def __getitem__(self, index):
        from ..data.loader import _fetch, check_index
        index = check_index(index, len(self))
        which = int(np.searchsorted(self.ends, index, side="right"))
        start = 0 if which == 0 else int(self.ends[which - 1])
        return _fetch(self.datasets[which], index - start, current_rng())


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset``s of the given lengths (ints summing to
    len(dataset), or fractions summing to 1), in a random order.

    generator: a ``numpy.random.Generator`` or an int seed (default: minigan's global generator,
    which ``mg.manual_seed`` seeds). Example: ``train, val = random_split(data, [0.9, 0.1])``.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths):
        if not np.isclose(sum(lengths), 1.0):
            raise ValueError(f"random_split: fractions must sum to 1, got {lengths} "
                             f"(sum {sum(lengths)})")
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):                      # the remainder, round-robin
            counts[i % len(counts)] += 1
        lengths = counts
    if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) \
            or sum(lengths) != n:
        raise ValueError(f"random_split: lengths must be non-negative ints summing to the "
                         f"dataset's {n} samples (or fractions summing to 1), got {lengths}")
    if generator is None:
        generator = global_generator()
    elif not isinstance(generator, np.random.Generator):
        generator = np.random.default_rng(generator)
    order = generator.permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - length:end].tolist()) for end, length in zip(ends, lengths)]
