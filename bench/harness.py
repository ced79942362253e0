"""The benchmark cases and their timing, shared by bench/kernels.py (CPU) and bench/gpu.py (GPU).

Each framework runs the same cases in its own process through its user-level API (nn.functional and
autograd), on inputs built from the same seeds. A case's result is the median wall time of the forward
and of forward+backward, plus a probe: the output and each input gradient projected on fixed random
directions, which the other framework's process reproduces. check_error compares the two probes.
"""
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# (network, kind, N, C_in, C_out, size, kernel, stride, padding, output_padding, bias): the DCGAN
# (batch 64, 64x64) and CycleGAN (batch 1, 256x256) layers
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
# The flagship's layers (examples/cyclegan.py: 64x64, ngf 32, 6 blocks; PatchGAN ndf 32), timed on the CPU
CYCLEGAN64 = [
    ("CycleGAN-64", "conv", 1, 3, 32, 64, 7, 1, 3, 0, True), ("CycleGAN-64", "conv", 1, 32, 64, 64, 3, 2, 1, 0, True),
    ("CycleGAN-64", "conv", 1, 64, 128, 32, 3, 2, 1, 0, True),
    ("CycleGAN-64", "conv", 1, 128, 128, 16, 3, 1, 1, 0, True),
    ("CycleGAN-64", "convT", 1, 128, 64, 16, 3, 2, 1, 1, True),
    ("CycleGAN-64", "convT", 1, 64, 32, 32, 3, 2, 1, 1, True),
    ("CycleGAN-64", "conv", 1, 32, 3, 64, 7, 1, 3, 0, True),
    ("CycleGAN-64", "conv", 1, 3, 32, 64, 4, 2, 1, 0, True), ("CycleGAN-64", "conv", 1, 32, 64, 32, 4, 2, 1, 0, True),
    ("CycleGAN-64", "conv", 1, 64, 128, 16, 4, 2, 1, 0, True),
    ("CycleGAN-64", "conv", 1, 128, 256, 8, 4, 1, 1, 0, True),
    ("CycleGAN-64", "conv", 1, 256, 1, 7, 4, 1, 1, 0, True),
]
ELEMENTWISE_SHAPES = {"small": (64, 128, 16, 16), "large": (64, 128, 64, 64)}
MISMATCH = 1e-3
# OPENBLAS_CORETYPE per bench setting: the core OpenBLAS detects, and Haswell (as these machines set)
SETTINGS = {"detected": None, "haswell": "Haswell"}


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
def conv_cases(quick, device="cuda"):
    """(key, group, name, input, make() -> (arrays, constants), call(F, *tensors), kernel args, env):
    env is set while the row runs (minigan's side only). The CPU adds the flagship's layers; the GPU
    adds CONV_VARIANTS."""
    cases = []
    convs = CONVS + (CYCLEGAN64 if device == "cpu" else [])
    rows = [(i, "", {}) for i in range(len(convs))] + (CONV_VARIANTS if device != "cpu" else [])
    for key, (i, suffix, env) in enumerate(rows):
        net, kind, n, cin, cout, size, k, s, p, op, bias = convs[i]
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


def all_cases(quick, device="cuda"):
    return conv_cases(quick, device) + pointwise_cases(quick)


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


def run_all(fw, quick, repeats, warmup, extra=None, log=print, groups=None):
    """{case key: run_case's result} for every case; extra(case, arrays, constants, repeats, warmup), when
    given, adds a "kernel" time to each."""
    results = {}
    for case in all_cases(quick, fw.device):
        if groups and case[1] not in groups:
            continue
        try:
            arrays, constants = case[4]()                 # the inputs, from the case's own seed
            with environment(case[7]):
                result = results[case[0]] = run_case(fw, case, arrays, constants, repeats, warmup)
                if extra is not None:
                    result["kernel"] = extra(case, arrays, constants, repeats, warmup)
            log(f"{fw.name}: {case[2]} {case[3]}: fwd {result['fwd']:.3f} ms, f+b {result['fb']:.3f} ms")
        except Exception as e:                    # a row that fails says why; the others still run
            results[case[0]] = {"error": f"{type(e).__name__}: {e}"[:300]}
            log(f"{fw.name}: {case[2]} {case[3]} failed: {results[case[0]]['error']}")
    return results


def check_error(ours, theirs):
    """The largest probe difference, relative to the norms, or None without both."""
    if not ours or not theirs or len(ours) != len(theirs):
        return None
    errors = []
    for k in range(0, len(ours), 2):                    # (projection, norm) pairs
        scale = max(theirs[k + 1], 1e-30)
        errors += [abs(ours[k] - theirs[k]) / scale, abs(ours[k + 1] - theirs[k + 1]) / scale]
    return max(errors)


def rows_of(quick, ours, theirs, device="cuda"):
    rows = []
    for key, group, name, shape, *_ in all_cases(quick, device):
        mine, ref = ours.get(key, {}), theirs.get(key, {})
        t = {"fwd": (ref.get("fwd"), mine.get("fwd")), "fb": (ref.get("fb"), mine.get("fb")),
             "kernel": mine.get("kernel"), "check": check_error(mine.get("probe"), ref.get("probe")),
             "error": mine.get("error") or ref.get("error")}
        rows.append((group, name, shape, t))
    return rows


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


def run_isolated_worker(bench, name, cmd, setting, out):
    """Run a bench's worker process for framework `name` under BLAS `setting` (SETTINGS) and return its
    JSON result from `out`; exits with a message if it failed or imported the other framework."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if SETTINGS[setting]:
        env["OPENBLAS_CORETYPE"] = SETTINGS[setting]
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0 or not Path(out).exists():
        sys.exit(f"{bench}: the {name} worker failed (rc {done.returncode}); its output is above")
    result = json.loads(Path(out).read_text())
    if not result["isolated"]:
        sys.exit(f"{bench}: the {name} worker imported the other framework; its timings are void")
    return result


def cpu_model():
    """The CPU's model name and logical CPU count, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{names[0]}, {len(names)} logical CPUs" if names else "unknown CPU"
    except OSError:
        return "unknown CPU"
