"""GPU benchmark: minigan's CuPy kernels against PyTorch + cuDNN on the same device, as ratios.

Rows: conv2d and conv_transpose2d (forward, and forward+backward) on the DCGAN layers (batch 64, 64x64)
and the CycleGAN layers (batch 1, 256x256); batch norm and instance norm, LeakyReLU, BCE,
BCE-with-logits and reflection padding (forward+backward) at a small and a large size; one whole DCGAN
training step (batch 64, 64x64, both networks, Adam; bench/train_step.py's case, torch getting
minigan's weights).

Each framework runs in its own process with nothing of the other imported: minigan in this one, torch
in a worker (`--worker torch`, started after minigan's rows, CuPy's pool freed first) that builds the
same inputs from the same seeds. Both go through their user-level APIs (nn.functional and autograd).
Each cell is the median wall time of `--repeats` runs after `--warmup` untimed ones (these take NVRTC
compilation and cuDNN's autotuning out of the timings), each run ending in a device synchronise, so
launch overheads count as they do in training. ratio = torch time / minigan time (1.0: as fast as
PyTorch; the issue aims at >= 0.5 for convolutions, >= 0.8 for the norm, activation and loss kernels).

Every row is also a correctness check on the device: both sides project the output and each input
gradient on fixed random directions, and the "check" column is the largest difference relative to the
norm (about 1e-6 when they agree, about 1 when a kernel is wrong; above 1e-3 it reads MISMATCH).

TF32 is off in both by default (CuPy's GEMMs run in full float32, while torch lets cuDNN use TF32 for
convolutions unless told not to); --tf32 turns it on in both. cudnn.benchmark is on (torch's best case).

    python bench/gpu.py                 # writes bench/results/gpu.md
    python bench/gpu.py --quick         # small shapes, one run each: a smoke test, timings meaningless
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
# Rows run again with environment overrides, after the others: (index into CONVS, name suffix, env).
# The 64 -> 3 head takes gpu.py's direct kernels by default; this row times the im2col + GEMM path.
CONV_VARIANTS = [(len(CONVS) - 1, " (GEMM path)", {"MINIGAN_GPU_DIRECT": "0"})]
ELEMENTWISE_SHAPES = {"small": (64, 128, 16, 16), "large": (64, 128, 64, 64)}
MISMATCH = 1e-3


class Framework:
    """One framework on the GPU through its user-level API: tensors from NumPy, F, synchronise."""

    def __init__(self, name, tf32=False, device="cuda"):
        self.name, self.device, self.sync = name, device, (lambda: None)
        if name == "torch":
            import torch
            import torch.nn.functional as F
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
            self.F, self.module = F, torch
            if device == "cuda":
                self.sync = torch.cuda.synchronize
        else:
            import minigan
            import minigan.nn.functional as F
            self.F, self.module = F, minigan
            if device == "cuda":
                self.sync = minigan.backend.cp.cuda.Device().synchronize

    def tensor(self, a, grad=False):
        return self.module.tensor(a, device=self.device, requires_grad=grad)


def median_ms(fn, sync, repeats, warmup):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


# ------------------------------------------------------------------ the cases, the same in both processes
def conv_cases(quick):
    """(key, group, name, input, make() -> (arrays, constants), call(F, *tensors), kernel args, env):
    env is set while the row runs (minigan's side only)."""
    cases = []
    rows = [(i, "", {}) for i in range(len(CONVS))] + CONV_VARIANTS
    for key, (i, suffix, env) in enumerate(rows):
        net, kind, n, cin, cout, size, k, s, p, op, bias = CONVS[i]
        if quick:
            n, size = min(n, 2), (size if size <= 4 else max(4, size // 8))

        def make(i=i, n=n, cin=cin, cout=cout, size=size, k=k, kind=kind, bias=bias):
            rng = np.random.default_rng([0, i])
            x = rng.standard_normal((n, cin, size, size), np.float32)
            w_shape = (cout, cin, k, k) if kind == "conv" else (cin, cout, k, k)
            w = rng.standard_normal(w_shape, np.float32) * np.float32(0.05)
            return [x, w] + ([rng.standard_normal(cout, np.float32)] if bias else []), []
        if kind == "conv":
            call = (lambda F, *t, s=s, p=p: F.conv2d(*t, stride=s, padding=p))
        else:
            call = (lambda F, *t, s=s, p=p, op=op: F.conv_transpose2d(*t, stride=s, padding=p,
                                                                      output_padding=op))
        name = f"{kind} {cin}->{cout} k{k} s{s} p{p}" + (f" op{op}" if op else "") + suffix
        cases.append((f"conv{key}", net, name, f"({n},{cin},{size},{size})", make, call, (kind, s, p, op), env))
    return cases


POINTWISE = [   # (group, name, call(F, x, *params, target), per-channel params, input kind)
    ("norm", "BatchNorm2d train", lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), 2, "normal"),
    ("norm", "InstanceNorm2d affine", lambda F, x, w, b: F.instance_norm(x, weight=w, bias=b), 2, "normal"),
    ("activation", "LeakyReLU(0.2)", lambda F, x: F.leaky_relu(x, 0.2), 0, "normal"),
    ("loss", "BCE (probabilities)", lambda F, x, t: F.binary_cross_entropy(x, t), 0, "probabilities"),
    ("loss", "BCEWithLogits", lambda F, x, t: F.binary_cross_entropy_with_logits(x, t), 0, "normal"),
    ("padding", "ReflectionPad2d(3)", lambda F, x: F.pad(x, (3, 3, 3, 3), mode="reflect"), 0, "normal"),
]


def pointwise_cases(quick):
    cases = []
    for i, (group, name, call, n_params, kind) in enumerate(POINTWISE):
        for size, shape in ELEMENTWISE_SHAPES.items():
            shape = (2, 4, 8, 8) if quick else shape

            def make(i=i, size=size, shape=shape, n_params=n_params, kind=kind, group=group):
                rng = np.random.default_rng([1, i, len(size)])
                x = rng.standard_normal(shape, np.float32)
                if kind == "probabilities":
                    x = 1 / (1 + np.exp(-x))
                params = [rng.standard_normal(shape[1], np.float32) for _ in range(n_params)]
                targets = [rng.random(shape, np.float32)] if group == "loss" else []
                return [x] + params, targets
            cases.append((f"pw{i}{size}", group, name, str(shape), make, call, None, {}))
    return cases


def all_cases(quick):
    return conv_cases(quick) + pointwise_cases(quick)


def projection(fw, t, seed):
    """(t . r, |t|) for fixed standard-normal directions r: a few numbers both processes can compare."""
    r = fw.tensor(np.random.default_rng(seed).standard_normal(t.shape, np.float32))
    t = t.detach()
    return [float((t * r).sum().item()), float((t * t).sum().item()) ** 0.5]


def run_case(fw, case, arrays, constants, repeats, warmup):
    """{"fwd": ms, "fb": ms, "probe": [...]}: forward, forward+backward, and the correctness probe."""
    call = case[5]
    inputs = [fw.tensor(a, grad=True) for a in arrays]
    constants = [fw.tensor(c) for c in constants]

    def forward():
        return call(fw.F, *inputs, *constants)
    y = forward()
    g = fw.tensor(np.random.default_rng(2).standard_normal(y.shape, np.float32))
    y.backward(g)
    probe = projection(fw, y, 3)
    for j, t in enumerate(inputs):
        probe += projection(fw, t.grad, 4 + j)
        t.grad = None

    def forward_backward():
        forward().backward(g)
        for t in inputs:
            t.grad = None
    return {"fwd": median_ms(forward, fw.sync, repeats, warmup),
            "fb": median_ms(forward_backward, fw.sync, repeats, warmup), "probe": probe}


def kernel_ms(case, arrays, constants, repeats, warmup):
    """The forward as bare minigan.kernels calls on CuPy arrays (no autograd, no nn.functional): what
    the kernels cost without the engine around them."""
    from minigan import kernels
    from minigan.backend import cp
    _, group, name, _, _, _, conv, _ = case
    raw = [cp.asarray(a) for a in arrays]
    if conv is not None:
        kind, s, p, op = conv
        x, w, b = raw + [None] * (3 - len(raw))
        if kind == "conv":
            fn = lambda: kernels.conv2d_forward(x, w, b, (s, s), (p, p), (1, 1))              # noqa: E731
        else:
            fn = lambda: kernels.conv_transpose2d_forward(x, w, b, (s, s), (p, p), (op, op), (1, 1))  # noqa: E731
    elif name.startswith(("BatchNorm", "InstanceNorm")):
        x = raw[0]
        x3 = x if name.startswith("Batch") else x.reshape(1, x.shape[0] * x.shape[1], -1)   # per instance
        weight, bias = (None, None) if name.startswith("Instance") else raw[1:]
        invstd = 1 / cp.sqrt(kernels.batch_norm_stats(x3)[1] + 1e-5)

        def fn():                                           # statistics, then normalise + affine
            mean, _ = kernels.batch_norm_stats(x3)
            return kernels.batch_norm_apply(x3, mean, invstd, weight, bias)
    elif name.startswith("LeakyReLU"):
        fn = lambda: kernels.leaky_relu_forward(raw[0], 0.2)                                  # noqa: E731
    elif name.startswith("BCEWithLogits"):
        y = cp.asarray(constants[0])
        fn = lambda: kernels.binary_cross_entropy_with_logits_forward(raw[0], y, None, None, "mean")  # noqa: E731
    elif name.startswith("BCE"):
        y = cp.asarray(constants[0])
        fn = lambda: kernels.binary_cross_entropy_forward(raw[0], y, None, "mean")             # noqa: E731
    else:
        fn = lambda: kernels.reflection_pad2d_forward(raw[0], (3, 3, 3, 3))                    # noqa: E731
    return median_ms(fn, cp.cuda.Device().synchronize, repeats, warmup)


@contextlib.contextmanager
def environment(env):
    """os.environ with `env` set, restored afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_all(fw, quick, repeats, warmup, kernels=False, log=print):
    results = {}
    for case in all_cases(quick):
        try:
            arrays, constants = case[4]()                 # the inputs, from the case's own seed
            with environment(case[7]):
                result = results[case[0]] = run_case(fw, case, arrays, constants, repeats, warmup)
                if kernels:
                    result["kernel"] = kernel_ms(case, arrays, constants, repeats, warmup)
            log(f"{fw.name}: {case[2]} {case[3]}: fwd {result['fwd']:.3f} ms, f+b {result['fb']:.3f} ms")
        except Exception as e:                    # a row that fails says why; the others still run
            results[case[0]] = {"error": f"{type(e).__name__}: {e}"[:300]}
            log(f"{fw.name}: {case[2]} {case[3]} failed: {results[case[0]]['error']}")
    return results


def torch_worker(args):
    """--worker torch: every case with torch only; writes {"version": ..., "cases": {key: result}}."""
    fw = Framework("torch", args.tf32, args.device)
    torch = fw.module
    results = run_all(fw, args.quick, *repeats_warmup(args), log=lambda m: print(m, flush=True))
    version = f"torch {torch.__version__}" + (f", cuDNN {torch.backends.cudnn.version()}"
                                              if args.device == "cuda" else " on the CPU")
    Path(args.json).write_text(json.dumps({"version": version, "cases": results}))


def run_torch_worker(args, tmp):
    """Start the torch worker; (its results or {}, a note for the report)."""
    out = Path(tmp) / "torch.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "torch", "--json", str(out),
           "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--device", args.device]
    cmd += (["--quick"] if args.quick else []) + (["--tf32"] if args.tf32 else [])
    done = subprocess.run(cmd)                     # its progress and errors go to our output
    if done.returncode != 0 or not out.exists():
        return {}, f"torch worker failed (rc {done.returncode}): its output is above the table"
    return json.loads(out.read_text()), None


def dcgan_step_row(fw, args, tmp):
    """One DCGAN training step (bench/train_step.py's case): minigan here, torch in its own process."""
    import train_step
    case = (train_step.QUICK if args.quick else train_step.CASES)["dcgan"]
    steps, warmup = repeats_warmup(args) if args.quick else (args.steps, args.warmup)
    mine, ours = train_step.minigan_step(case, args.device)
    times = [None, median_ms(mine, fw.sync, steps, warmup)]
    if not args.no_torch:
        weights = str(Path(tmp) / "dcgan.npz")
        train_step.save_weights(ours, weights)
        del mine, ours
        free_pool()
        try:
            result = train_step.measure("torch", "dcgan", case, args.device, steps, warmup, weights,
                                        args.tf32)
            times[0] = result["median_s"] * 1e3
        except RuntimeError as e:
            print(f"torch DCGAN step failed: {str(e)[-1500:]}")
    shape = f"batch {case['batch']}, {case['size']}x{case['size']}"
    return ("train step", "DCGAN (G + D, Adam)", shape, {"fb": times})


def free_pool():
    from minigan.backend import cp
    if cp is not None and hasattr(cp, "get_default_memory_pool"):
        cp.get_default_memory_pool().free_all_blocks()


def check_error(ours, theirs):
    """The largest probe difference, relative to the norms, or None without both."""
    if not ours or not theirs or len(ours) != len(theirs):
        return None
    errors = []
    for k in range(0, len(ours), 2):                    # (projection, norm) pairs
        scale = max(theirs[k + 1], 1e-30)
        errors += [abs(ours[k] - theirs[k]) / scale, abs(ours[k + 1] - theirs[k + 1]) / scale]
    return max(errors)


def rows_of(quick, ours, theirs):
    rows = []
    for key, group, name, shape, *_ in all_cases(quick):
        mine, ref = ours.get(key, {}), theirs.get(key, {})
        t = {"fwd": (ref.get("fwd"), mine.get("fwd")), "fb": (ref.get("fb"), mine.get("fb")),
             "kernel": mine.get("kernel"), "check": check_error(mine.get("probe"), ref.get("probe")),
             "error": mine.get("error") or ref.get("error")}
        rows.append((group, name, shape, t))
    return rows


def repeats_warmup(args):
    return (1, 1) if args.quick else (args.repeats, args.warmup)


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


def fmt_check(error):
    if error is None:
        return "-"
    return f"{error:.1e}" + (" MISMATCH" if error > MISMATCH else "")


def table(rows, header, quick, notes=()):
    lines = ["# GPU benchmark: minigan (CuPy) vs PyTorch + cuDNN", "", header
             + (" QUICK MODE: small shapes, one run each, timings meaningless." if quick else ""), "",
             "Median ms per call, device synchronised; ratio = torch / minigan (> 1: minigan faster).", "",
             "\"kernels fwd\" calls minigan.kernels directly on CuPy arrays (no autograd, no nn.functional):",
             "the gap to \"minigan fwd\" is the engine's Python overhead. \"check\": the largest difference",
             f"between the two frameworks' outputs and input gradients, relative to their norms (> {MISMATCH}:",
             "MISMATCH).", "",
             "| group | case | input | torch fwd | minigan fwd | kernels fwd | fwd ratio | torch f+b | minigan f+b "
             "| f+b ratio | check |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for group, name, shape, t in rows:
        fwd, fb = t.get("fwd", (None, None)), t.get("fb", (None, None))
        check = "ERROR" if t.get("error") else fmt_check(t.get("check"))
        lines.append(f"| {group} | {name} | {shape} | {fmt(fwd[0])} | {fmt(fwd[1])} | {fmt(t.get('kernel'))} | "
                     f"{fmt_ratio(fwd)} | {fmt(fb[0])} | {fmt(fb[1])} | {fmt_ratio(fb)} | {check} |")
    summary = []
    for label, groups, aim in (("conv + convT f+b", ("DCGAN", "CycleGAN"), 0.5),
                               ("norm, activation, loss f+b", ("norm", "activation", "loss"), 0.8),
                               ("padding f+b", ("padding",), None), ("DCGAN train step", ("train step",), None)):
        ratios = [ratio(t["fb"]) for g, _, _, t in rows if g in groups and "fb" in t]
        if any(r is not None for r in ratios):
            low = min(r for r in ratios if r is not None)
            below = [n for g, n, sh, t in rows if g in groups and aim and (ratio(t["fb"]) or aim) < aim]
            summary.append(f"- {label}: geometric mean {geometric_mean(ratios):.2f}, lowest {low:.2f}"
                           + (f" (aim >= {aim}; {len(below)} below)" if aim else ""))
    checks = [t.get("check") for *_, t in rows if t.get("check") is not None]
    if checks:
        bad = [f"{n} {sh}" for _, n, sh, t in rows if (t.get("check") or 0) > MISMATCH]
        summary.append(f"- check: {len(checks)} rows compared, largest difference {max(checks):.1e}, "
                       f"{len(bad)} MISMATCH" + (f": {'; '.join(bad)}" if bad else ""))
    errors = [f"{n} {sh}: {t['error']}" for _, n, sh, t in rows if t.get("error")]
    summary += [f"- ERROR {e}" for e in errors] + [f"- {n}" for n in notes if n]
    return "\n".join(lines + [""] + summary + [""])


def describe(theirs_version, tf32):
    from minigan.backend import cp
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    theirs = theirs_version or "no torch with CUDA: minigan times only"
    return f"Device {name}; CuPy {cp.__version__}; {theirs}; TF32 {'on' if tf32 else 'off'} in both."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, one run each: a smoke test")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per cell (median taken)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per cell first")
    parser.add_argument("--steps", type=int, default=10, help="timed DCGAN training steps")
    parser.add_argument("--tf32", action="store_true", help="let both frameworks use TF32 for float32 GEMMs")
    parser.add_argument("--no-torch", action="store_true", help="time minigan only")
    parser.add_argument("--out", default=str(BENCH / "results" / "gpu.md"), help="markdown file to write")
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)   # "cpu": tests the plumbing
    parser.add_argument("--worker", choices=("torch",), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["CUPY_TF32"] = "1" if args.tf32 else "0"           # read by CuPy at its first float32 GEMM
    if args.worker:
        return torch_worker(args)
    from minigan import backend
    if args.device == "cuda" and not backend.gpu_available():
        sys.exit("bench/gpu.py needs CuPy and a CUDA device")
    fw = Framework("minigan", args.tf32, args.device)
    ours = run_all(fw, args.quick, *repeats_warmup(args), kernels=args.device == "cuda",
                   log=lambda m: print(m, flush=True))
    with tempfile.TemporaryDirectory() as tmp:
        step_row = dcgan_step_row(fw, args, tmp)
        theirs, note = {}, None
        if not args.no_torch:
            free_pool()
            theirs, note = run_torch_worker(args, tmp)
    rows = rows_of(args.quick, ours, theirs.get("cases", {})) + [step_row]
    header = describe(theirs.get("version"), args.tf32) if args.device == "cuda" else \
        f"CPU run (tests the script only); {theirs.get('version')}."
    text = table(rows, header, args.quick,
                 [note] if note and not theirs else [])
    print("\n" + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
