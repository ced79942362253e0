"""The programs the distributed tests run under ``mpiexec -n 2`` (``python mpi_worker.py SCENARIO
OUT``); each writes its findings to OUT/result.json on rank 0. The training steps are twins of
GAN.train_step (non-saturating loss, D frozen by requires_grad for G's step, detached fakes) and
CycleGAN.train_step (LSGAN, cycle and identity terms, one Adam per pair, image pools), written out
here so that the tests pin the data-parallel machinery, not the trainers' options.

Scenarios: dcgan, cyclegan (2 ranks at batch B against one process at 2B, float64), resume-a /
resume-b (an MPI run checkpointed by rank 0 and resumed in a new job), kill, hang, raise (a rank
that dies, stops calling collectives, or raises).
"""
import itertools
import json
import os
import signal
import sys
import time

import numpy as np

import minigan as mg
from minigan import distributed as dist
from minigan import io, nn, optim
from minigan.gans.image_pool import ImagePool
from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.resnet import ResnetGenerator
from minigan.nn import functional as F
from minigan.nn.parallel import DistributedDataParallel as DDP

NZ, SIDE = 8, 16


def images(n, channels, seed):
    """n fixed pseudo-images in [-1, 1]: (n, channels, SIDE, SIDE) float64, alike on every rank."""
    return np.tanh(np.random.default_rng(seed).normal(size=(n, channels, SIDE, SIDE)))


def set_requires_grad(models, flag):
    for model in models:
        for p in model.parameters():
            p.requires_grad_(flag)


def write(out, result):
    if dist.is_main_process():
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump(result, f)


def max_difference(a, b):
    """The largest |a - b| over the entries of two state dicts (same keys)."""
    return max(float(np.max(np.abs(np.asarray(a[k].numpy(), np.float64)
                                    - np.asarray(b[k].numpy(), np.float64)))) for k in a)


# ---------------------------------------------------------------- DCGAN with SyncBatchNorm
def dcgan_models(dtype):
    mg.manual_seed(0)
    G = DCGANGenerator(SIDE, NZ, channels=1, ngf=8).to(dtype)
    D = DCGANDiscriminator(SIDE, channels=1, ndf=8).to(dtype)
    return G, D


def dcgan_step(G, D, opt_G, opt_D, real, z):
    """GAN.train_step's twin, non-saturating loss, d_steps=1."""
    ones, zeros = mg.ones(real.shape[0], 1, dtype=real.dtype), mg.zeros(real.shape[0], 1,
                                                                         dtype=real.dtype)
    fake = G(z)
    d_loss = F.binary_cross_entropy_with_logits(D(real), ones) + \
        F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    set_requires_grad([D], False)
    g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    set_requires_grad([D], True)
    return float(d_loss.item()), float(g_loss.item())


def adam(*models):
    params = itertools.chain(*(m.parameters() for m in models))
    return optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


class TwoHeads(nn.Module):
    """A trunk and two heads; `forward(x, head)` uses one head, so ranks can use different ones."""

    def __init__(self):
        super().__init__()
        self.trunk, self.a, self.b = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(4, 1)

    def forward(self, x, head):
        return getattr(self, head)(self.trunk(x).tanh())


def no_sync_and_unused_parameters():
    """Rank 0 uses head a, rank 1 head b, each over two micro-batches, the first in no_sync():
    every rank must end with the mean over ranks of each rank's summed gradients, a rank's unused
    head counting as zero. Returns the largest error against that, computed in one process."""
    xs = np.random.default_rng(9).normal(size=(2, 2, 5, 3))          # (rank, micro-batch, 5, 3)
    heads = ("a", "b")
    mg.manual_seed(1)
    model = DDP(TwoHeads().double())
    rank = dist.get_rank()
    with model.no_sync():
        model(mg.tensor(xs[rank, 0]), heads[rank]).sum().backward()
    unreduced = model.module.trunk.weight.grad.numpy()
    model(mg.tensor(xs[rank, 1]), heads[rank]).sum().backward()
    expected, local = {}, None
    for r in range(2):
        mg.manual_seed(1)
        plain = TwoHeads().double()
        for m in range(2):
            plain(mg.tensor(xs[r, m]), heads[r]).sum().backward()
            if (r, m) == (rank, 0):
                local = plain.trunk.weight.grad.numpy()
        for name, p in plain.named_parameters():
            if p.grad is not None:
                expected[name] = expected.get(name, 0) + p.grad.numpy() / 2
    got = dict(model.module.named_parameters())
    errors = [float(np.max(np.abs(got[k].grad.numpy() - v))) for k, v in expected.items()]
    return max(errors + [float(np.max(np.abs(unreduced - local)))])   # no_sync left it local


def scenario_dcgan(out, steps=5, batch=16):
    no_sync_error = max(dist.all_gather_object([None] * 2, no_sync_and_unused_parameters()))
    helpers = [dist.average_losses({"loss": float(dist.get_rank())}), dist.any_rank(
        dist.get_rank() == 1), dist.any_rank(False), dist.rng_state()["world_size"]]
    data = images(steps * batch * 2, 1, seed=1)
    noise = np.random.default_rng(2).normal(size=(steps, 2 * batch, NZ, 1, 1))
    shards = [dist.DistributedSampler(data, 2, r, seed=3).indices() for r in range(2)]
    rank = dist.get_rank()
    G, D = dcgan_models(np.float64)
    G, D = (DDP(nn.SyncBatchNorm.convert_sync_batchnorm(m)) for m in (G, D))
    opt_G, opt_D = adam(G), adam(D)
    for s in range(steps):
        real = mg.tensor(data[shards[rank][s * batch:(s + 1) * batch]])
        z = mg.tensor(noise[s, rank * batch:(rank + 1) * batch])
        dcgan_step(G, D, opt_G, opt_D, real, z)
    dist.destroy_process_group()
    if rank != 0:
        return
    G1, D1 = dcgan_models(np.float64)                     # one process, the global batch
    opt_G1, opt_D1 = adam(G1), adam(D1)
    for s in range(steps):
        order = np.concatenate([shard[s * batch:(s + 1) * batch] for shard in shards])
        dcgan_step(G1, D1, opt_G1, opt_D1, mg.tensor(data[order]), mg.tensor(noise[s]))
    write(out, {"no_sync": no_sync_error, "helpers": helpers,
                "G": max_difference(G.module.state_dict(), G1.state_dict()),
                "D": max_difference(D.module.state_dict(), D1.state_dict()),
                "moved": max_difference(dict(G1.named_parameters()),
                                        dict(dcgan_models(np.float64)[0].named_parameters()))})


# ---------------------------------------------------------------- CycleGAN with image pools
def cyclegan_models():
    mg.manual_seed(0)
    Gs = [ResnetGenerator(1, 1, ngf=4, n_blocks=1, norm="instance").double() for _ in range(2)]
    Ds = [PatchDiscriminator(1, ndf=4, n_layers=2, norm="instance").double() for _ in range(2)]
    return Gs + Ds


def cyclegan_step(G, F_, D_X, D_Y, opt_G, opt_D, pool_X, pool_Y, x, y, lambda_cycle=10.0):
    """CycleGAN.train_step's twin (LSGAN, identity weight 0.5)."""
    def crit(scores, target):
        return F.mse_loss(scores, mg.full(scores.shape, target, dtype=scores.dtype))
    fake_y, fake_x = G(x), F_(y)
    rec_x, rec_y = F_(fake_y), G(fake_x)
    set_requires_grad([D_X, D_Y], False)
    g_loss = crit(D_Y(fake_y), 1.0) + crit(D_X(fake_x), 1.0) \
        + lambda_cycle * (F.l1_loss(rec_x, x) + F.l1_loss(rec_y, y)) \
        + 0.5 * lambda_cycle * (F.l1_loss(G(y), y) + F.l1_loss(F_(x), x))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    set_requires_grad([D_X, D_Y], True)
    d_y = 0.5 * (crit(D_Y(y), 1.0) + crit(D_Y(pool_Y.query(fake_y.detach())), 0.0))
    d_x = 0.5 * (crit(D_X(x), 1.0) + crit(D_X(pool_X.query(fake_x.detach())), 0.0))
    opt_D.zero_grad()
    (d_x + d_y).backward()
    opt_D.step()


def scenario_cyclegan(out, steps=3, batch=4, pool_size=6):
    xs, ys = images(steps * 2 * batch, 1, seed=4), images(steps * 2 * batch, 1, seed=5)
    rank = dist.get_rank()
    mine = slice(rank * batch, (rank + 1) * batch)
    models = [DDP(m) for m in cyclegan_models()]
    opt_G, opt_D = adam(*models[:2]), adam(*models[2:])
    pools = [dist.DistributedImagePool(ImagePool(pool_size, rng=np.random.default_rng(seed)))
             for seed in (6, 7)]
    for s in range(steps):
        x, y = (mg.tensor(a[s * 2 * batch:(s + 1) * 2 * batch][mine]) for a in (xs, ys))
        cyclegan_step(*models, opt_G, opt_D, *pools, x, y)
    dist.destroy_process_group()
    if rank != 0:
        return
    single = cyclegan_models()
    opt_G1, opt_D1 = adam(*single[:2]), adam(*single[2:])
    pools1 = [ImagePool(pool_size, rng=np.random.default_rng(seed)) for seed in (6, 7)]
    for s in range(steps):
        x, y = (mg.tensor(a[s * 2 * batch:(s + 1) * 2 * batch]) for a in (xs, ys))
        cyclegan_step(*single, opt_G1, opt_D1, *pools1, x, y)
    with mg.no_grad():
        probe = mg.tensor(xs[:4])
        outputs = max(float(np.max(np.abs((m.module(probe) - m1(probe)).numpy())))
                      for m, m1 in zip(models, single))
    # the biases of convs followed by InstanceNorm have a zero gradient in exact arithmetic: their
    # values are rounding noise scaled up by Adam (about 4e-11 at lr 2e-4 here), equal only to that
    write(out, {"models": max(max_difference(m.module.state_dict(), m1.state_dict())
                              for m, m1 in zip(models, single)),
                "outputs": outputs,
                "pools": max(float(np.max(np.abs(np.stack(p.pool.images) - np.stack(p1.images))))
                             for p, p1 in zip(pools, pools1)),
                "pool_sizes": [len(p) for p in pools1]})


# ---------------------------------------------------------------- checkpoint and resume
def resume_setup(seed=11):
    """Models, optimizers and a sampler as a training script builds them under mpiexec."""
    mg.manual_seed(seed)                                  # the same initial weights everywhere
    G, D = DCGANGenerator(SIDE, NZ, channels=1, ngf=8), DCGANDiscriminator(SIDE, 1, ndf=8)
    G, D = (DDP(nn.SyncBatchNorm.convert_sync_batchnorm(m)) for m in (G, D))
    mg.manual_seed(dist.rank_seed(seed))                  # each rank its own noise
    data = images(48, 1, seed=8).astype(np.float32)
    return G, D, adam(G), adam(D), dist.DistributedSampler(data, seed=seed), data


def resume_train(state, start, stop, batch=8):
    G, D, opt_G, opt_D, sampler, data = state
    per_epoch = len(sampler) // batch
    for step in range(start, stop):
        sampler.set_epoch(step // per_epoch)
        b = step % per_epoch
        real = mg.tensor(data[sampler.indices()[b * batch:(b + 1) * batch]])
        dcgan_step(G, D, opt_G, opt_D, real, mg.randn(batch, NZ, 1, 1))


def checkpoint(state, step):
    G, D, opt_G, opt_D, sampler, _ = state
    return {"G": G.module.state_dict(), "D": D.module.state_dict(), "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(), "sampler": sampler.state_dict(), "step": step,
            "rng": dist.rng_state()}                      # a collective: every rank calls it


def scenario_resume_a(out, total=6, stop=3):
    full = resume_setup()
    resume_train(full, 0, total)
    final = {"G": full[0].module.state_dict(), "D": full[1].module.state_dict()}
    if dist.is_main_process():
        io.save_checkpoint(os.path.join(out, "uninterrupted.ckpt"), final)
    part = resume_setup()
    resume_train(part, 0, stop)
    state = checkpoint(part, stop)
    if dist.is_main_process():
        io.save_checkpoint(os.path.join(out, "checkpoint.ckpt"), state)
    dist.barrier()


def scenario_resume_b(out, total=6):
    state = io.load_checkpoint(os.path.join(out, "checkpoint.ckpt"))
    run = resume_setup(seed=99)                           # other weights and streams until loaded
    G, D, opt_G, opt_D, sampler, _ = run
    G.module.load_state_dict(state["G"])
    D.module.load_state_dict(state["D"])
    opt_G.load_state_dict(state["opt_G"])
    opt_D.load_state_dict(state["opt_D"])
    sampler.load_state_dict(state["sampler"])
    dist.set_rng_state(state["rng"])
    resume_train(run, int(state["step"]), total)
    full = io.load_checkpoint(os.path.join(out, "uninterrupted.ckpt"))
    diffs = [float(np.max(np.abs(np.asarray(full[m][k], np.float64)
                                 - run[i].module.state_dict()[k].numpy().astype(np.float64))))
             for i, m in enumerate(("G", "D")) for k in full[m]]
    everyone = dist.all_gather_object([None] * dist.get_world_size(), max(diffs))
    write(out, {"max_difference": max(everyone)})


# ---------------------------------------------------------------- failures
def scenario_failure(out, how):
    G, D = dcgan_models(np.float32)
    G, D = DDP(G), DDP(D)
    opt_G, opt_D = adam(G), adam(D)
    for step in range(50):
        if step == 2 and dist.get_rank() == 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif how == "hang":
                time.sleep(120)
            else:
                raise ValueError("rank 1 fails on purpose")
        dcgan_step(G, D, opt_G, opt_D, mg.randn(4, 1, SIDE, SIDE), mg.randn(4, NZ, 1, 1))


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    dist.init_process_group("mpi", timeout=2 if scenario == "hang" else 60)
    if scenario in ("kill", "hang", "raise"):
        scenario_failure(out, scenario)
    else:
        globals()["scenario_" + scenario.replace("-", "_")](out)


if __name__ == "__main__":
    main()
