"""GEMMs for the CPU kernels: numpy's BLAS on one thread per block, the blocks on minigan's threads.

`matmul` cuts each large product into one block of rows (or columns) per thread and runs the blocks on
threads.pool, whose idle threads sleep in the kernel; numpy's BLAS runs each block on one thread
(threads.one_blas_thread). Nothing spins. Small products run whole on the calling thread: a hand-off
costs about 40 us. With one thread (NUMBA_NUM_THREADS=1, e.g. one per MPI rank) nothing is split, but
numpy's BLAS still runs at one thread: two ranks whose OpenBLAS threads spin side by side ran a step 15x
slower. When numpy's BLAS cannot be told its thread count (not OpenBLAS, or not found), or
MINIGAN_BLAS_THREADS=native, `matmul` is plain np.matmul and the BLAS keeps its own threads.
"""
import numpy as np

from . import threads

MIN_SPLIT_FLOPS = 3e7      # smaller products run whole on the calling thread


def matmul(a, b, out):
    """out = a @ b for 2-D arrays (views and transposed views welcome), split over threads.THREADS."""
    m, n = out.shape
    if not threads.PINNED:
        return np.matmul(a, b, out=out)
    with threads.one_blas_thread():
        if not threads.SPLIT or 2.0 * m * n * a.shape[1] < MIN_SPLIT_FLOPS:
            return np.matmul(a, b, out=out)
        count = threads.THREADS
        if m >= n:      # blocks of rows of a and out
            cuts = [m * k // count for k in range(count + 1)]
            parts = [(a[lo:hi], b, out[lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
        else:           # blocks of columns of b and out
            cuts = [n * k // count for k in range(count + 1)]
            parts = [(a, b[:, lo:hi], out[:, lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
        futures = [threads.pool.submit(np.matmul, pa, pb, out=po) for pa, pb, po in parts[1:]]
        np.matmul(*parts[0][:2], out=parts[0][2])
        for f in futures:
            f.result()
    return out
