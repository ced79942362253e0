"""How the MPI tests start jobs: mpiexec from the mpich wheel (or PATH), one thread per rank, a timeout."""
import importlib.util
import os
import shutil
import subprocess
import sysconfig

import pytest

TIMEOUT = 120


def mpiexec():
    """mpiexec next to this Python's scripts (the mpich wheel puts it there), else on PATH."""
    local = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return local if os.path.isfile(local) else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or mpiexec() is None,
                               reason="needs mpi4py and mpiexec (pip install '.[distributed]')")


def run(command, ranks=2):
    """`command` (a python command line) as a job of `ranks` ranks (None: one plain process)."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks)] + list(command)
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
