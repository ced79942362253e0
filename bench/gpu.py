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
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from harness import (MISMATCH, Framework, all_cases, check_error, fmt, fmt_check, fmt_ratio,  # noqa: E402
                     geometric_mean, median_ms, ratio, rows_of, run_all)

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


def repeats_warmup(args):
    return (1, 1) if args.quick else (args.repeats, args.warmup)


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
    ours = run_all(fw, args.quick, *repeats_warmup(args), extra=kernel_ms if args.device == "cuda" else None,
                   log=lambda m: print(m, flush=True))
    with tempfile.TemporaryDirectory() as tmp:
        step_row = dcgan_step_row(fw, args, tmp)
        theirs, note = {}, None
        if not args.no_torch:
            free_pool()
            theirs, note = run_torch_worker(args, tmp)
    rows = rows_of(args.quick, ours, theirs.get("cases", {}), args.device) + [step_row]
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
