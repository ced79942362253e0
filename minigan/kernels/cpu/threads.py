"""Who runs minigan's CPU kernels, on which threads: the one module that owns the thread policy.

Two kinds of work run in parallel: Numba's `prange` loops (im2col, norms, padding, ...) and GEMMs, which
numpy's BLAS does and gemm.py splits over a small pool of Python threads. Three rules, each measured
(docs/kernels.md, "Threads"):

1. **Import changes nothing process-wide.** No environment variable is set and no other library's
   runtime is reconfigured, so torch (or anything that loads OpenMP) runs as fast beside minigan as
   alone, and minigan runs as fast whichever was imported first.
2. **Numba runs on TBB.** Its OpenMP layer would share libgomp with torch (torch ships a
   `libgomp.so.1`, and the loader hands the same copy to Numba): the first importer's wait policy
   then holds for both, and one of the two is slowed (a passive policy costs torch its fast wake-ups;
   a spinning one makes Numba's idle threads fight minigan's GEMM threads for the 2 cores). TBB is a
   runtime of our own. It wakes a worker in about 3 us (OpenMP with a passive policy: 10-100 us,
   Numba's workqueue layer: about 90 us), and its idle workers back off to sleep on their own.
   The `tbb` wheel puts libtbb outside the loader's search path, so it is loaded here by its full
   path before Numba looks for it. A user's own NUMBA_THREADING_LAYER wins.
3. **numpy's BLAS runs on one thread inside minigan's GEMMs** (`one_blas_thread`), and gemm.py cuts
   large products into one block per thread itself. OpenBLAS's own threads spin while they wait, and
   on 2 busy cores a spinning thread takes the core from the one it waits for (a 0.5 ms GEMM was
   measured at 44 ms). The thread count is put back when the GEMM ends: numpy elsewhere in the
   process keeps its own setting.
"""
import contextlib
import ctypes
import importlib.metadata
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np


def _load_tbb():
    """Load the `tbb` wheel's libtbb globally, so that Numba's TBB layer finds it; True when loaded."""
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    for f in files:
        if f.name == "libtbb.so.12":
            try:
                ctypes.CDLL(str(f.locate()), mode=ctypes.RTLD_GLOBAL)
                return True
            except OSError:
                return False
    return False


TBB = "NUMBA_THREADING_LAYER" not in os.environ and _load_tbb()
if TBB:
    numba.config.THREADING_LAYER = "tbb"

THREADS = numba.config.NUMBA_NUM_THREADS


# --------------------------------------------------------------------------------------- numpy's BLAS

def _openblas():
    """numpy's OpenBLAS as a ctypes library, or None (found through the process's memory map: Linux)."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))               # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
        return ctypes.CDLL(paths[0]) if paths else None
    except OSError:
        return None


def _blas_thread_functions():
    """(get, set) of numpy's OpenBLAS thread count, or None when the library cannot be told."""
    lib = _openblas()
    for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", "64_"),
                           ("openblas_", "")):
        get, put = f"{prefix}get_num_threads{suffix}", f"{prefix}set_num_threads{suffix}"
        if lib is not None and hasattr(lib, get) and hasattr(lib, put):
            return getattr(lib, get), getattr(lib, put)
    return None


_BLAS = _blas_thread_functions() if os.environ.get("MINIGAN_BLAS_THREADS", "") != "native" else None
PINNED = _BLAS is not None                     # our GEMMs run numpy's BLAS at one thread (even with 1 thread:
SPLIT = PINNED and THREADS > 1                 # OpenBLAS's own would spin beside us); gemm.py splits over our pool
_blas_lock = threading.Lock()
_blas_users = 0                                 # GEMMs in flight that need the BLAS at one thread
_blas_saved = None


@contextlib.contextmanager
def one_blas_thread():
    """numpy's BLAS runs on one thread inside the block; the caller's setting comes back after it."""
    global _blas_users, _blas_saved
    if _BLAS is None:
        yield
        return
    get, put = _BLAS
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = get()
            if _blas_saved != 1:
                put(ctypes.c_int(1))
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_saved != 1:
                put(ctypes.c_int(_blas_saved))


def blas_threads():
    """numpy's BLAS thread count as it stands (None when it cannot be read)."""
    return None if _BLAS is None else _BLAS[0]()


# ------------------------------------------------------------------------------------ the GEMM pool

pool = ThreadPoolExecutor(max_workers=THREADS - 1, thread_name_prefix="minigan-gemm") if SPLIT else None


def threading_info():
    """How the kernels' threads are set up: Numba's layer and threads, the GEMM threads, the BLAS."""
    try:
        layer = numba.threading_layer()
    except ValueError:        # no parallel kernel has run yet
        layer = f"not started ({'tbb' if TBB else numba.config.THREADING_LAYER} chosen)"
    return {"numba_threading_layer": layer, "numba_threads": numba.get_num_threads(),
            "gemm_threads": (f"{THREADS} (minigan's, numpy's BLAS at 1 inside them)" if PINNED
                             else "BLAS's own"),
            "numpy_blas_threads": blas_threads(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset")}
