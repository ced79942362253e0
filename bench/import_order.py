"""Does import order matter? minigan's training step alone, and with torch imported first (and run).

For each case, processes alternate between the two arrangements, `--rounds` times each:
- "alone": a process that imports only minigan;
- "torch first": a process that imports torch and runs one of its convolutions (so its OpenMP runtime
  is loaded and its threads have started) before importing minigan.
Each process times `--steps` minigan steps after `--warmup` and reports the median; the table gives the
median over rounds and the ratio (torch first / alone; 1.0 = no effect). Run nothing else meanwhile.

    python bench/import_order.py                          # cyclegan_64 and dcgan
    python bench/import_order.py --cases pix2pix --rounds 5
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORKER = r"""
import json, sys, time
if sys.argv[1] == "torch":
    import torch
    torch.nn.functional.conv2d(torch.randn(1, 64, 32, 32), torch.randn(64, 64, 3, 3))
sys.path.insert(0, sys.argv[2]); sys.path.insert(0, sys.argv[3])
import train_step
from minigan.kernels.cpu import threading_info
step, _ = train_step.minigan_step(train_step.CASES[sys.argv[4]], "cpu")
for _ in range(int(sys.argv[5])):
    step()
times = []
for _ in range(int(sys.argv[6])):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"median_s": times[len(times) // 2], "threads": threading_info()}))
"""


def run(first, case, args):
    cmd = [sys.executable, "-c", WORKER, first, str(BENCH.parent), str(BENCH), case, str(args.warmup),
           str(args.steps)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench/import_order.py: {case} ({first}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="cyclegan_64,dcgan", help="comma list of bench/train_step.py cases")
    p.add_argument("--rounds", type=int, default=3, help="processes per arrangement (alternating)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per process")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--out", help="markdown file to write")
    args = p.parse_args(argv)
    lines = [f"minigan's step with torch imported first vs alone ({os.cpu_count()} CPUs; median over "
             f"{args.rounds} processes each, each the median of {args.steps} steps)", "",
             "| case | alone ms | torch first ms | ratio (torch first / alone) | Numba layer (torch first) |",
             "|---|---:|---:|---:|---|"]
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        alone, first, layer = [], [], None
        for _ in range(args.rounds):
            alone.append(run("alone", case, args)["median_s"])
            result = run("torch", case, args)
            first.append(result["median_s"])
            layer = result["threads"]["numba_threading_layer"]
        a, t = statistics.median(alone), statistics.median(first)
        lines.append(f"| {case} | {a * 1e3:.1f} | {t * 1e3:.1f} | {t / a:.2f} | {layer} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
