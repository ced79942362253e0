"""DistributedSampler: each rank's disjoint share of a dataset's indices, epoch by epoch.

torch.utils.data.DistributedSampler's arguments and semantics. The order of epoch ``e`` is the one a
single-process ``DataLoader(shuffle=True, seed=seed)`` serves, ``default_rng([seed, e])``'s
permutation; it is padded by wrapping around to a multiple of ``num_replicas`` (or cut down to one
with ``drop_last``), and rank ``r`` takes every ``num_replicas``-th index from position ``r``:

    order   [7, 2, 9, 0, 4, 1, 8, 3, 6, 5]       num_replicas=2
    rank 0  [7,    9,    4,    8,    6   ]
    rank 1  [   2,    0,    1,    3,    5]

So with per-rank batches of B, batch b of every rank together holds the samples of a single-process
batch b of size B * num_replicas (in another order). Deterministic from (seed, epoch, rank).

    >>> sampler = DistributedSampler(dataset, seed=1)       # num_replicas, rank: from the group
    >>> for epoch in range(epochs):
    ...     sampler.set_epoch(epoch)                         # a new shuffle each epoch
    ...     for i in sampler: ...                            # this rank's indices
"""
import math

import numpy as np

from . import group


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"DistributedSampler: {name} must be an int >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """Indices of ``dataset`` for one rank; iterate it (or call ``indices()``) each epoch.

    Args:
        dataset: anything with ``len()``.
        num_replicas, rank: the world size and this rank (default: the process group's).
        shuffle: a new permutation every epoch (``set_epoch``); else 0..n-1.
        seed: non-negative int, the same on every rank.
        drop_last: drop the tail that does not divide evenly (else pad by repeating the start).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: dataset must have a length, got "
                            f"{type(dataset).__name__}")
        num_replicas = group.get_world_size() if num_replicas is None else num_replicas
        self.num_replicas = _check_int(num_replicas, "num_replicas", 1)
        rank = group.get_rank() if rank is None else rank
        self.rank = _check_int(rank, "rank", 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {self.num_replicas}), got "
                             f"{rank!r}")
        self.dataset, self.shuffle, self.drop_last = dataset, bool(shuffle), bool(drop_last)
        self.seed = _check_int(seed, "seed", 0)
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use the order of ``epoch`` on the next pass (the same value on every rank)."""
        self.epoch = _check_int(epoch, "epoch", 0)

    def indices(self, epoch=None):
        """This rank's indices for ``epoch`` (default: the current one): (num_samples,) int64."""
        epoch = self.epoch if epoch is None else _check_int(epoch, "epoch", 0)
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:                                   # pad by wrapping around
            order = np.resize(order, self.total_size)
        return order[:self.total_size][self.rank::self.num_replicas]

    def __iter__(self):
        return iter(int(i) for i in self.indices())

    def __len__(self):
        return self.num_samples

    def state_dict(self):
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state):
        self.set_epoch(int(state["epoch"]))
        self.seed = _check_int(int(state["seed"]), "seed", 0)
