"""Kernel benchmark on the CPU: minigan vs PyTorch, each in a process of its own, under both BLAS settings.

Rows: conv2d and conv_transpose2d on the DCGAN layers (batch 64, 64x64), the paper CycleGAN's (batch 1,
256x256) and the flagship example's (CycleGAN-64: batch 1, 64x64, ngf = ndf = 32), forward and
forward+backward, with a total per network; then batch norm, instance norm, LeakyReLU, the BCE losses
and reflection padding at a small and a large size (bench/harness.py has the cases).

Method:
- This process imports neither framework. For each setting of OPENBLAS_CORETYPE (unset: the core
  OpenBLAS detects; and Haswell, which these machines set and which halves numpy's sgemm) it runs a
  minigan worker, then a torch worker, one after the other: each has nothing of the other imported,
  since either library can change the other's threading (torch loads an OpenMP runtime).
- Both use every core: minigan its defaults (Numba and its GEMM pool on all cores), torch its default
  intra-op threads.
- Each cell is the median wall time of --repeats runs after --warmup untimed ones, through the user API
  (nn.functional + autograd). ratio = torch time / minigan time (> 1: minigan faster).
- Each row is also a correctness check: both workers project the output and the input gradients on the
  same random directions ("check": the largest relative difference; above 1e-3 reads MISMATCH).
- Run nothing else on the machine meanwhile; the header names the CPU and each side's threads.

    python bench/kernels.py              # both settings; writes bench/results/kernels-<setting>.md
    python bench/kernels.py --setting detected
    python bench/kernels.py --quick      # small shapes, one run each: a smoke test, timings meaningless
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from harness import (SETTINGS, Framework, cpu_model, fmt, fmt_check, fmt_ratio, geometric_mean,  # noqa: E402
                     ratio, rows_of, run_all, run_isolated_worker)

NETWORKS = ("DCGAN", "CycleGAN", "CycleGAN-64")


def blas_core():
    """The OpenBLAS kernel family numpy's BLAS picked (best effort: reads its get_corename)."""
    import ctypes

    import numpy as np
    np.dot(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))       # load the BLAS first
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
        lib = ctypes.CDLL(paths[0])
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            if hasattr(lib, name):
                getattr(lib, name).restype = ctypes.c_char_p
                return getattr(lib, name)().decode()
    except (OSError, IndexError):
        pass
    return "unknown"


def worker(args):
    """--worker minigan|torch: every case in this framework alone; writes {"info": ..., "cases": ...}."""
    fw = Framework(args.worker, device="cpu")
    if args.worker == "torch":
        torch = fw.module
        info = f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"
    else:
        from minigan.kernels.cpu import threading_info
        fw.F.leaky_relu(fw.tensor([[1.0]] * (1 << 18)), 0.2)               # start Numba's threads
        t = threading_info()
        info = (f"minigan: Numba {t['numba_threading_layer']} x {t['numba_threads']}, GEMMs "
                f"{t['gemm_threads']}")
    repeats, warmup = (1, 1) if args.quick else (args.repeats, args.warmup)
    groups = args.only.split(",") if args.only else None
    cases = run_all(fw, args.quick, repeats, warmup, log=lambda m: print(m, flush=True), groups=groups)
    info += f"; OpenBLAS core {blas_core()}"
    other = "minigan" if args.worker == "torch" else "torch"
    Path(args.json).write_text(json.dumps({"info": info, "cases": cases, "isolated": other not in sys.modules}))


def run_worker(name, args, setting, tmp):
    out = Path(tmp) / f"{name}-{setting}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--json", str(out),
           "--repeats", str(args.repeats), "--warmup", str(args.warmup)] + (["--quick"] if args.quick else []) \
        + (["--only", args.only] if args.only else [])
    return run_isolated_worker("bench/kernels.py", name, cmd, setting, out)


def table(setting, ours, theirs, quick):
    rows = rows_of(quick, ours["cases"], theirs["cases"], "cpu")
    lines = [f"# Kernel benchmark: minigan vs PyTorch on the CPU (OPENBLAS_CORETYPE "
             f"{SETTINGS[setting] or 'unset'})", "",
             f"{cpu_model()}. {ours['info']}. {theirs['info']}. Each framework in its own process, "
             "the other not imported."
             + (" QUICK MODE: small shapes, one run each, timings meaningless." if quick else ""), "",
             "Median ms per call; ratio = torch time / minigan time (> 1: minigan faster); check: the largest",
             "relative difference between the two frameworks' outputs and input gradients.", "",
             "| group | case | input | torch fwd | minigan fwd | fwd ratio | torch f+b | minigan f+b | f+b ratio "
             "| check |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals = {}
    for group, name, shape, t in rows:
        if t["fb"] == (None, None):
            continue                                            # not run (--only)
        check = "ERROR " + t["error"] if t.get("error") else fmt_check(t.get("check"))
        lines.append(f"| {group} | {name} | {shape} | {fmt(t['fwd'][0])} | {fmt(t['fwd'][1])} | "
                     f"{fmt_ratio(t['fwd'])} | {fmt(t['fb'][0])} | {fmt(t['fb'][1])} | {fmt_ratio(t['fb'])} | {check} |")
        if group in NETWORKS and None not in t["fb"] + t["fwd"]:
            total = totals.setdefault(group, [0.0, 0.0, 0.0, 0.0, []])
            for i, v in enumerate(t["fwd"] + t["fb"]):
                total[i] += v
            total[4].append((ratio(t["fb"]), name))
    summary = []
    for net, (tf, mf, tfb, mfb, layers) in totals.items():
        lines.append(f"| **{net} total** | | | {tf:.1f} | {mf:.1f} | **{tf / mf:.2f}** | {tfb:.1f} | {mfb:.1f} | "
                     f"**{tfb / mfb:.2f}** | |")
        low = min(layers)
        summary.append(f"- {net}: conv f+b total {tfb / mfb:.2f}x, lowest layer {low[0]:.2f}x ({low[1]}), "
                       f"{sum(r < 0.8 for r, _ in layers)} of {len(layers)} layers below 0.8x")
    other = [ratio(t["fb"]) for g, _, _, t in rows if g in ("norm", "activation", "loss", "padding")]
    if any(other):
        summary.append(f"- norm, activation, loss, padding f+b: geometric mean {geometric_mean(other):.2f}x, "
                       f"lowest {min(r for r in other if r):.2f}x")
    return "\n".join(lines + [""] + summary + [""])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, one run each: a smoke test")
    parser.add_argument("--setting", choices=("both",) + tuple(SETTINGS), default="both",
                        help="OPENBLAS_CORETYPE: detected (unset), haswell, or both (default)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per cell (median taken)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per cell first")
    parser.add_argument("--out", help="markdown file (default bench/results/kernels-<setting>.md); "
                                      "with --setting both, the settings' tables one after the other")
    parser.add_argument("--only", help="comma list of row groups: DCGAN, CycleGAN, CycleGAN-64, norm, activation, "
                                       "loss, padding (default: all)")
    parser.add_argument("--worker", choices=("minigan", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            ours = run_worker("minigan", args, setting, tmp)
            theirs = run_worker("torch", args, setting, tmp)
            text = table(setting, ours, theirs, args.quick)
            print("\n" + text, flush=True)
            texts.append(text)
            if not args.out:
                path = BENCH / "results" / f"kernels-{setting}{'-quick' if args.quick else ''}.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                print(f"written to {path}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(texts))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
