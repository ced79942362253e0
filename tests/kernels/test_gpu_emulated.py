"""The GPU code path on a machine without a GPU: kernels/gpu.py and the engine on "cuda" against an
emulated CuPy (cupy_emulator.py: the CUDA sources compiled for the host with g++; device arrays that
refuse to mix with host arrays and count every transfer). Skipped without g++ >= 11.

Every test of test_gpu.py is collected here a second time and runs under the emulator, so the GPU
tests themselves are exercised in CI; on a GPU machine test_gpu.py runs them against real CuPy.
The emulator checks the kernels' index arithmetic, the launch arguments and the Python side of
gpu.py; it cannot check CuPy itself, real parallel execution or speed (docs/gpu.md).
"""
import shutil

import numpy as np
import pytest

def _gxx_major():
    import subprocess
    if shutil.which("g++") is None:
        return 0
    version = subprocess.run(["g++", "-dumpversion"], capture_output=True, text=True).stdout
    return int(version.split(".")[0] or 0)


if _gxx_major() < 11:
    pytest.skip("the CuPy emulator needs g++ 11 or newer (C++20 <barrier>)", allow_module_level=True)

import cupy_emulator  # noqa: E402
import test_gpu  # noqa: E402

import minigan as mg  # noqa: E402
from minigan import optim  # noqa: E402
from minigan.kernels import reference  # noqa: E402

globals().update({name: fn for name, fn in vars(test_gpu).items() if name.startswith("test_")})


@pytest.fixture(autouse=True, scope="module")
def emulated_cupy():
    with cupy_emulator.emulated() as fake:
        yield fake


def test_block_sum_with_one_host_thread_per_gpu_thread():
    """block_sum's warp shuffles and shared memory, run for real: 2 warps a block, 8 blocks a channel."""
    from minigan.kernels import gpu
    rng = np.random.default_rng(0)
    x, gy = rng.standard_normal((3, 2, 700)) + 5, rng.standard_normal((3, 2, 700))
    mean, var = reference.batch_norm_stats(x)
    invstd = 1 / np.sqrt(var + 1e-5)
    with cupy_emulator.threaded():
        got = gpu.batch_norm_stats(test_gpu.dev(x))
        grads = gpu.batch_norm_backward(test_gpu.dev(gy), test_gpu.dev(x), test_gpu.dev(mean),
                                        test_gpu.dev(invstd), None, True)
    for g, want in zip(got + grads, (mean, var) + reference.batch_norm_backward(gy, x, mean, invstd, None, True)):
        test_gpu.check(g, want, np.float64, 1e3)


def _transfers(step):
    """Host<->device transfers of step() after one warm-up call."""
    step()
    cupy_emulator.TRANSFERS.update(to_host=0, to_device=0)
    step()
    return dict(cupy_emulator.TRANSFERS)


def test_dcgan_step_moves_only_the_noise_and_the_logged_losses():
    from minigan.gans import GAN
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    G, D = DCGANGenerator(16, 8, 1, 8).to("cuda"), DCGANDiscriminator(16, 1, 8).to("cuda")
    gan = GAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), (8, 1, 1), ema_decay=0.9)
    real = mg.tensor(np.zeros((4, 1, 16, 16), np.float32), device="cuda")
    assert _transfers(lambda: gan.train_step(real)) == {"to_host": 1, "to_device": 1}


def test_image_translation_steps_move_only_the_logged_losses():
    from minigan.gans.cyclegan import CycleGAN
    from minigan.gans.pix2pix import Pix2Pix
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator
    from minigan.models.unet import UnetGenerator
    a = mg.tensor(np.zeros((1, 3, 32, 32), np.float32), device="cuda")
    pix2pix = Pix2Pix(UnetGenerator(3, 3, num_downs=5, ngf=4, use_dropout=True).to("cuda"),
                      PatchDiscriminator(6, ndf=4, n_layers=2).to("cuda"))
    assert _transfers(lambda: pix2pix.train_step(a, a)) == {"to_host": 1, "to_device": 0}

    def resnet():
        return ResnetGenerator(3, 3, ngf=4, n_blocks=1).to("cuda")

    def patch():
        return PatchDiscriminator(3, ndf=4, n_layers=2, norm="instance").to("cuda")
    cyclegan = CycleGAN(resnet(), resnet(), patch(), patch())
    assert _transfers(lambda: cyclegan.train_step(a, a)) == {"to_host": 1, "to_device": 0}


def test_cgan_step_moves_only_the_noise_labels_and_the_logged_losses():
    from minigan.gans.cgan import CGAN
    from minigan.models.cgan import CGANDiscriminator, CGANGenerator
    G, D = CGANGenerator(8, 10, (1, 8, 8)).to("cuda"), CGANDiscriminator(10, (1, 8, 8)).to("cuda")
    cgan = CGAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), latent_dim=8, n_classes=10)
    images = mg.tensor(np.zeros((4, 1, 8, 8), np.float32), device="cuda")
    labels = mg.tensor(np.arange(4), device="cuda")
    assert _transfers(lambda: cgan.train_step(images, labels)) == {"to_host": 1, "to_device": 2}


def test_gpu_bench_quick_runs_end_to_end(tmp_path):
    """bench/gpu.py --quick (minigan only) writes every row: a smoke test of the script, no timings."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu.md"
    bench.main(["--quick", "--no-torch", "--out", str(out)])
    text = out.read_text()
    for row in ("conv 3->64 k4 s2 p1", "convT 100->512 k4 s1 p0", "conv 64->3 k7 s1 p3", "BatchNorm2d train",
                "InstanceNorm2d", "LeakyReLU", "BCE (probabilities)", "BCEWithLogits", "ReflectionPad2d",
                "DCGAN (G + D, Adam)"):
        assert row in text
