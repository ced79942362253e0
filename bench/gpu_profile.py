"""Where a training step's host time goes: cProfile of minigan's step for one bench/train_step.py case.

    python bench/gpu_profile.py --device cuda --case cyclegan_256

Runs a few warm-up steps, then profiles `--steps` steps (synchronised at the end) and prints the Python
call count per step and the functions with the most time of their own. On a GPU, a step whose
profiled host time is close to its wall time is bound by Python overhead, not by the kernels.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.train_step import CASES, minigan_step, synchronizer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--case", default="cyclegan_256", choices=sorted(CASES))
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)
    sync = synchronizer("minigan", args.device, False)
    step = minigan_step(CASES[args.case], args.device)[0]
    for _ in range(3):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    wall = (time.perf_counter() - start) / args.steps
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.steps):
        step()
    sync()
    profile.disable()
    stats = pstats.Stats(profile)
    print(f"{args.case} on {args.device}: {wall * 1e3:.1f} ms a step unprofiled; "
          f"{stats.total_calls / args.steps:.0f} Python calls a step")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
