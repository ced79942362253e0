"""GEMMs for the CPU kernels: numpy's BLAS on one thread per call, minigan's own threads around it.

OpenBLAS's worker threads hand work over by spinning. On a quiet machine that is fast; when any other
process wants the cores (a data loader, another job), a spinning thread and the one it waits for take
turns by the scheduler's time slice, and a 0.5 ms GEMM was measured at 44 ms. So at import minigan asks
numpy's OpenBLAS for one thread (`set_blas_threads`), and `matmul` cuts each large product into one block
per thread and runs the blocks on a small pool whose idle threads sleep in the kernel. Nothing spins.

If the BLAS library cannot be told (not OpenBLAS, or not found), `matmul` is plain np.matmul and the BLAS
keeps its own threads. MINIGAN_BLAS_THREADS=native leaves numpy's BLAS threading alone.
"""
import ctypes
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

MIN_SPLIT_FLOPS = 3e7      # smaller products run whole on the calling thread (a hand-off costs ~40 us)
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")


def _openblas():
    """numpy's OpenBLAS as a ctypes library, or None (found through the process's memory map: Linux)."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))               # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
        return ctypes.CDLL(paths[0]) if paths else None
    except OSError:
        return None


def set_blas_threads(n):
    """Set numpy's OpenBLAS thread count; returns True when the library took it."""
    lib = _openblas()
    for name in _SETTERS if lib is not None else ():
        if hasattr(lib, name):
            getattr(lib, name)(ctypes.c_int(n))
            return True
    return False


THREADS = numba.config.NUMBA_NUM_THREADS
SPLIT = os.environ.get("MINIGAN_BLAS_THREADS", "") != "native" and THREADS > 1 and set_blas_threads(1)
_pool = ThreadPoolExecutor(max_workers=THREADS - 1, thread_name_prefix="minigan-gemm") if SPLIT else None


def matmul(a, b, out):
    """out = a @ b for 2-D arrays (views and transposed views welcome), split over THREADS threads."""
    m, n = out.shape
    if not SPLIT or 2.0 * m * n * a.shape[1] < MIN_SPLIT_FLOPS:
        return np.matmul(a, b, out=out)
    parts = []
    if m >= n:      # blocks of rows of a and out
        cuts = [m * k // THREADS for k in range(THREADS + 1)]
        parts = [(a[lo:hi], b, out[lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
    else:           # blocks of columns of b and out
        cuts = [n * k // THREADS for k in range(THREADS + 1)]
        parts = [(a, b[:, lo:hi], out[:, lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
    futures = [_pool.submit(np.matmul, pa, pb, out=po) for pa, pb, po in parts[1:]]
    np.matmul(*parts[0][:2], out=parts[0][2])
    for f in futures:
        f.result()
    return out
