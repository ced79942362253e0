"""Host syncs per training step on "cuda" (issue 15), counted under the CuPy emulator.

A device-to-host copy (float(), .item(), bool(), .get(), asnumpy, tolist) waits for the GPU to
finish everything queued before it, so a step that makes several stalls the GPU several times.
Each trainer below runs a few steps of the real TrainingLoop over a host DataLoader, as the examples
do, and every step, the loop's own work between steps included, may copy to the host once: the
logged losses, gathered into one array.
"""
import numpy as np
import pytest

import cupy_emulator
from test_gpu_emulated import emulated_cupy  # noqa: F401  (autouse fixture; skips without g++ 11)

import minigan as mg
from minigan import optim
from minigan.data import DataLoader

pytestmark = pytest.mark.filterwarnings("ignore")
STEPS = 4


def _cgan():
    from minigan.gans.cgan import CGAN
    from minigan.models.cgan import CGANDiscriminator, CGANGenerator
    G = CGANGenerator(8, 10, (1, 8, 8), hidden=(16, 32)).to("cuda")
    D = CGANDiscriminator(10, (1, 8, 8), hidden=32).to("cuda")      # with Dropout(0.4) twice
    trainer = CGAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), latent_dim=8,
                   n_classes=10)
    rng = np.random.default_rng(0)
    data = [(rng.uniform(-1, 1, (1, 8, 8)).astype(np.float32), int(i % 10)) for i in range(16)]
    return trainer, data


def _dcgan(loss="non_saturating", norm="batch"):
    from minigan.gans import GAN
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    G, D = DCGANGenerator(16, 8, 1, 8).to("cuda"), DCGANDiscriminator(16, 1, 8, norm=norm).to("cuda")
    trainer = GAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), (8, 1, 1), loss=loss)
    rng = np.random.default_rng(0)
    data = [(rng.uniform(-1, 1, (1, 16, 16)).astype(np.float32),) for _ in range(16)]
    return trainer, data


def _cyclegan():
    from minigan.gans.cyclegan import CycleGAN
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator

    def G():
        return ResnetGenerator(3, 3, ngf=4, n_blocks=1).to("cuda")

    def D():
        return PatchDiscriminator(3, ndf=4, n_layers=2, norm="instance").to("cuda")
    trainer = CycleGAN(G(), G(), D(), D(), pool_size=2)
    rng = np.random.default_rng(0)
    data = [tuple(rng.uniform(-1, 1, (3, 32, 32)).astype(np.float32) for _ in range(2))
            for _ in range(8)]
    return trainer, data


TRAINERS = {"cgan": _cgan, "dcgan": _dcgan, "cyclegan": _cyclegan,
            "dcgan_wgan": lambda: _dcgan("wgan"),                       # n_critic steps, clipping
            "dcgan_wgan_gp": lambda: _dcgan("wgan-gp", norm="none")}    # a double backward


def _syncs_per_step(trainer, loader, tmp_path):
    """Run STEPS steps of TrainingLoop; device-to-host copies from one step's start to the next's."""
    from minigan.gans import TrainingLoop
    starts, returned = [], []
    train_step = trainer.train_step

    def counted(*batch):
        starts.append(cupy_emulator.TRANSFERS["to_host"])
        losses = train_step(*batch)
        returned.append(losses)
        return losses
    trainer.train_step = counted
    TrainingLoop(trainer, loader, tmp_path, steps=STEPS, checkpoint_every=0, progress=False).run()
    assert len(starts) == STEPS
    assert all(type(v) is float for losses in returned for v in losses.values())  # the loop needs no sync
    return list(np.diff(starts))                     # the last step ends in the final checkpoint's copies


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_a_training_step_on_cuda_syncs_at_most_once(name, tmp_path):
    mg.manual_seed(0)
    trainer, data = TRAINERS[name]()
    loader = DataLoader(data, batch_size=4, shuffle=True, seed=0)         # host batches, moved per step
    syncs = _syncs_per_step(trainer, loader, tmp_path)
    assert syncs and max(syncs) <= 1, f"{name}: device-to-host copies per step: {syncs}"


def test_the_count_sees_a_sync(tmp_path):
    """The instrument itself: one float() of a device value per step is counted as one more."""
    mg.manual_seed(0)
    trainer, data = _dcgan()
    step, weight = trainer.train_step, next(iter(trainer.G.parameters()))

    def chatty(*batch):
        losses = step(*batch)
        float(weight.data.sum())
        return losses
    trainer.train_step = chatty
    assert set(_syncs_per_step(trainer, DataLoader(data, batch_size=4), tmp_path)) == {2}
