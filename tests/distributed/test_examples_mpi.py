"""The examples under ``mpiexec -n 2`` (issue 13's wiring through gans/cli.py and the
TrainingLoop): one run writes one set of files, resumes under mpiexec, refuses a resume at another
world size unless --allow-reshard, and the BatchNorm (dcgan) and image-pool (cyclegan) examples
run. Each job runs with a timeout; skipped without mpi4py or mpiexec."""
import os
import sys

from minigan import io

sys.path.insert(0, os.path.dirname(__file__))
from mpi_launch import needs_mpi, run  # noqa: E402

RUNNER = os.path.join(os.path.dirname(__file__), "run_example.py")
GAN = ["--steps", "4", "--batch-size", "32", "--checkpoint-every", "2", "--no-progress"]
DCGAN = ["--n-train", "64", "--batch-size", "8", "--epochs", "1", "--ngf", "8", "--ndf", "8",
         "--latent-dim", "16", "--eval-samples", "16", "--no-progress"]
CYCLE = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--n-layers", "2",
         "--n-train", "4", "--n-test", "2", "--epochs", "1", "--epochs-decay", "0",
         "--no-progress"]
pytestmark = needs_mpi


def launch(name, args, ranks=2):
    """``mpiexec -n ranks python examples/name.py args`` (ranks=None: plain python)."""
    return run([sys.executable, RUNNER, name, *args], ranks)


def ok(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_gan_runs_resumes_and_refuses_another_world_size(tmp_path):
    out = str(tmp_path / "gan")
    done = ok(launch("gan", GAN + ["--out", out]))
    assert done.stdout.count("step 4: modes covered") == 1          # rank 0 alone prints
    assert sorted(os.listdir(out)) == ["checkpoint.safetensors", "index.html", "losses.png",
                                       "metrics.json", "ring.png"]
    state = io.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
    assert int(state["world_size"]) == 2 and sorted(state["rng"]["ranks"]) == ["0", "1"]
    assert int(state["loop"]["step"]) == 4
    assert not any(k.startswith("module.") for k in state["trainer"]["G"])   # unwrapped models

    again = launch("gan", GAN + ["--out", out])                      # a used --out: both refuse
    assert again.returncode != 0 and "already holds a checkpoint" in again.stderr, again.stderr

    ok(launch("gan", GAN[:1] + ["6"] + GAN[2:] + ["--out", out, "--resume"]))
    state = io.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
    assert int(state["loop"]["step"]) == 6 and len(state["loop"]["history"]["g_loss"]) == 6

    longer = GAN[:1] + ["8"] + GAN[2:] + ["--out", out, "--resume"]
    refused = launch("gan", longer, ranks=None)                      # one process: refused
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert "\n" not in line and line.startswith("error: resume:"), refused.stderr
    assert "written by a run of 2 rank(s), this run has 1" in line and "--allow-reshard" in line

    ok(launch("gan", longer + ["--allow-reshard"], ranks=None))      # accepted, single format
    state = io.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
    assert int(state["loop"]["step"]) == 8 and "world_size" not in state


def test_dcgan_with_sync_batchnorm_runs_under_mpiexec(tmp_path):
    out = str(tmp_path / "dcgan")
    ok(launch("dcgan", DCGAN + ["--out", out]))
    state = io.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
    assert int(state["world_size"]) == 2 and int(state["loop"]["step"]) == 4    # 64 / 2 / 8
    assert "running_mean" in " ".join(state["trainer"]["D"])        # BatchNorm, plain keys
    assert os.path.isfile(os.path.join(out, "samples_epoch001.png"))


def test_cyclegan_with_distributed_image_pools_runs_under_mpiexec(tmp_path):
    out = str(tmp_path / "cyclegan")
    ok(launch("cyclegan", CYCLE + ["--out", out]))
    state = io.load_checkpoint(os.path.join(out, "checkpoint.safetensors"))
    assert int(state["loop"]["step"]) == 2                          # 4 scenes / 2 ranks / 1
    pool = state["trainer"]["pool_Y"]
    assert len(pool["images"]) == 4 and "rng" in pool               # the global batch's fakes
    assert os.path.isfile(os.path.join(out, "epoch_001.png"))
