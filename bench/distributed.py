"""Data-parallel training on this machine: 2 ranks x 1 thread against 1 rank x 2 threads.

    python bench/distributed.py                    # dcgan32 and cyclegan64, 10 timed steps each
    python bench/distributed.py --quick            # 2 timed steps, a smoke run
    python bench/distributed.py --cases dcgan32 --steps 20 --out bench/results/distributed.md

Cases (float32, the examples' models, the library's trainers ``gans.GAN`` and ``gans.CycleGAN``):
- ``dcgan32``: DCGAN at 32x32, 1 channel, ngf = ndf = 64, nz = 100, global batch 64 (2 x 32 or
  1 x 64); under MPI with SyncBatchNorm, so both runs compute the same batch statistics;
- ``cyclegan64``: CycleGAN at 64x64, ResNet G with 6 blocks, ngf = ndf = 32, instance norm, pools
  of 50 (``DistributedImagePool`` under MPI), global batch 2 (2 x 1 or 1 x 2).

Each configuration runs in its own job: ``mpiexec -n 2`` with NUMBA_NUM_THREADS=1 and
OPENBLAS_NUM_THREADS=1 per rank, and one plain process with both at 2. Each warms up, times
``--steps`` steps (median), and counts the time spent inside collectives (all of them, waiting for
the slower rank included) and, within that, in DistributedDataParallel's gradient reduction
(flattening and unflattening the buckets included), plus the gradient bytes one step all-reduces,
per model. Writes a markdown
table to ``--out`` and prints it; docs/distributed.md turns these numbers into a scaling model.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import shutil
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = ("dcgan32", "cyclegan64")


# ---------------------------------------------------------------- the worker (one job)
def _instrument(dist, parallel):
    """Count seconds in collectives and in DDP's gradient reduction, and the bytes it reduces."""
    counters = {"collectives": 0.0, "calls": 0, "grad_reduce": 0.0, "grad_bytes": {}}
    call = dist.group._Group.call

    def timed_call(self, what, fn, *args):
        start = time.perf_counter()
        try:
            return call(self, what, fn, *args)
        finally:
            counters["collectives"] += time.perf_counter() - start
            counters["calls"] += 1

    reduce = parallel.DistributedDataParallel.reduce_gradients

    def timed_reduce(self):
        start = time.perf_counter()
        before = {id(p): p.grad for p in self.module.parameters()}
        reduce(self)
        counters["grad_reduce"] += time.perf_counter() - start
        sent = sum(p.grad.array.nbytes for p in self.module.parameters()
                   if p.grad is not before[id(p)])
        name = type(self.module).__name__ + f"#{id(self) % 1000}"
        counters["grad_bytes"][name] = counters["grad_bytes"].get(name, 0) + sent

    dist.group._Group.call = timed_call
    parallel.DistributedDataParallel.reduce_gradients = timed_reduce
    return counters


def _build(case, distributed):
    import numpy as np

    import minigan as mg
    from minigan import distributed as dist
    from minigan import nn, optim
    from minigan.gans.cyclegan import CycleGAN
    from minigan.gans.gan import GAN
    from minigan.gans.image_pool import ImagePool
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator

    world = dist.get_world_size()

    def wrap(model):
        if not distributed:
            return model
        return nn.parallel.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model))

    mg.manual_seed(0)
    rng = np.random.default_rng(dist.get_rank())
    if case == "dcgan32":
        G, D = wrap(DCGANGenerator(32, 100, 1, 64)), wrap(DCGANDiscriminator(32, 1, 64))
        mg.manual_seed(dist.rank_seed(0))
        adam = (lambda m: optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)))
        trainer = GAN(G, D, adam(G), adam(D), latent_shape=(100, 1, 1))
        batch = 64 // world
        real = mg.tensor(np.tanh(rng.normal(size=(batch, 1, 32, 32))).astype(np.float32))
        return trainer, (real,), {"G": G, "D": D}
    Gs = [wrap(ResnetGenerator(3, 3, 32, 6, norm="instance")) for _ in range(2)]
    Ds = [wrap(PatchDiscriminator(3, 32, 3, norm="instance")) for _ in range(2)]
    trainer = CycleGAN(*Gs, *Ds, pool_size=50)
    if distributed:
        trainer.pool_X, trainer.pool_Y = (
            dist.DistributedImagePool(ImagePool(50, rng=np.random.default_rng(s))) for s in (1, 2))
    batch = 2 // world
    images = [mg.tensor(np.tanh(rng.normal(size=(batch, 3, 64, 64))).astype(np.float32))
              for _ in range(2)]
    return trainer, tuple(images), {"G": Gs[0], "F": Gs[1], "D_X": Ds[0], "D_Y": Ds[1]}


def worker(case, steps, warmup, out):
    from minigan import distributed as dist
    from minigan.nn import parallel
    distributed = dist.init_if_launched("mpi")
    counters = _instrument(dist, parallel)
    trainer, batch, models = _build(case, distributed)
    for _ in range(warmup):
        trainer.train_step(*batch)
    times, comm, grad = [], [], []
    for _ in range(steps):
        if distributed:
            dist.barrier()                 # start every step together
        counters.update(collectives=0.0, calls=0, grad_reduce=0.0, grad_bytes={})
        start = time.perf_counter()
        trainer.train_step(*batch)
        times.append(time.perf_counter() - start)
        comm.append(counters["collectives"])
        grad.append(counters["grad_reduce"])
    params = {name: sum(p.array.nbytes for p in m.parameters()) for name, m in models.items()}
    row = {"step": statistics.median(times), "collectives": statistics.median(comm),
           "grad_reduce": statistics.median(grad),
           "grad_bytes": sum(counters["grad_bytes"].values()),
           "param_bytes": params, "calls": counters["calls"], "world": dist.get_world_size()}
    if dist.is_main_process():
        with open(out, "w") as f:
            json.dump(row, f)


# ---------------------------------------------------------------- the driver
def _mpiexec():
    local = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return local if os.path.isfile(local) else shutil.which("mpiexec")


def run(case, ranks, threads, steps, warmup):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, os.path.abspath(__file__), "--worker", case, "--steps",
                   str(steps), "--warmup", str(warmup), "--row", out]
        if ranks > 1:
            command = [_mpiexec(), "-n", str(ranks)] + command
        # OPENBLAS_NUM_THREADS: with one Numba thread the kernels leave GEMMs to numpy's BLAS and
        # its own threads, which spin; two ranks x 2 spinning BLAS threads on 2 cores ran 15x slower
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
            env.pop(name, None)
        subprocess.run(command, check=True, env=env, timeout=1800)
        with open(out) as f:
            return json.load(f)


def table(rows):
    lines = ["| case | ranks x threads | global batch | step (s) | steps/s | collectives (ms/step) "
             "| DDP gradient reduction, packing included (ms/step) | gradient MB/step "
             "| params MB per model |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (case, ranks, threads), row in rows.items():
        batch = {"dcgan32": 64, "cyclegan64": 2}[case]
        models = ", ".join(f"{k} {v / 2 ** 20:.2f}" for k, v in row["param_bytes"].items())
        lines.append(f"| {case} | {ranks} x {threads} | {batch} | {row['step']:.3f} | "
                     f"{1 / row['step']:.2f} | {row['collectives'] * 1e3:.1f} | "
                     f"{row['grad_reduce'] * 1e3:.1f} | {row['grad_bytes'] / 2 ** 20:.2f} | "
                     f"{models} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- the scaling model
LINKS = {"1 Gb/s": (1e9 / 8, 50e-6), "10 Gb/s": (10e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 5e-6)}
RANKS = (2, 4, 8, 16, 32, 64)


def comm_time(grad_bytes, small_calls, ranks, bandwidth, latency):
    """Seconds per step on `ranks` machines: a ring all-reduce of the gradients (2 (N-1)/N of the
    bytes cross each link, 2 (N-1) latency-bound hops) plus the small collectives (SyncBatchNorm's
    statistics, DDP's flags, buffer broadcasts), each about 2 log2 N latencies."""
    ring = 2 * (ranks - 1) / ranks * grad_bytes / bandwidth + 2 * (ranks - 1) * latency
    small = small_calls * 2 * max(1, (ranks - 1).bit_length()) * latency
    return ring + small


def scaling_table(name, compute, grad_bytes, small_calls):
    """Weak scaling (each rank keeps its batch): efficiency = compute / (compute + comm), and the
    speed-up over one machine, N * efficiency, per link and rank count."""
    lines = [f"**{name}**: compute {compute:.3g} s/step on one machine, {grad_bytes / 2 ** 20:.1f} "
             f"MB of gradients and {small_calls} small collectives per step.", "",
             "| link | " + " | ".join(f"{n} ranks" for n in RANKS) + " |",
             "|---|" + "---|" * len(RANKS)]
    for link, (bandwidth, latency) in LINKS.items():
        cells = []
        for n in RANKS:
            efficiency = compute / (compute + comm_time(grad_bytes, small_calls, n, bandwidth,
                                                        latency))
            cells.append(f"{efficiency:.0%} ({n * efficiency:.1f}x)")
        lines.append(f"| {link} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _gradient_bytes(*models):
    """float32 bytes of the parameters: what a step all-reduces when each model is updated once."""
    return 4 * sum(p.numel() for m in models for p in m.parameters())


def scaling(rows):
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator
    parts, small = [], {"dcgan32": 40, "cyclegan64": 12}     # small collectives a step
    for case in CASES:
        one, two = rows.get((case, 1, 2)), rows.get((case, 2, 1))
        if one and two:
            small[case] = two["calls"] - len(two["param_bytes"])  # less one bucket per model
            parts.append(scaling_table(f"{case}, measured here (one machine = this 2-core VM)",
                                       one["step"], two["grad_bytes"], small[case]))
    dcgan64 = _gradient_bytes(DCGANGenerator(64, 100, 3, 64), DCGANDiscriminator(64, 3, 64))
    cyclegan256 = _gradient_bytes(*(2 * [ResnetGenerator(3, 3, 64, 9)]),
                                  *(2 * [PatchDiscriminator(3, 64, 3)]))
    for name, seconds, size, calls in (
            ("CycleGAN 256x256 (paper), batch 1 per rank on a 2-core CPU: 6.5 s/step (issue 13)",
             6.5, cyclegan256, small["cyclegan64"]),
            ("DCGAN 64x64 RGB, batch 64 per rank on one H200: 30.9 ms/step "
             "(bench/results/gpu_check_h200_2026-11-30.txt)", 0.0309, dcgan64, small["dcgan32"]),
            ("CycleGAN 256x256 (paper), batch 1 per rank on one H200: 164.5 ms/step (same file)",
             0.1645, cyclegan256, small["cyclegan64"])):
        parts.append(scaling_table(name, seconds, size, calls))
    return "\n\n".join(parts)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="2 timed steps after 1 warm-up")
    p.add_argument("--out", default=None, help="also write the table to this markdown file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--row", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.steps, args.warmup = 2, 1
    if args.worker:
        return worker(args.worker, args.steps, args.warmup, args.row)
    if _mpiexec() is None:
        sys.exit("bench/distributed.py: mpiexec not found (pip install '.[distributed]')")
    load = os.getloadavg()[0]
    rows = {}
    for case in args.cases:
        for ranks, threads in ((1, 2), (2, 1)):
            rows[(case, ranks, threads)] = run(case, ranks, threads, args.steps, args.warmup)
            print(f"{case} {ranks}x{threads}: {rows[(case, ranks, threads)]}", flush=True)
    text = table(rows) + "\n\nScaling model (docs/distributed.md): efficiency (speed-up)\n\n" \
        + scaling(rows)
    text += (f"\n\nLoad average when the bench started: {load:.2f} (1-minute); CPU count "
             f"{os.cpu_count()}.\n")
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
