"""GPU benchmark: minigan's CuPy kernels against PyTorch + cuDNN on the same device, as ratios.

Rows: conv2d and conv_transpose2d (forward, and forward+backward) on the DCGAN layers (batch 64, 64x64)
and the CycleGAN layers (batch 1, 256x256); batch norm and instance norm, LeakyReLU, BCE,
BCE-with-logits and reflection padding (forward+backward) at a small and a large size; one whole DCGAN
training step (batch 64, 64x64, both networks, Adam; bench/train_step.py's models, torch getting
minigan's weights). Both libraries run in this process on the same inputs through their user-level
APIs (nn.functional and autograd). Each cell is the median wall time of `--repeats` runs after warm-up,
each run ending in a device synchronise, so launch overheads count as they do in training.
ratio = torch time / minigan time (1.0: as fast as PyTorch; the issue aims at >= 0.5 for convolutions,
>= 0.8 for the norm, activation and loss kernels).

TF32 is off in both by default (CuPy's GEMMs run in full float32, while torch lets cuDNN use TF32 for
convolutions unless told not to); --tf32 turns it on in both. cudnn.benchmark is on (torch's best case).

    python bench/gpu.py                 # writes bench/results/gpu.md
    python bench/gpu.py --quick         # small shapes, one run each: a smoke test, timings meaningless
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

# (network, kind, N, C_in, C_out, size, kernel, stride, padding, output_padding, bias): bench/kernels.py's layers
CONVS = [
    ("DCGAN", "conv", 64, 3, 64, 64, 4, 2, 1, 0, False), ("DCGAN", "conv", 64, 64, 128, 32, 4, 2, 1, 0, False),
    ("DCGAN", "conv", 64, 128, 256, 16, 4, 2, 1, 0, False), ("DCGAN", "conv", 64, 256, 512, 8, 4, 2, 1, 0, False),
    ("DCGAN", "conv", 64, 512, 1, 4, 4, 1, 0, 0, False),
    ("DCGAN", "convT", 64, 100, 512, 1, 4, 1, 0, 0, False), ("DCGAN", "convT", 64, 512, 256, 4, 4, 2, 1, 0, False),
    ("DCGAN", "convT", 64, 256, 128, 8, 4, 2, 1, 0, False), ("DCGAN", "convT", 64, 128, 64, 16, 4, 2, 1, 0, False),
    ("DCGAN", "convT", 64, 64, 3, 32, 4, 2, 1, 0, False),
    ("CycleGAN", "conv", 1, 3, 64, 256, 7, 1, 3, 0, True), ("CycleGAN", "conv", 1, 64, 128, 256, 3, 2, 1, 0, True),
    ("CycleGAN", "conv", 1, 128, 256, 128, 3, 2, 1, 0, True), ("CycleGAN", "conv", 1, 256, 256, 64, 3, 1, 1, 0, True),
    ("CycleGAN", "convT", 1, 256, 128, 64, 3, 2, 1, 1, True), ("CycleGAN", "convT", 1, 128, 64, 128, 3, 2, 1, 1, True),
    ("CycleGAN", "conv", 1, 64, 3, 256, 7, 1, 3, 0, True),
]
ELEMENTWISE_SHAPES = {"small": (64, 128, 16, 16), "large": (64, 128, 64, 64)}


class Runner:
    """Both frameworks on the GPU: tensors from NumPy arrays, synchronise, time."""

    def __init__(self, torch, repeats, warmup):
        import minigan as mg
        from minigan.backend import cp
        self.mg, self.cp, self.torch = mg, cp, torch
        self.cuda_torch = torch is not None and torch.cuda.is_available()
        self.repeats, self.warmup = repeats, warmup

    def ours(self, a, grad=True):
        return self.mg.tensor(a, device="cuda", requires_grad=grad)

    def theirs(self, a, grad=True):
        return self.torch.tensor(a, device="cuda", requires_grad=grad)

    def median_ms(self, fn, sync):
        for _ in range(self.warmup):
            fn()
        sync()
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3

    def sync_ours(self):
        self.cp.cuda.Device().synchronize()

    def sync_theirs(self):
        self.torch.cuda.synchronize()

    def pair(self, mine, ours, ref=None, theirs=(), forward_only=False):
        """{"fwd": (torch ms, minigan ms), "fb": (...)}; backward with a fixed upstream gradient."""
        y = mine()
        g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        g_ours = self.ours(g, grad=False)

        def mine_fb():
            mine().backward(g_ours)
            for t in ours:
                t.grad = None
        result = {"fwd": [None, self.median_ms(mine, self.sync_ours)]}
        if not forward_only:
            result["fb"] = [None, self.median_ms(mine_fb, self.sync_ours)]
        if self.cuda_torch and ref is not None:
            g_theirs = self.theirs(g, grad=False)

            def ref_fb():
                ref().backward(g_theirs)
                for t in theirs:
                    t.grad = None
            result["fwd"][0] = self.median_ms(ref, self.sync_theirs)
            if not forward_only:
                result["fb"][0] = self.median_ms(ref_fb, self.sync_theirs)
        return result


def conv_rows(run, quick):
    import minigan.nn.functional as F
    from minigan import kernels
    TF = run.torch.nn.functional if run.torch else None
    rng = np.random.default_rng(0)
    rows = []
    for net, kind, n, cin, cout, size, k, s, p, op, bias in CONVS:
        if quick:
            n, size = min(n, 2), (size if size <= 4 else max(4, size // 8))
        x = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w = (rng.standard_normal((cout, cin, k, k) if kind == "conv" else (cin, cout, k, k)) * 0.05).astype(np.float32)
        arrays = [x, w] + ([rng.standard_normal(cout).astype(np.float32)] if bias else [])
        ours = [run.ours(a) for a in arrays]
        theirs = [run.theirs(a) for a in arrays] if run.cuda_torch else []
        if kind == "conv":
            mine = lambda: F.conv2d(*ours, stride=s, padding=p)                                      # noqa: E731
            ref = lambda: TF.conv2d(*theirs, stride=s, padding=p)                                    # noqa: E731
        else:
            mine = lambda: F.conv_transpose2d(*ours, stride=s, padding=p, output_padding=op)         # noqa: E731
            ref = lambda: TF.conv_transpose2d(*theirs, stride=s, padding=p, output_padding=op)       # noqa: E731
        name = f"{kind} {cin}->{cout} k{k} s{s} p{p}" + (f" op{op}" if op else "")
        times = run.pair(mine, ours, ref, theirs)
        raw = [t.data for t in ours] + [None] * (3 - len(ours))            # (x, w, b) arrays
        if kind == "conv":
            times["kernel"] = run.median_ms(lambda: kernels.conv2d_forward(*raw, (s, s), (p, p), (1, 1)),
                                            run.sync_ours)
        else:
            times["kernel"] = run.median_ms(
                lambda: kernels.conv_transpose2d_forward(*raw, (s, s), (p, p), (op, op), (1, 1)), run.sync_ours)
        rows.append((net, name, f"({n},{cin},{size},{size})", times))
    return rows


def pointwise_cases(torch):
    """(group, name, make(shape) -> (minigan fn, torch fn, arrays)) for the norm/activation/loss/pad rows."""
    import minigan.nn.functional as F
    TF = torch.nn.functional if torch else None
    target = lambda shape: np.random.default_rng(1).random(shape).astype(np.float32)    # noqa: E731
    C = lambda shape: shape[1]                                                             # noqa: E731
    return [
        ("norm", "BatchNorm2d train", lambda sh: (
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(C(sh),), (C(sh),)])),
        ("norm", "InstanceNorm2d affine", lambda sh: (
            lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
            lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), [(C(sh),), (C(sh),)])),
        ("activation", "LeakyReLU(0.2)", lambda sh: (
            lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), [])),
        ("loss", "BCE (probabilities)", lambda sh: (
            lambda x, t=target(sh): F.binary_cross_entropy(x, _on(t)),
            lambda x, t=target(sh): TF.binary_cross_entropy(x, _on(t, torch)), [], "probabilities")),
        ("loss", "BCEWithLogits", lambda sh: (
            lambda x, t=target(sh): F.binary_cross_entropy_with_logits(x, _on(t)),
            lambda x, t=target(sh): TF.binary_cross_entropy_with_logits(x, _on(t, torch)), [])),
        ("padding", "ReflectionPad2d(3)", lambda sh: (
            lambda x: F.pad(x, (3, 3, 3, 3), mode="reflect"), lambda x: TF.pad(x, (3, 3, 3, 3), mode="reflect"), [])),
    ]


_targets = {}


def _on(array, torch=None):
    """The target `array` as a constant on the GPU, built once per framework."""
    key = (id(array), torch is None)
    if key not in _targets:
        if torch is None:
            import minigan as mg
            _targets[key] = (array, mg.tensor(array, device="cuda"))
        else:
            _targets[key] = (array, torch.tensor(array, device="cuda"))
    return _targets[key][1]


def kernel_forward(name, arrays):
    """The forward pass of a pointwise row as bare minigan.kernels calls on CuPy arrays (no autograd,
    no nn.functional): what the kernels cost without the engine around them."""
    from minigan import kernels
    from minigan.backend import cp
    x = arrays[0]
    if name.startswith(("BatchNorm", "InstanceNorm")):
        x3 = x if name.startswith("Batch") else x.reshape(1, x.shape[0] * x.shape[1], -1)   # per instance
        weight, bias = (None, None) if name.startswith("Instance") else arrays[1:]
        invstd = 1 / cp.sqrt(kernels.batch_norm_stats(x3)[1] + 1e-5)

        def normalise():                                   # statistics, then normalise + affine
            mean, _ = kernels.batch_norm_stats(x3)
            return kernels.batch_norm_apply(x3, mean, invstd, weight, bias)
        return normalise
    if name.startswith("LeakyReLU"):
        return lambda: kernels.leaky_relu_forward(x, 0.2)
    y = cp.asarray(np.random.default_rng(1).random(x.shape), dtype=x.dtype)
    if name.startswith("BCEWithLogits"):
        return lambda: kernels.binary_cross_entropy_with_logits_forward(x, y, None, None, "mean")
    if name.startswith("BCE"):
        return lambda: kernels.binary_cross_entropy_forward(x, y, None, "mean")
    return lambda: kernels.reflection_pad2d_forward(x, (3, 3, 3, 3))


def pointwise_rows(run, quick):
    rng = np.random.default_rng(0)
    rows = []
    for group, name, make in pointwise_cases(run.torch):
        for size, shape in ELEMENTWISE_SHAPES.items():
            if quick:
                shape = (2, 4, 8, 8)
            mine, ref, extra, *kind = make(shape)
            x = rng.standard_normal(shape).astype(np.float32)
            if kind:                                                 # probabilities for BCE
                x = 1 / (1 + np.exp(-x))
            arrays = [x] + [rng.standard_normal(e).astype(np.float32) for e in extra]
            ours = [run.ours(a) for a in arrays]
            theirs = [run.theirs(a) for a in arrays] if run.cuda_torch else []
            times = run.pair(lambda: mine(*ours), ours, lambda: ref(*theirs), theirs)
            kernel_fn = kernel_forward(name, [t.data for t in ours])
            times["kernel"] = run.median_ms(kernel_fn, run.sync_ours)
            rows.append((group, name, str(shape), times))
    return rows


def dcgan_step_row(run, quick, steps):
    """One DCGAN training step (bench/train_step.py's case), both frameworks, same weights."""
    import train_step
    case = (train_step.QUICK if quick else train_step.CASES)["dcgan"]
    mine, ours = train_step.minigan_step(case, "cuda")
    times = [None, run.median_ms(mine, run.sync_ours)]
    if run.cuda_torch:
        times[0] = run.median_ms(train_step.torch_step(case, ours, "cuda"), run.sync_theirs)
    shape = f"batch {case['batch']}, {case['size']}x{case['size']}"
    return ("train step", "DCGAN (G + D, Adam)", shape, {"fb": times})


def fmt(ms):
    return "-" if ms is None else f"{ms:.3f}"


def ratio(pair):
    torch_ms, ours_ms = pair
    return None if torch_ms is None or not ours_ms else torch_ms / ours_ms


def fmt_ratio(pair):
    r = ratio(pair)
    return "-" if r is None else f"{r:.2f}"


def geometric_mean(values):
    values = [v for v in values if v]
    return float(np.exp(np.mean(np.log(values)))) if values else None


def table(rows, header, quick):
    lines = ["# GPU benchmark: minigan (CuPy) vs PyTorch + cuDNN", "", header
             + (" QUICK MODE: small shapes, one run each, timings meaningless." if quick else ""), "",
             "Median ms per call, device synchronised; ratio = torch / minigan (> 1: minigan faster).", "",
             "\"kernels fwd\" calls minigan.kernels directly on CuPy arrays (no autograd, no nn.functional):",
             "the gap to \"minigan fwd\" is the engine's Python overhead.", "",
             "| group | case | input | torch fwd | minigan fwd | kernels fwd | fwd ratio | torch f+b | minigan f+b "
             "| f+b ratio |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, name, shape, t in rows:
        fwd, fb = t.get("fwd", (None, None)), t.get("fb", (None, None))
        lines.append(f"| {group} | {name} | {shape} | {fmt(fwd[0])} | {fmt(fwd[1])} | {fmt(t.get('kernel'))} | "
                     f"{fmt_ratio(fwd)} | {fmt(fb[0])} | {fmt(fb[1])} | {fmt_ratio(fb)} |")
    summary = []
    for label, groups, aim in (("conv + convT f+b", ("DCGAN", "CycleGAN"), 0.5),
                               ("norm, activation, loss f+b", ("norm", "activation", "loss"), 0.8),
                               ("padding f+b", ("padding",), None), ("DCGAN train step", ("train step",), None)):
        ratios = [ratio(t["fb"]) for g, _, _, t in rows if g in groups and "fb" in t]
        if any(r is not None for r in ratios):
            low = min(r for r in ratios if r is not None)
            summary.append(f"- {label}: geometric mean {geometric_mean(ratios):.2f}, lowest {low:.2f}"
                           + (f" (aim >= {aim})" if aim else ""))
    return "\n".join(lines + [""] + summary + [""])


def describe(run):
    cp = run.cp
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    torch = run.torch
    theirs = (f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}" if run.cuda_torch
              else "no torch with CUDA: minigan times only")
    tf32 = os.environ.get("CUPY_TF32", "0") != "0"
    return f"Device {name}; CuPy {cp.__version__}; {theirs}; TF32 {'on' if tf32 else 'off'} in both."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, one run each: a smoke test")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per cell (median taken)")
    parser.add_argument("--steps", type=int, default=10, help="timed DCGAN training steps")
    parser.add_argument("--tf32", action="store_true", help="let both frameworks use TF32 for float32 GEMMs")
    parser.add_argument("--no-torch", action="store_true", help="time minigan only")
    parser.add_argument("--out", default=str(BENCH / "results" / "gpu.md"), help="markdown file to write")
    args = parser.parse_args(argv)
    os.environ["CUPY_TF32"] = "1" if args.tf32 else "0"           # read by CuPy at its first float32 GEMM
    from minigan import backend
    if not backend.gpu_available():
        sys.exit("bench/gpu.py needs CuPy and a CUDA device")
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32
        except ImportError:
            pass
    repeats, warmup = (1, 1) if args.quick else (args.repeats, 3)
    run = Runner(torch, repeats, warmup)
    rows = conv_rows(run, args.quick) + pointwise_rows(run, args.quick)
    run.repeats = 1 if args.quick else args.steps
    rows.append(dcgan_step_row(run, args.quick, args.steps))
    text = table(rows, describe(run), args.quick)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
