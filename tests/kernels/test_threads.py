"""Importing minigan and running its kernels changes nothing process-wide (kernels/cpu/threads.py)."""
import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, os, sys
env_before = dict(os.environ)
if "torch" in sys.argv:
    import torch
    torch.nn.functional.conv2d(torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3))
import numpy as np
from minigan.kernels.cpu import threads
blas_before = threads.blas_threads()
import minigan as mg
import minigan.nn.functional as F
x = mg.randn(2, 64, 32, 32, requires_grad=True)
w = mg.randn(64, 64, 3, 3, requires_grad=True)
F.leaky_relu(F.conv2d(x, w, padding=1), 0.2).sum().backward()      # GEMMs split over the pool, Numba loops
import numba
print(json.dumps({"env_changed": sorted(k for k in set(os.environ) | set(env_before)
                                        if os.environ.get(k) != env_before.get(k)),
                  "blas_before": blas_before, "blas_after": threads.blas_threads(),
                  "layer": numba.threading_layer(), "tbb": threads.TBB, "split": threads.SPLIT}))
"""


def probe(*args, env=None):
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_sets_no_environment_and_restores_numpys_blas_threads():
    seen = probe()
    assert seen["env_changed"] == []                   # no OMP_WAIT_POLICY or anything else
    assert seen["blas_after"] == seen["blas_before"]    # numpy's BLAS keeps its thread count outside our GEMMs
    if seen["tbb"]:
        assert seen["layer"] == "tbb"


def test_torch_imported_first_changes_nothing_either():
    pytest.importorskip("torch")
    seen = probe("torch")
    assert seen["env_changed"] == []
    assert seen["blas_after"] == seen["blas_before"]
    if seen["tbb"]:
        assert seen["layer"] == "tbb"                   # not torch's libgomp


def test_a_users_threading_layer_wins():
    import os
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    seen = probe(env=env)
    assert seen["layer"] == "workqueue" and not seen["tbb"]


def test_one_blas_thread_nests_and_restores():
    from minigan.kernels.cpu import threads
    if threads.blas_threads() is None:
        pytest.skip("numpy's BLAS cannot be told its thread count here")
    before = threads.blas_threads()
    with threads.one_blas_thread():
        with threads.one_blas_thread():
            assert threads.blas_threads() == 1
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before


def test_one_numba_thread_still_keeps_numpys_blas_at_one_thread_inside_gemms(monkeypatch):
    """With NUMBA_NUM_THREADS=1 (one per MPI rank) nothing is split, but OpenBLAS must not run its own
    spinning threads beside another rank's: gemm.matmul still pins it to one thread."""
    import numpy as np

    from minigan.kernels.cpu import gemm, threads
    if not threads.PINNED:
        pytest.skip("numpy's BLAS cannot be told its thread count here")
    seen = []
    monkeypatch.setattr(threads, "SPLIT", False)
    real = np.matmul

    def spy(a, b, out=None):
        seen.append(threads.blas_threads())
        return real(a, b, out=out)
    monkeypatch.setattr(gemm.np, "matmul", spy)
    a, b = np.ones((300, 300)), np.ones((300, 300))
    out = np.empty((300, 300))
    gemm.matmul(a, b, out)
    assert seen == [1]
    np.testing.assert_array_equal(out, 300.0)
