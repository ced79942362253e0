"""minigan.distributed: data-parallel training over MPI (CPU) and NCCL (GPU), with torch's names.

Launch one process per rank with ``mpiexec -n N python script.py``; in the script:

    >>> import minigan as mg
    >>> from minigan import distributed as dist, nn
    >>> dist.init_process_group("auto")           # "mpi" on CPUs, "nccl" where CuPy sees a GPU
    >>> mg.manual_seed(0)                          # the same initial weights on every rank
    >>> G = nn.parallel.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(G))
    >>> mg.manual_seed(dist.rank_seed(0))          # each rank its own noise
    >>> sampler = dist.DistributedSampler(dataset, seed=0)
    >>> if dist.is_main_process(): io.save_checkpoint(...)

Files: group.py (the process group, collectives, failure handling), sampler.py
(DistributedSampler), training.py (rank-0 writing, seeds, checkpointed random state, the global
image pool). DistributedDataParallel is in nn/parallel.py, SyncBatchNorm in nn/sync_batchnorm.py;
docs/distributed.md has the design and the scaling model.
"""
import os

from .group import (BACKENDS, ReduceOp, all_gather, all_gather_object, all_reduce, barrier,
                    broadcast, broadcast_object_list, destroy_process_group, get_backend, get_rank,
                    get_world_size, init_process_group, is_initialized)
from .sampler import DistributedSampler
from .training import (DistributedImagePool, any_rank, average_losses, check_world_size,
                       is_main_process, rank_seed, rng_state, set_rng_state)

# set by mpiexec for each process it starts: MPICH/Hydra (PMI_SIZE), Open MPI, PMIx launchers
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def launched_by_mpiexec():
    """True when this process was started by ``mpiexec`` (its environment says so)."""
    return any(name in os.environ for name in _LAUNCHER_SIZE_VARIABLES)


def init_if_launched(backend="auto", timeout=None):
    """``init_process_group(backend, timeout)`` when started by mpiexec and not yet initialized;
    otherwise nothing (mpi4py is then not imported). Returns ``is_initialized()``: the one call a
    script makes so that it runs both as ``python script.py`` and under ``mpiexec -n N``."""
    if launched_by_mpiexec() and not is_initialized():
        init_process_group(backend, timeout)
    return is_initialized()


__all__ = ["BACKENDS", "ReduceOp", "init_process_group", "init_if_launched", "launched_by_mpiexec",
           "destroy_process_group", "is_initialized", "get_backend", "get_rank", "get_world_size",
           "barrier", "all_reduce", "broadcast", "all_gather", "all_gather_object",
           "broadcast_object_list", "DistributedSampler", "DistributedImagePool", "is_main_process",
           "rank_seed", "rng_state", "set_rng_state", "check_world_size", "average_losses",
           "any_rank"]
