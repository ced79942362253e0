"""Kernel benchmark: minigan vs PyTorch, forward and forward+backward, on the DCGAN and CycleGAN layers.

Both libraries run in this process on the same inputs, through what a user calls: minigan's
nn.functional ops and Tensor.backward, torch.nn.functional and torch's autograd (2 threads each).
Each cell is the median of repeated runs after warm-up; ratio = torch time / minigan time (above 1:
minigan is faster). The table is printed and written to bench/results/kernels-<setting>.md.

    python bench/kernels.py                 # this process's BLAS setting
    python bench/kernels.py --both          # OPENBLAS_CORETYPE unset and =Haswell, one subprocess each
    python bench/kernels.py --quick         # small shapes, one run each: a smoke test, no timings to trust

OpenBLAS reads OPENBLAS_CORETYPE when numpy is imported, so one process measures one setting.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minigan as mg                              # noqa: E402  (before torch: see docs/kernels.md, threading)
import minigan.nn.functional as F                 # noqa: E402
from minigan.kernels import cpu                   # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# (network, kind, N, C_in, C_out, size, kernel, stride, padding, output_padding)
CONVS = [
    ("DCGAN", "conv", 64, 3, 64, 64, 4, 2, 1, 0), ("DCGAN", "conv", 64, 64, 128, 32, 4, 2, 1, 0),
    ("DCGAN", "conv", 64, 128, 256, 16, 4, 2, 1, 0), ("DCGAN", "conv", 64, 256, 512, 8, 4, 2, 1, 0),
    ("DCGAN", "conv", 64, 512, 1, 4, 4, 1, 0, 0),
    ("DCGAN", "convT", 64, 100, 512, 1, 4, 1, 0, 0), ("DCGAN", "convT", 64, 512, 256, 4, 4, 2, 1, 0),
    ("DCGAN", "convT", 64, 256, 128, 8, 4, 2, 1, 0), ("DCGAN", "convT", 64, 128, 64, 16, 4, 2, 1, 0),
    ("DCGAN", "convT", 64, 64, 3, 32, 4, 2, 1, 0),
    ("CycleGAN", "conv", 1, 3, 64, 256, 7, 1, 3, 0), ("CycleGAN", "conv", 1, 64, 128, 256, 3, 2, 1, 0),
    ("CycleGAN", "conv", 1, 128, 256, 128, 3, 2, 1, 0), ("CycleGAN", "conv", 1, 256, 256, 64, 3, 1, 1, 0),
    ("CycleGAN", "convT", 1, 256, 128, 64, 3, 2, 1, 1), ("CycleGAN", "convT", 1, 128, 64, 128, 3, 2, 1, 1),
    ("CycleGAN", "conv", 1, 64, 3, 256, 7, 1, 3, 0),
]


def others(torch):
    """(group, name, shape, minigan fn, torch fn, extra shapes): the norm, activation, loss, pad rows."""
    TF = torch.nn.functional
    rows = []
    C = 128
    rm, rv, rmt, rvt = mg.zeros(C), mg.ones(C), torch.zeros(C), torch.ones(C)
    rows.append(("norm", "BatchNorm2d train", (64, C, 16, 16),
                 lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True),
                 lambda x, w, b: TF.batch_norm(x, rmt, rvt, w, b, training=True), [(C,), (C,)]))
    rows.append(("norm", "InstanceNorm2d", (1, 256, 64, 64), lambda x: F.instance_norm(x),
                 lambda x: TF.instance_norm(x), []))
    rows.append(("activation", "LeakyReLU(0.2)", (64, 128, 32, 32), lambda x: F.leaky_relu(x, 0.2),
                 lambda x: TF.leaky_relu(x, 0.2), []))
    for shape in [(64, 1), (1, 1, 30, 30)]:
        target = np.random.default_rng(1).random(shape).astype(np.float32)
        rows.append(("loss", "BCEWithLogits", shape,
                     lambda x, t=mg.tensor(target): F.binary_cross_entropy_with_logits(x, t),
                     lambda x, t=torch.tensor(target): TF.binary_cross_entropy_with_logits(x, t), []))
    target = np.random.default_rng(1).random((64, 1)).astype(np.float32)
    rows.append(("loss", "BCE (probabilities)", (64, 1),
                 lambda p, t=mg.tensor(target): F.binary_cross_entropy(p, t),
                 lambda p, t=torch.tensor(target): TF.binary_cross_entropy(p, t), []))
    rows.append(("padding", "ReflectionPad2d(1)", (1, 256, 64, 64),
                 lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"),
                 lambda x: TF.pad(x, (1, 1, 1, 1), mode="reflect"), []))
    return rows


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def quick_shape(n, size):
    return min(n, 2), (size if size <= 4 else max(4, size // 8))


def conv_rows(torch, quick, repeats, only=None):
    TF = torch.nn.functional
    rng = np.random.default_rng(0)
    out = []
    for net, kind, n, cin, cout, size, k, s, p, op in CONVS:
        if only and only not in net:
            continue
        if quick:
            n, size = quick_shape(n, size)
        x = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w_shape = (cout, cin, k, k) if kind == "conv" else (cin, cout, k, k)
        w = (rng.standard_normal(w_shape) * 0.05).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        ours = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        if kind == "conv":
            mine = lambda: F.conv2d(*ours, stride=s, padding=p)                                  # noqa: E731
            ref = lambda: TF.conv2d(*theirs, stride=s, padding=p)                                # noqa: E731
        else:
            mine = lambda: F.conv_transpose2d(*ours, stride=s, padding=p, output_padding=op)     # noqa: E731
            ref = lambda: TF.conv_transpose2d(*theirs, stride=s, padding=p, output_padding=op)   # noqa: E731
        y = ref()
        ho, wo = y.shape[2:]
        spatial = ho * wo if kind == "conv" else size * size
        flops = 2 * n * cin * cout * k * k * spatial                     # one forward; backward is twice that
        name = f"{kind} {cin}->{cout} k{k} s{s} p{p}" + (f" op{op}" if op else "")
        shape = f"({n},{cin},{size},{size})"
        out.append((net, name, shape, flops) + time_pair(mine, ref, ours, theirs, torch, repeats))
    return out


def time_pair(mine, ref, ours, theirs, torch, repeats):
    """(torch fwd, minigan fwd, torch f+b, minigan f+b) in ms; backward with a fixed upstream gradient."""
    g = np.random.default_rng(2).standard_normal(tuple(ref().shape)).astype(np.float32)
    g_ours, g_theirs = mg.tensor(g), torch.tensor(g)

    def mine_fb():
        mine().backward(g_ours)
        for t in ours:
            t.grad = None

    def ref_fb():
        ref().backward(g_theirs)
        for t in theirs:
            t.grad = None

    return (median_ms(ref, repeats), median_ms(mine, repeats), median_ms(ref_fb, repeats),
            median_ms(mine_fb, repeats))


def other_rows(torch, quick, repeats):
    rng = np.random.default_rng(0)
    out = []
    for group, name, shape, mine, ref, extra in others(torch):
        if quick and group != "loss":
            shape = (min(shape[0], 2), shape[1], *(max(4, d // 8) for d in shape[2:]))
        probabilities = name.startswith("BCE (")
        first = rng.random(shape) if probabilities else rng.standard_normal(shape)
        arrays = [first.astype(np.float32)] + [rng.standard_normal(e).astype(np.float32) for e in extra]
        ours = [mg.tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        timings = time_pair(lambda: mine(*ours), lambda: ref(*theirs), ours, theirs, torch, repeats)
        out.append((group, name, str(tuple(shape)), 0) + timings)
    return out


def fmt_ratio(torch_ms, mine_ms):
    return f"{torch_ms / mine_ms:.2f}" if mine_ms > 0 else "-"


def table(setting, info, convs, rest, quick):
    lines = [f"# Kernel benchmark: minigan vs PyTorch ({setting})", "",
             f"OPENBLAS_CORETYPE: {info['OPENBLAS_CORETYPE']} (OpenBLAS core in use: {info['blas_core']}); "
             f"Numba threading layer {info['numba_threading_layer']} with {info['numba_threads']} threads, "
             f"OMP_WAIT_POLICY={info['OMP_WAIT_POLICY']}; torch {info['torch']} with 2 threads."
             + (" QUICK MODE: small shapes, one run each, timings meaningless." if quick else ""), "",
             "Times in ms (medians); ratio = torch time / minigan time (> 1: minigan faster); "
             "GFLOP/s = minigan's, forward+backward.", "",
             "| network | layer | input | torch fwd | minigan fwd | fwd ratio | torch f+b | minigan f+b | "
             "GFLOP/s f+b | f+b ratio |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals = {}
    for net, name, shape, flops, tf, mf, tfb, mfb in convs:
        lines.append(f"| {net} | {name} | {shape} | {tf:.2f} | {mf:.2f} | {fmt_ratio(tf, mf)} | {tfb:.2f} | "
                     f"{mfb:.2f} | {3 * flops / mfb / 1e6:.0f} | {fmt_ratio(tfb, mfb)} |")
        t = totals.setdefault(net, [0.0, 0.0, 0.0, 0.0])
        for i, v in enumerate((tf, mf, tfb, mfb)):
            t[i] += v
    for net, (tf, mf, tfb, mfb) in totals.items():
        lines.append(f"| **{net} total** | | | {tf:.1f} | {mf:.1f} | **{fmt_ratio(tf, mf)}** | {tfb:.1f} | "
                     f"{mfb:.1f} | | **{fmt_ratio(tfb, mfb)}** |")
    for group, name, shape, _, tf, mf, tfb, mfb in rest:
        lines.append(f"| {group} | {name} | {shape} | {tf:.3f} | {mf:.3f} | {fmt_ratio(tf, mf)} | "
                     f"{tfb:.3f} | {mfb:.3f} | - | {fmt_ratio(tfb, mfb)} |")
    worst = min(convs, key=lambda r: r[6] / r[7])
    lines += ["", f"Lowest conv f+b ratio: {fmt_ratio(worst[6], worst[7])} ({worst[0]} {worst[1]})."]
    if rest:
        lines[-1] += (f" Lowest norm/activation/loss f+b ratio: "
                      f"{min(r[6] / r[7] for r in rest if r[0] != 'padding'):.2f}.")
    lines.append("")
    return "\n".join(lines)


def blas_core():
    """The OpenBLAS kernel family numpy's BLAS picked (best effort: reads its get_corename)."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
        lib = ctypes.CDLL(paths[0])
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename"):
            if hasattr(lib, name):
                getattr(lib, name).restype = ctypes.c_char_p
                return getattr(lib, name)().decode()
    except (OSError, IndexError):
        pass
    return "unknown"


def run(args):
    import torch
    torch.set_num_threads(2)
    np.dot(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32))    # load BLAS before asking its core
    setting = "OPENBLAS_CORETYPE=" + os.environ["OPENBLAS_CORETYPE"] if "OPENBLAS_CORETYPE" in os.environ \
        else "OPENBLAS_CORETYPE unset"
    repeats = 1 if args.quick else args.repeats
    convs = conv_rows(torch, args.quick, repeats, args.only)
    rest = [] if args.only else other_rows(torch, args.quick, 1 if args.quick else args.repeats * 3)
    info = dict(cpu.threading_info(), blas_core=blas_core(), torch=torch.__version__)
    text = table(setting, info, convs, rest, args.quick)
    print(text)
    tag = os.environ.get("OPENBLAS_CORETYPE", "detected").lower()
    path = Path(args.out) if args.out else RESULTS / f"kernels-{tag}{'-quick' if args.quick else ''}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, one run: a smoke test")
    parser.add_argument("--both", action="store_true", help="run with OPENBLAS_CORETYPE unset and =Haswell")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell (median taken)")
    parser.add_argument("--out", help="markdown file to write (default bench/results/kernels-<setting>.md)")
    parser.add_argument("--only", help="just the conv rows of one network: DCGAN or CycleGAN")
    args = parser.parse_args()
    if not args.both:
        return run(args)
    argv = [a for a in sys.argv[1:] if a != "--both"]
    for coretype in (None, "Haswell"):
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        subprocess.run([sys.executable, __file__] + argv, env=env, check=True)


if __name__ == "__main__":
    main()
