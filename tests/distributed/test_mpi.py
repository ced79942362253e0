"""Data parallelism under ``mpiexec -n 2``: each test starts mpi_worker.py as a two-rank job with a
timeout and reads what rank 0 found. Skipped when mpi4py or mpiexec is missing (the
``distributed`` extra: pip install -e '.[distributed]')."""
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mpi_launch import needs_mpi, run  # noqa: E402

WORKER = os.path.join(os.path.dirname(__file__), "mpi_worker.py")
pytestmark = needs_mpi


def launch(scenario, out, ranks=2):
    """Run the scenario as an MPI job; returns (CompletedProcess, seconds)."""
    start = time.monotonic()
    done = run([sys.executable, WORKER, scenario, str(out)], ranks)
    return done, time.monotonic() - start


def result(scenario, out):
    done, _ = launch(scenario, out)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(os.path.join(out, "result.json")) as f:
        return json.load(f)


def test_dcgan_with_syncbatchnorm_equals_one_process_at_the_global_batch(tmp_path):
    found = result("dcgan", tmp_path)       # 5 steps, 2 ranks x 16 vs 1 x 32, float64
    assert found["moved"] > 1e-4            # training really changed the weights
    assert found["G"] < 1e-10 and found["D"] < 1e-10, found
    assert found["no_sync"] < 1e-12, found  # accumulation, and heads used on one rank only
    assert found["helpers"] == [{"loss": 0.5}, True, False, 2]   # averaged, agreed, gathered


def test_cyclegan_with_instance_norm_and_image_pools_equals_one_process(tmp_path):
    found = result("cyclegan", tmp_path)    # 3 steps, 2 ranks x 4 vs 1 x 8, pools of 6
    assert found["pool_sizes"] == [6, 6]    # full: the random swap branch ran
    assert found["pools"] < 1e-12 and found["outputs"] < 1e-12, found
    assert found["models"] < 1e-10, found


def test_resume_under_mpi_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    done, _ = launch("resume-a", tmp_path)  # 6 steps; and 3 steps + a checkpoint by rank 0
    assert done.returncode == 0, done.stdout + done.stderr
    assert result("resume-b", tmp_path) == {"max_difference": 0.0}   # a new job resumes


@pytest.mark.parametrize("how, message", [
    ("kill", "Killed (signal 9)"),                              # mpiexec reaps the job
    ("raise", "rank 1 raised ValueError; aborting all 2 ranks"),  # sys.excepthook -> MPI_Abort
    ("hang", "rank 0 of 2 waited more than 2 s in all_reduce"),   # the watchdog
])
def test_a_failing_rank_ends_the_job_with_a_clear_error(tmp_path, how, message):
    done, seconds = launch(how, tmp_path)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr, done.stdout + done.stderr
    assert seconds < 60
