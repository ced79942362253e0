"""The distributed pieces that need no second process: the sampler's shards, seeds, the resume
checks, errors, the engine's end-of-backward callback, and SyncBatchNorm's arithmetic (with the
all-reduce as the identity, it must be BatchNorm's). mpi4py is never imported here."""
import sys

import numpy as np
import pytest

import minigan as mg
from minigan import autograd, backend, nn
from minigan import random as mg_random
from minigan import distributed as dist
from minigan.nn import sync_batchnorm
from minigan.nn.parallel import DistributedDataParallel


# ---------------------------------------------------------------- DistributedSampler
def test_sampler_shards_are_disjoint_and_cover_the_epoch_order():
    data = np.zeros(10)
    shards = [dist.DistributedSampler(data, 3, r, seed=4) for r in range(3)]
    order = np.random.default_rng([4, 0]).permutation(10)          # DataLoader's epoch-0 order
    assert [len(s) for s in shards] == [4, 4, 4]
    padded = np.resize(order, 12)
    for r, s in enumerate(shards):
        assert list(s) == list(padded[r::3])
    assert set(np.concatenate([s.indices() for s in shards])) == set(range(10))


def test_sampler_global_batch_is_the_single_process_batch():
    shards = [dist.DistributedSampler(np.zeros(64), 2, r, seed=1).indices() for r in range(2)]
    order = np.random.default_rng([1, 0]).permutation(64)
    for b in range(4):                                              # per-rank batch 8
        together = np.concatenate([s[b * 8:(b + 1) * 8] for s in shards])
        assert sorted(together) == sorted(order[b * 16:(b + 1) * 16])


def test_sampler_epochs_drop_last_state_and_errors():
    s = dist.DistributedSampler(np.zeros(10), 4, 1, seed=2, drop_last=True)
    first = s.indices()
    s.set_epoch(1)
    assert len(s) == 2 and list(s.indices()) != list(first)
    assert list(s.indices(0)) == list(first)
    t = dist.DistributedSampler(np.zeros(10), 4, 1, seed=0, drop_last=True)
    t.load_state_dict(s.state_dict())
    assert list(t) == list(s)
    assert list(dist.DistributedSampler(np.zeros(5), 2, 1, shuffle=False)) == [1, 3, 0]
    assert dist.DistributedSampler(np.zeros(5)).num_replicas == 1      # no process group
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\), got 2"):
        dist.DistributedSampler(np.zeros(5), 2, 2)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        dist.DistributedSampler(np.zeros(5), seed=-1)


# ---------------------------------------------------------------- seeds, resume, losses
def test_rank_seeds_and_random_state_round_trip():
    assert dist.rank_seed(7) == 7 == dist.rank_seed(7, rank=0)
    assert len({dist.rank_seed(7, rank=r) for r in range(8)}) == 8
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        dist.rank_seed(-1)
    mg.manual_seed(3)
    state = dist.rng_state()
    expected = mg.randn(4).numpy()
    assert state["world_size"] == 1
    dist.set_rng_state(state)
    assert np.array_equal(mg.randn(4).numpy(), expected)


def test_resume_at_another_world_size_is_refused_unless_resharding():
    with pytest.raises(ValueError, match="written by a run of 4 rank.*this run has 1.*"
                                         "--allow-reshard"):
        dist.check_world_size(4)
    dist.check_world_size(4, allow_reshard=True)
    mg.manual_seed(5)
    saved = {"world_size": 2, "ranks": {"0": mg_random.get_state(), "1": None}}
    with pytest.raises(ValueError, match="written by a run of 2"):
        dist.set_rng_state(saved)
    dist.set_rng_state(saved, allow_reshard=True)                   # rank 0 takes rank 0's


def test_losses_and_flags_pass_through_with_one_process():
    assert dist.average_losses({"d": 1.5}) == {"d": 1.5}
    assert dist.any_rank(True) and not dist.any_rank(0)
    assert dist.is_main_process() and dist.get_rank() == 0 and dist.get_world_size() == 1


# ---------------------------------------------------------------- errors without a group
def test_init_rejects_bad_arguments_without_importing_mpi4py():
    with pytest.raises(ValueError, match=r"backend must be one of \('mpi', 'nccl', 'auto'\), "
                                         r"got 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        dist.init_process_group("mpi", timeout=-1)
    assert "mpi4py" not in sys.modules


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is present")
def test_nccl_without_cupy_or_gpu_says_so():
    with pytest.raises(RuntimeError, match="backend='nccl' needs CuPy and a GPU, but .*"
                                           "use backend='mpi'"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_collectives_and_ddp_need_a_process_group():
    with pytest.raises(RuntimeError, match="all_reduce: the process group is not initialized"):
        dist.all_reduce(np.zeros(3))
    with pytest.raises(RuntimeError, match="DistributedDataParallel: the process group is not "
                                           "initialized"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_init_if_launched_does_nothing_outside_mpiexec(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert not dist.launched_by_mpiexec() and not dist.init_if_launched()
    assert "mpi4py" not in sys.modules


def test_distributed_image_pool_needs_its_own_generator():
    from minigan.gans.image_pool import ImagePool
    with pytest.raises(ValueError, match="built with its own rng"):
        dist.DistributedImagePool(ImagePool(4))
    pool = dist.DistributedImagePool(ImagePool(2, rng=np.random.default_rng(0)))
    out = pool.query(mg.randn(3, 1, 2, 2))                          # one process: the pool itself
    assert out.shape == (3, 1, 2, 2) and len(pool) == 2
    assert set(pool.state_dict()) == {"pool", "rng"}


# ---------------------------------------------------------------- the engine's callback
def test_queue_callback_runs_once_when_backward_has_finished():
    calls = []

    class Probe(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            autograd.api.queue_callback(lambda: calls.append(w.grad is not None))
            return grad * 2

    w = mg.ones(3, requires_grad=True)
    (Probe.apply(w) * w).sum().backward()
    assert calls == [True]                         # after w.grad was written
    (w * 3).sum().backward()
    assert calls == [True]                         # not again


# ---------------------------------------------------------------- SyncBatchNorm
def test_convert_sync_batchnorm_keeps_keys_order_and_parameters():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.InstanceNorm2d(4))
    weight = model[1].weight
    keys = list(model.state_dict())
    nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(model[1], nn.SyncBatchNorm) and model[1].weight is weight
    assert isinstance(model[3], nn.InstanceNorm2d) and list(model.state_dict()) == keys
    with pytest.raises(TypeError, match="module must be an nn.Module, got int"):
        nn.convert_sync_batchnorm(3)


def test_sync_batchnorm_alone_is_batchnorm():
    bn, sync = nn.BatchNorm2d(3).double(), nn.SyncBatchNorm(3).double()
    x = mg.randn(4, 3, 5, 5, dtype=np.float64)
    assert np.array_equal(bn(x).numpy(), sync(x).numpy())
    assert np.array_equal(bn.running_var.numpy(), sync.running_var.numpy())


def test_sync_batchnorm_arithmetic_with_one_rank_equals_batchnorm(monkeypatch):
    """The all-reduced path with all_reduce as the identity: forward, running statistics, and the
    gradients of x, weight and bias must be BatchNorm's (float64)."""
    monkeypatch.setattr(sync_batchnorm.dist, "all_reduce", lambda array, op=None: array)
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(4, 3, 5, 5))
    gy = rng.normal(size=x.shape)
    results = []
    for sync in (False, True):
        bn = nn.BatchNorm2d(3).double()
        bn.weight.data = mg.tensor(rng.normal(size=3)) if not results else results[0][4]
        xt = mg.tensor(x, requires_grad=True)
        if sync:
            y = sync_batchnorm.SyncBatchNormFunction.apply(
                xt, bn.weight, bn.bias, bn.running_mean.array, bn.running_var.array, 0.1, 1e-5)
        else:
            y = bn(xt)
        (y * mg.tensor(gy)).sum().backward()
        results.append((y.numpy(), xt.grad.numpy(), bn.weight.grad.numpy(),
                        bn.running_var.numpy(), bn.weight.data))
    for a, b in zip(results[0][:4], results[1][:4]):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
