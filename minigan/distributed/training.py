"""What a training loop needs to run the same under ``mpiexec -n N``: one writer, the right seeds,
per-rank random state in checkpoints, agreement on losses and on stopping, and a global image pool.

- ``is_main_process()``: rank 0 (or no process group) alone writes checkpoints, grids, metrics and
  draws the progress bar.
- Seeds: ``mg.manual_seed(seed)`` on every rank before the models are built (the same initial
  weights; DistributedDataParallel also broadcasts rank 0's), then
  ``mg.manual_seed(rank_seed(seed))`` so that each rank draws its own noise and dropout masks.
  ``rank_seed`` is ``seed`` itself on rank 0, so a one-process run is unchanged.
- Checkpoints: ``rng_state()`` gathers every rank's generator state (a collective: call it on every
  rank, then write on rank 0); ``set_rng_state(state)`` gives each rank its own back.
  ``check_world_size(saved, allow_reshard)`` refuses a resume at another world size unless asked.
- ``average_losses(losses)`` and ``any_rank(flag)``: every rank logs the same numbers and stops at
  the same step (Ctrl-C reaches the ranks at different moments).
- ``DistributedImagePool(pool)``: CycleGAN's image pool over the global batch, so that N ranks at
  batch B draw exactly what one process at batch N * B draws.
"""
import numpy as np

from .. import backend
from .. import random as mg_random
from ..autograd import Tensor
from . import group


def is_main_process():
    """True on rank 0, and in a process without a process group."""
    return group.get_rank() == 0


def rank_seed(seed, rank=None):
    """This rank's seed for per-rank randomness (noise, dropout): ``seed`` on rank 0, an independent
    one (from ``SeedSequence([seed, rank])``) on the others."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"rank_seed: seed must be a non-negative int, got {seed!r}")
    rank = group.get_rank() if rank is None else rank
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1, np.uint32)[0])


def rng_state():
    """Every rank's minigan generator state: {"world_size": N, "ranks": {"0": state, ...}}.

    A collective: every rank calls it (rank 0 then writes it into the checkpoint)."""
    states = [None] * group.get_world_size()
    if group.is_initialized():
        group.all_gather_object(states, mg_random.get_state())
    else:
        states[0] = mg_random.get_state()
    return {"world_size": len(states), "ranks": {str(r): s for r, s in enumerate(states)}}


def check_world_size(saved, allow_reshard=False):
    """Refuse (ValueError) to resume a checkpoint written by ``saved`` ranks at another world size,
    unless ``allow_reshard``: the data shards and noise streams would differ from the run's own."""
    size = group.get_world_size()
    if int(saved) != size and not allow_reshard:
        raise ValueError(f"resume: the checkpoint was written by a run of {int(saved)} rank(s), "
                         f"this run has {size}; resume with mpiexec -n {int(saved)}, or pass "
                         f"--allow-reshard to go on with {size} (the data shards and noise streams "
                         f"then differ from an uninterrupted run)")


def set_rng_state(state, allow_reshard=False):
    """Give this rank its own generator state from ``rng_state()``'s output. At another world size
    (with ``allow_reshard``) rank r takes saved rank r's state, and a rank beyond the saved ones a
    new stream derived from rank 0's state."""
    check_world_size(state["world_size"], allow_reshard)
    ranks, rank = state["ranks"], group.get_rank()
    if str(rank) in ranks:
        mg_random.set_state(ranks[str(rank)])
        return
    entropy = int(ranks["0"]["state"]["state"])
    seed = np.random.SeedSequence(entropy, spawn_key=(rank,)).generate_state(1, np.uint32)[0]
    mg_random.manual_seed(int(seed))


def average_losses(losses):
    """{name: float} averaged over the ranks (a collective; returns the dict unchanged without a
    process group), so that every rank logs, checks for NaN and stops on the same numbers."""
    if group.get_world_size() == 1:
        return dict(losses)
    names = list(losses)
    values = np.array([float(losses[k]) for k in names], dtype=np.float64)
    group.all_reduce(values, group.ReduceOp.AVG)
    return {k: float(v) for k, v in zip(names, values)}


def any_rank(flag):
    """True on every rank when ``flag`` is true on any rank (a collective)."""
    if group.get_world_size() == 1:
        return bool(flag)
    value = np.array([1 if flag else 0], dtype=np.int64)
    group.all_reduce(value, group.ReduceOp.MAX)
    return bool(value[0])


class DistributedImagePool:
    """Wraps an ``ImagePool`` so that it runs over the global batch: ``query`` gathers every rank's
    fakes (B each, in rank order), runs the pool once on the N * B of them, and returns this rank's
    B. Every rank keeps the same pool; give the wrapped pool its own ``rng`` seeded the same on
    every rank (``ImagePool(50, rng=np.random.default_rng(seed))``), since the global generator is
    per rank.

        >>> pool_Y = DistributedImagePool(ImagePool(50, rng=np.random.default_rng(seed)))
        >>> pooled = pool_Y.query(fake_y.detach())        # (B, C, H, W) -> (B, C, H, W)

    ``state_dict()`` holds the pool's images and its generator's state (identical on every rank).
    """

    def __init__(self, pool):
        if not hasattr(pool, "query") or (getattr(pool, "pool_size", 1) and
                                          getattr(pool, "rng", None) is None):
            raise ValueError("DistributedImagePool: pool must be an ImagePool built with its own "
                             "rng (the same seed on every rank), got "
                             f"{type(pool).__name__} with rng={getattr(pool, 'rng', None)!r}")
        self.pool = pool

    def __len__(self):
        return len(self.pool)

    def query(self, images):
        """(B, C, H, W) Tensor -> (B, C, H, W) Tensor; B must be the same on every rank."""
        data = images.array if isinstance(images, Tensor) else images
        world, rank = group.get_world_size(), group.get_rank()
        if world == 1:
            return self.pool.query(images)
        xp = backend.get_array_module(data)
        parts = [xp.empty_like(data) for _ in range(world)]
        group.all_gather(parts, xp.ascontiguousarray(data))
        pooled = self.pool.query(Tensor(xp.concatenate(parts)))             # (N*B, C, H, W)
        batch = data.shape[0]
        return Tensor(pooled.array[rank * batch:(rank + 1) * batch].copy())  # this rank's B

    def state_dict(self):
        rng = self.pool.rng
        return {"pool": self.pool.state_dict(),
                "rng": {} if rng is None else rng.bit_generator.state}

    def load_state_dict(self, state, device="cpu"):
        self.pool.load_state_dict(state["pool"], device)
        if self.pool.rng is not None:
            self.pool.rng.bit_generator.state = state["rng"]
