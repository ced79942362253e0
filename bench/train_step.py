"""Whole training steps, minigan vs PyTorch on the same models and the same device.

    python bench/train_step.py                    # DCGAN b64 64x64, CycleGAN 64x64 and 256x256
    python bench/train_step.py --quick            # tiny shapes, one step: a smoke run
    python bench/train_step.py --device cuda --cases cyclegan_256

Cases (float32):
- ``dcgan``: one DCGAN iteration (D step on real + fake, G step; BCE with logits, Adam) at batch 64,
  64x64 RGB, ngf = ndf = 64, nz = 100;
- ``cyclegan_64``: one CycleGAN iteration at batch 1, 64x64, the example's defaults (ResNet G with
  6 blocks, ngf = ndf = 32, instance norm, LSGAN, cycle 10, identity 0.5, pools of 50);
- ``cyclegan_256``: the paper's configuration, 256x256, 9 blocks, ngf = ndf = 64;
- ``pix2pix``: one Pix2Pix iteration at batch 4, 64x64, the example's defaults (unet_64 with
  ngf 32 and BatchNorm, 70x70 PatchGAN with ndf 32, BCE + 100 L1).

Each (case, framework) runs in its own subprocess, with nothing of the other framework imported: the
minigan worker builds the models and saves their initial weights to a .npz file, the torch worker
builds the same networks and loads them with ``load_state_dict(strict=True)`` (same layout, keys and
shapes, so the same networks). Each warms up (on CUDA: NVRTC compilation and CuPy's kernel cache,
cuDNN's autotuning with ``cudnn.benchmark``), times ``--steps`` steps, each ended by a device
synchronise, and reports the median. On the CPU each case runs under both BLAS settings
(``--setting``): OPENBLAS_CORETYPE unset (the core OpenBLAS detects) and Haswell (as these machines are
set; only numpy's BLAS, and so only minigan, is affected). Run nothing else on the machine meanwhile:
torch's OpenMP threads spin while they wait and lose far more than minigan's to a busy machine, so a
loaded machine flatters minigan. TF32 is off on both sides unless ``--tf32``. Memory: the process's
resident set once the models are built and its peak after the steps (for minigan the growth includes loading Numba's compiled
kernels), and for minigan the peak of NumPy's allocations during one more step, traced by
``tracemalloc``; on CUDA, CuPy's pool and torch's max_memory_allocated.
Ratio = torch time / minigan time (1.0 = as fast as PyTorch). Writes a markdown table to ``--out``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import cpu_model  # noqa: E402

CASES = {
    "dcgan": dict(kind="dcgan", batch=64, size=64, ngf=64, ndf=64, nz=100),
    "cyclegan_64": dict(kind="cyclegan", batch=1, size=64, ngf=32, ndf=32, n_blocks=6),
    "cyclegan_256": dict(kind="cyclegan", batch=1, size=256, ngf=64, ndf=64, n_blocks=9),
    "pix2pix": dict(kind="pix2pix", batch=4, size=64, ngf=32, ndf=32, num_downs=6),
}
QUICK = {
    "dcgan": dict(kind="dcgan", batch=8, size=32, ngf=8, ndf=8, nz=16),
    "cyclegan_64": dict(kind="cyclegan", batch=1, size=32, ngf=4, ndf=4, n_blocks=1),
    "cyclegan_256": dict(kind="cyclegan", batch=1, size=64, ngf=4, ndf=4, n_blocks=2),
    "pix2pix": dict(kind="pix2pix", batch=2, size=32, ngf=4, ndf=4, num_downs=5),
}
LR, BETAS = 2e-4, (0.5, 0.999)
SETTINGS = {"detected": None, "haswell": "Haswell"}      # OPENBLAS_CORETYPE: unset, or forced


def rss_bytes():
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


# ---------------------------------------------------------------- minigan
def minigan_step(case, device):
    """A closure running one minigan training step of ``case`` (and the models, to copy weights)."""
    import minigan as mg
    from minigan import optim
    mg.manual_seed(0)
    if case["kind"] == "dcgan":
        from minigan.gans import GAN
        from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
        G = DCGANGenerator(case["size"], case["nz"], 3, case["ngf"]).to(device)
        D = DCGANDiscriminator(case["size"], 3, case["ndf"]).to(device)
        gan = GAN(G, D, optim.Adam(G.parameters(), LR, BETAS),
                  optim.Adam(D.parameters(), LR, BETAS), latent_shape=(case["nz"], 1, 1))
        real = mg.randn(case["batch"], 3, case["size"], case["size"], device=device)
        return (lambda: gan.train_step(real)), {"G": G, "D": D}
    if case["kind"] == "pix2pix":
        from minigan.gans.pix2pix import Pix2Pix
        from minigan.models.patchgan import PatchDiscriminator
        from minigan.models.unet import UnetGenerator
        G = UnetGenerator(3, 3, case["num_downs"], case["ngf"]).to(device)
        D = PatchDiscriminator(6, case["ndf"]).to(device)
        trainer = Pix2Pix(G, D)
        a = mg.randn(case["batch"], 3, case["size"], case["size"], device=device)
        b = mg.randn(case["batch"], 3, case["size"], case["size"], device=device)
        return (lambda: trainer.train_step(a, b)), {"G": G, "D": D}
    from minigan.gans.cyclegan import CycleGAN
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator
    models = {name: ResnetGenerator(3, 3, case["ngf"], case["n_blocks"]).to(device)
              for name in ("G", "F")}
    models.update({name: PatchDiscriminator(3, case["ndf"], 3, norm="instance").to(device)
                   for name in ("D_X", "D_Y")})
    trainer = CycleGAN(models["G"], models["F"], models["D_X"], models["D_Y"])
    x = mg.randn(case["batch"], 3, case["size"], case["size"], device=device)
    y = mg.randn(case["batch"], 3, case["size"], case["size"], device=device)
    return (lambda: trainer.train_step(x, y)), models


def save_weights(models, path):
    """The models' state_dicts in one .npz: key "<model>/<state key>" (torch's worker reads it)."""
    np.savez(path, **{f"{name}/{key}": np.array(value.numpy())
                      for name, model in models.items() for key, value in model.state_dict().items()})


def load_weights(path):
    """{model: {state key: array}} from a save_weights file."""
    weights = {}
    with np.load(path) as saved:
        for full_key in saved.files:
            name, key = full_key.split("/", 1)
            weights.setdefault(name, {})[key] = saved[full_key]
    return weights


# ---------------------------------------------------------------- torch twins
def torch_models(case, weights):
    """The same networks in torch, loaded with minigan's weights (strict: same layout and keys).

    weights: {model name: {state key: array}}, from load_weights; minigan is not imported here.
    """
    import torch
    from torch import nn

    def resnet_generator(ngf, n_blocks):
        def norm(c):
            return nn.InstanceNorm2d(c)

        class Block(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.conv_block = nn.Sequential(
                    nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim), nn.ReLU(True),
                    nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim))

            def forward(self, x):
                return x + self.conv_block(x)

        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm(ngf), nn.ReLU(True)]
        for m in (1, 2):
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), norm(ngf * m * 2), nn.ReLU(True)]
        layers += [Block(ngf * 4) for _ in range(n_blocks)]
        for m in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                       norm(ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        model = nn.Module()
        model.model = nn.Sequential(*layers)
        model.forward = model.model.forward
        return model

    def patchgan(ndf, in_nc=3, batch_norm=False):
        layers = [nn.Conv2d(in_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for prev, mult, stride in ((1, 2, 2), (2, 4, 2), (4, 8, 1)):
            conv = nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=not batch_norm)
            norm = nn.BatchNorm2d(ndf * mult) if batch_norm else nn.InstanceNorm2d(ndf * mult)
            layers += [conv, norm, nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * 8, 1, 4, 1, 1))
        model = nn.Module()
        model.model = nn.Sequential(*layers)
        model.forward = model.model.forward
        return model

    def unet(num_downs, ngf):
        class Block(nn.Module):
            def __init__(self, outer, inner, input_nc=None, sub=None, outermost=False,
                         innermost=False, dropout=False):
                super().__init__()
                self.outermost = outermost
                down = nn.Conv2d(input_nc or outer, inner, 4, 2, 1, bias=False)
                if outermost:
                    layers = [down, sub, nn.ReLU(True),
                              nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
                elif innermost:
                    layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                              nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False),
                              nn.BatchNorm2d(outer)]
                else:
                    up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
                    layers = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), sub,
                              nn.ReLU(True), up, nn.BatchNorm2d(outer)]
                    layers += [nn.Dropout(0.5)] if dropout else []
                self.model = nn.Sequential(*layers)

            def forward(self, x):
                return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)

        block = Block(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = Block(ngf * 8, ngf * 8, sub=block, dropout=True)
        for mult in (4, 2, 1):
            block = Block(ngf * mult, ngf * mult * 2, sub=block)
        model = nn.Module()
        model.model = Block(3, ngf, input_nc=3, sub=block, outermost=True)
        model.forward = model.model.forward
        return model

    def dcgan(size, nz, ngf, ndf):
        """minigan.models.dcgan's G and D (the paper's networks, BatchNorm in D) as torch Sequentials."""
        n = size.bit_length() - 3                                # stride-2 stages between 4x4 and size
        width = ngf * 2 ** (n - 1)
        g = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(n - 1):
            g += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                  nn.ReLU(True)]
            width //= 2
        g += [nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh()]
        d, width = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)], ndf
        for _ in range(n - 1):
            d += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                  nn.LeakyReLU(0.2, True)]
            width *= 2
        d += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten()]
        return {"G": nn.Sequential(*g), "D": nn.Sequential(*d)}

    if case["kind"] == "dcgan":
        theirs = dcgan(case["size"], case["nz"], case["ngf"], case["ndf"])
    elif case["kind"] == "pix2pix":
        theirs = {"G": unet(case["num_downs"], case["ngf"]),
                  "D": patchgan(case["ndf"], in_nc=6, batch_norm=True)}
    else:
        theirs = {"G": resnet_generator(case["ngf"], case["n_blocks"]),
                  "F": resnet_generator(case["ngf"], case["n_blocks"]),
                  "D_X": patchgan(case["ndf"]), "D_Y": patchgan(case["ndf"])}
    for name, model in theirs.items():
        state = {k: torch.from_numpy(np.array(v)) for k, v in weights[name].items()}
        model.load_state_dict(state, strict=True)
    return theirs


def torch_step(case, weights, device):
    """A closure running the same training step in torch (weights: as torch_models takes them)."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    dev = torch.device(device)
    nets = {k: m.to(dev) for k, m in torch_models(case, weights).items()}
    shape = (case["batch"], 3, case["size"], case["size"])
    if case["kind"] == "dcgan":
        G, D = nets["G"], nets["D"]
        opt_g = torch.optim.Adam(G.parameters(), LR, betas=BETAS)
        opt_d = torch.optim.Adam(D.parameters(), LR, betas=BETAS)
        real = torch.randn(shape, device=dev)

        def bce(logits, target):
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        def step():
            fake = G(torch.randn(case["batch"], case["nz"], 1, 1, device=dev))
            d_loss = bce(D(real), 1.0) + bce(D(fake.detach()), 0.0)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            for p in D.parameters():
                p.requires_grad_(False)
            g_loss = bce(D(fake), 1.0)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            return torch.stack([d_loss.detach(), g_loss.detach()]).cpu()
        return step

    if case["kind"] == "pix2pix":
        G, D = nets["G"], nets["D"]
        opt_g = torch.optim.Adam(G.parameters(), LR, betas=BETAS)
        opt_d = torch.optim.Adam(D.parameters(), LR, betas=BETAS)
        a, b = torch.randn(shape, device=dev), torch.randn(shape, device=dev)

        def bce(logits, target):
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        def step():
            fake_b = G(a)
            d_loss = 0.5 * (bce(D(torch.cat([a, fake_b.detach()], 1)), 0.0)
                            + bce(D(torch.cat([a, b], 1)), 1.0))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            for p in D.parameters():
                p.requires_grad_(False)
            g_loss = bce(D(torch.cat([a, fake_b], 1)), 1.0) + 100 * F.l1_loss(fake_b, b)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            return torch.stack([d_loss.detach(), g_loss.detach()]).cpu()
        return step

    G, Fy, D_X, D_Y = nets["G"], nets["F"], nets["D_X"], nets["D_Y"]
    opt_g = torch.optim.Adam(list(G.parameters()) + list(Fy.parameters()), LR, betas=BETAS)
    opt_d = torch.optim.Adam(list(D_X.parameters()) + list(D_Y.parameters()), LR, betas=BETAS)
    x, y = torch.randn(shape, device=dev), torch.randn(shape, device=dev)

    def mse(scores, target):
        return F.mse_loss(scores, torch.full_like(scores, target))

    def step():   # the reference step; the pool is left out (a copy of one image, no compute)
        fake_y, fake_x = G(x), Fy(y)
        rec_x, rec_y = Fy(fake_y), G(fake_x)
        for p in list(D_X.parameters()) + list(D_Y.parameters()):
            p.requires_grad_(False)
        g_loss = (mse(D_Y(fake_y), 1.0) + mse(D_X(fake_x), 1.0)
                  + 10 * (F.l1_loss(rec_x, x) + F.l1_loss(rec_y, y))
                  + 5 * (F.l1_loss(G(y), y) + F.l1_loss(Fy(x), x)))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        for p in list(D_X.parameters()) + list(D_Y.parameters()):
            p.requires_grad_(True)
        d_y = 0.5 * (mse(D_Y(y), 1.0) + mse(D_Y(fake_y.detach()), 0.0))
        d_x = 0.5 * (mse(D_X(x), 1.0) + mse(D_X(fake_x.detach()), 0.0))
        opt_d.zero_grad()
        (d_x + d_y).backward()
        opt_d.step()
        return torch.stack([g_loss.detach(), d_x.detach(), d_y.detach()]).cpu()
    return step


# ---------------------------------------------------------------- one measurement (subprocess)
def synchronizer(framework, device, tf32=False):
    """A function that waits for the device (a no-op on the CPU); sets torch's CUDA switches."""
    if device != "cuda":
        return lambda: None
    if framework == "torch":
        import torch
        torch.backends.cudnn.benchmark = True                  # torch's best case: autotuned algorithms
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        return torch.cuda.synchronize
    from minigan.backend import cp
    return cp.cuda.Device().synchronize


def worker(framework, case, device, steps, warmup, weights_path, tf32=False):
    """Time `steps` steps of one framework; minigan writes its initial weights, torch reads them."""
    os.environ["CUPY_TF32"] = "1" if tf32 else "0"               # read by CuPy at its first GEMM
    sync = synchronizer(framework, device, tf32)
    if framework == "torch":
        step = torch_step(case, load_weights(weights_path), device)
    else:
        step, ours = minigan_step(case, device)
        save_weights(ours, weights_path)
        del ours
    built_rss, times = rss_bytes(), []           # models built, no step run yet
    for _ in range(warmup):
        step()
    sync()
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    result = {"median_s": float(np.median(times)), "times_s": times, "built_rss": built_rss,
              "peak_rss": peak_rss_bytes(),
              "isolated": ("minigan" if framework == "torch" else "torch") not in sys.modules}
    if framework == "torch":
        import torch
        result["version"] = torch.__version__
        if device == "cuda":
            result["version"] += f", cuDNN {torch.backends.cudnn.version()}"
    if framework == "minigan":
        import tracemalloc
        tracemalloc.start()
        step()
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if device == "cuda":
        if framework == "torch":
            import torch
            result["device_peak"] = torch.cuda.max_memory_allocated()
        else:
            from minigan.backend import cp
            result["device_peak"] = cp.get_default_memory_pool().total_bytes()
    return result


def measure(framework, name, case, device, steps, warmup, weights_path, tf32=False, coretype=None):
    """worker() in a fresh process (OPENBLAS_CORETYPE=coretype, or unset); run minigan's first: it writes
    the weights torch's reads. Refuses a result from a process that had the other framework imported."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--case-json",
           json.dumps(case), "--device", device, "--steps", str(steps), "--warmup", str(warmup),
           "--weights", weights_path] + (["--tf32"] if tf32 else [])
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.update({"OPENBLAS_CORETYPE": coretype} if coretype else {})
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{framework} {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result.get("isolated", True):
        raise RuntimeError(f"{framework} {name}: the worker had the other framework imported; timings void")
    return result


def mib(n):
    return f"{n / 2 ** 20:.0f}" if n is not None else "-"


def table(rows, device, tf32=False):
    extra = f" TF32 {'on' if tf32 else 'off'} in both, cudnn.benchmark on." if device == "cuda" else ""
    lines = [f"Training step, minigan vs PyTorch {rows[0]['torch']['version']}, device {device}, "
             f"{cpu_model()}. Each framework in its own process, the other not imported. "
             f"Median of timed steps; ratio = torch time / minigan time.{extra}", "",
             "| case | OPENBLAS_CORETYPE | minigan ms/step | torch ms/step | ratio | minigan MiB: RSS built -> "
             "peak, NumPy traced peak | torch MiB: RSS built -> peak |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ours, theirs = r["minigan"], r["torch"]
        ours_mem = (f"{mib(ours['built_rss'])} -> {mib(ours['peak_rss'])}, "
                    f"{mib(ours.get('traced_peak'))}")
        theirs_mem = f"{mib(theirs['built_rss'])} -> {mib(theirs['peak_rss'])}"
        if device == "cuda":
            ours_mem += f" (GPU pool {mib(ours.get('device_peak'))})"
            theirs_mem += f" (GPU {mib(theirs.get('device_peak'))})"
        ratio = theirs["median_s"] / ours["median_s"]
        lines.append(f"| {r['name']} ({r['shape']}) | {SETTINGS[r['setting']] or 'unset'} | {ours['median_s'] * 1e3:.1f} | "
                     f"{theirs['median_s'] * 1e3:.1f} | {ratio:.2f}x | {ours_mem} | {theirs_mem} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes, 1 step: a smoke run")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}")
    p.add_argument("--device", default="cpu", help='"cpu" or "cuda" (both frameworks)')
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default: cpu 5, 256x256 3; cuda 20, 256x256 10)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: cpu 2, cuda 3)")
    p.add_argument("--tf32", action="store_true", help="on cuda, let both frameworks use TF32")
    p.add_argument("--setting", choices=("both",) + tuple(SETTINGS), default="both",
                   help="OPENBLAS_CORETYPE on the CPU: detected (unset), haswell, or both (default)")
    p.add_argument("--out", default="out/bench_train_step.md", help="markdown table file")
    p.add_argument("--worker", choices=("minigan", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--case-json", help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        result = worker(args.worker, json.loads(args.case_json), args.device, args.steps,
                        args.warmup, args.weights, args.tf32)
        print(json.dumps(result))
        return result
    if args.device not in ("cpu", "cuda"):
        p.error(f"--device: expected cpu or cuda, got {args.device!r}")
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"--cases: unknown {unknown}; expected some of {list(CASES)}")
    rows, gpu = [], args.device == "cuda"
    settings = ["detected"] if gpu else list(SETTINGS) if args.setting == "both" else [args.setting]
    with tempfile.TemporaryDirectory() as tmp:
        for name, setting in [(n, s) for s in settings for n in names]:
            case = (QUICK if args.quick else CASES)[name]
            big = case["size"] >= 256
            steps = args.steps or (1 if args.quick else (10 if big else 20) if gpu else 3 if big else 5)
            warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3 if gpu else 2)
            row = {"name": name, "shape": f"batch {case['batch']}, {case['size']}x{case['size']}",
                   "setting": setting}
            weights = os.path.join(tmp, f"{name}.npz")
            try:
                for framework in ("minigan", "torch"):      # minigan first: it writes the weights
                    row[framework] = measure(framework, name, case, args.device, steps, warmup,
                                             weights, args.tf32, SETTINGS[setting])
            except RuntimeError as e:                       # the other cases still run
                print(f"{name}: {e}", flush=True)
                continue
            rows.append(row)
            print(f"{name} ({setting}): minigan {row['minigan']['median_s'] * 1e3:.1f} ms, torch "
                  f"{row['torch']['median_s'] * 1e3:.1f} ms, ratio "
                  f"{row['torch']['median_s'] / row['minigan']['median_s']:.2f}x", flush=True)
    if not rows:
        sys.exit("no case ran")
    text = table(rows, args.device, args.tf32)
    print("\n" + text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    return rows


if __name__ == "__main__":
    main()
