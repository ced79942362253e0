"""Issue 11, the loop and the trainers: divergence caught before a checkpoint is written, SIGTERM
saves like Ctrl-C, a dataset that shrank under a checkpoint, load_state_dict that changes nothing
when the state does not fit, and the one trainer convention (base, schedules, idioms, losses)."""
import os
import signal

import numpy as np
import pytest

import minigan as mg
from minigan import io, nn, optim
from minigan.data import DataLoader, RingDataset
from minigan.gans import CycleGAN, NonFiniteLossError, Pix2Pix, TrainingLoop
from minigan.gans import losses as gan_losses
from minigan.gans.cgan import CGAN
from minigan.gans.gan import GAN
from minigan.gans.translation import discriminator_term, generator_term
from minigan.models import mlp_discriminator, mlp_generator
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.resnet import ResnetGenerator
from minigan.models.unet import UnetGenerator


def small_gan(lr=1e-3):
    G = mlp_generator(latent_dim=2, hidden=16, layers=2)
    D = mlp_discriminator(hidden=16, layers=2)
    return GAN(G, D, optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999)),
               optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999)), latent_shape=2)


def ring_loader(n=640, batch=64):
    return DataLoader(RingDataset(n=n, seed=0), batch_size=batch, shuffle=True, drop_last=True,
                      seed=0)


class Poisoned:
    """A GAN whose D weight turns infinite at a chosen step while the losses stay finite (as a
    huge learning rate does to Adam's moments or BatchNorm's running variance)."""

    def __init__(self, gan, at=None, signal_at=None, signum=signal.SIGTERM):
        self.gan, self.at, self.signal_at, self.signum = gan, at, signal_at, signum

    def train_step(self, real):
        losses = self.gan.train_step(real)
        if self.gan.step == self.at:
            self.gan.D.state_dict()["0.weight"].array[0, 0] = np.inf
        if self.gan.step == self.signal_at:
            os.kill(os.getpid(), self.signum)
        return losses

    def state_dict(self):
        return self.gan.state_dict()

    def load_state_dict(self, state):
        self.gan.load_state_dict(state)


def params(gan):
    return {f"{n}/{k}": v.numpy().copy() for n, m in (("G", gan.G), ("D", gan.D))
            for k, v in m.state_dict().items()}


def test_non_finite_state_is_never_saved_and_stops_the_run(tmp_path):
    """Item 2: the losses stay finite, a parameter does not: the run stops at the next checkpoint,
    which is not written; the one on disk (and named) is the last finite one."""
    mg.manual_seed(0)
    loop = TrainingLoop(Poisoned(small_gan(), at=10), ring_loader(), tmp_path, steps=30,
                        checkpoint_every=5, progress=False)
    with pytest.raises(NonFiniteLossError, match=r"step 10: training diverged: non-finite values in "
                                                 r"D/0\.weight.*last good checkpoint is .*"
                                                 r"checkpoint\.safetensors' \(step 5\)"):
        loop.run()
    state = io.load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["loop"]["step"] == 5
    assert all(np.isfinite(v).all() for v in state["trainer"]["D"].values())


def test_huge_learning_rate_ends_with_an_error_not_a_saved_inf(tmp_path):
    """Item 2: lr 1e6 used to finish with rc 0 and inf in Adam's state."""
    mg.manual_seed(0)
    loop = TrainingLoop(small_gan(lr=1e6), ring_loader(), tmp_path, steps=20, checkpoint_every=4,
                        progress=False)
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        loop.run()
    if (tmp_path / "checkpoint.safetensors").exists():
        trainer = io.load_checkpoint(tmp_path / "checkpoint.safetensors")["trainer"]
        for key in ("G", "D"):
            assert all(np.isfinite(v).all() for v in trainer[key].values())
        for key in ("g_optimizer", "d_optimizer"):
            for per_param in trainer[key]["state"].values():
                assert all(np.isfinite(np.asarray(v)).all() for v in per_param.values())


def test_sigterm_saves_like_ctrl_c_and_resume_is_exact(tmp_path):
    """Item 4: SIGTERM (a scheduler's kill, a closed laptop) stops after the step and saves."""
    mg.manual_seed(0)
    straight = TrainingLoop(small_gan(), ring_loader(), tmp_path / "a", steps=24, progress=False)
    straight.run()
    mg.manual_seed(0)
    stopped = TrainingLoop(Poisoned(small_gan(), signal_at=7), ring_loader(), tmp_path / "b",
                           steps=24, progress=False)
    stopped.run()
    assert stopped.interrupted and stopped.step == 7
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL              # handler put back
    assert io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["loop"]["step"] == 7
    mg.manual_seed(123)                                  # the checkpoint's random state wins
    resumed = TrainingLoop(small_gan(), ring_loader(), tmp_path / "b", steps=24, progress=False)
    resumed.run(resume=True)
    a, b = params(straight.trainer), params(resumed.trainer)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_after_the_dataset_shrank_says_so(tmp_path):
    """Item 6: a checkpoint at batch 7 of 10, data now 2 batches per epoch: a clear ValueError, not
    a bare StopIteration."""
    mg.manual_seed(0)
    TrainingLoop(small_gan(), ring_loader(), tmp_path, steps=7, progress=False).run()
    loop = TrainingLoop(small_gan(), ring_loader(n=128), tmp_path, steps=20, progress=False)
    with pytest.raises(ValueError, match=r"batch 7 of an epoch, but the data now gives 2 batches"
                                         r".*dataset changed"):
        loop.run(resume=True)


def test_resume_with_more_steps_continues_to_the_new_total(tmp_path):
    mg.manual_seed(0)
    TrainingLoop(small_gan(), ring_loader(), tmp_path, steps=5, progress=False,
                 config={"steps": 5, "lr": 1e-3}).run()
    loop = TrainingLoop(small_gan(), ring_loader(), tmp_path, steps=12, progress=False,
                        config={"steps": 12, "lr": 1e-3})
    loop.run(resume=True)
    assert loop.step == 12 and len(loop.history["d_loss"]) == 12


def tiny_cyclegan(seed):
    mg.manual_seed(seed)
    nets = [ResnetGenerator(3, 3, 4, 1), ResnetGenerator(3, 3, 4, 1),
            PatchDiscriminator(3, 4, 2, norm="instance"),
            PatchDiscriminator(3, 4, 2, norm="instance")]
    return CycleGAN(*nets, pool_size=2, epochs=1, epochs_decay=1)


def test_cyclegan_load_state_dict_checks_everything_before_assigning(tmp_path):
    """Item 7: a state whose D_Y does not fit used to load G, F and D_X first."""
    trainer, other = tiny_cyclegan(0), tiny_cyclegan(1)
    before = {k: v.numpy().copy() for k, v in trainer.G.state_dict().items()}
    state = other.state_dict()
    state["D_Y"] = PatchDiscriminator(3, 8, 2, norm="instance").state_dict()    # another width
    with pytest.raises(ValueError, match=r"D_Y: .* has shape .*nothing|D_Y: .*shape"):
        trainer.load_state_dict(state)
    after = trainer.G.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    state = other.state_dict()
    state["pool_X"] = {"images": np.zeros((5, 3, 8, 8), np.float32)}           # pool of 2
    with pytest.raises(ValueError, match="pool_X"):
        trainer.load_state_dict(state)
    assert all(np.array_equal(before[k], trainer.G.state_dict()[k].numpy()) for k in before)
    del state["opt_D"]
    with pytest.raises(ValueError, match="no opt_D"):
        trainer.load_state_dict(state)
    trainer.load_state_dict(other.state_dict())                      # a fitting one still loads
    assert all(np.array_equal(v.numpy(), other.G.state_dict()[k].numpy())
               for k, v in trainer.G.state_dict().items())


# ---------------------------------------------------------------- one trainer convention
def test_every_trainer_shares_the_base():
    from minigan.gans.base import Trainer
    assert all(issubclass(t, Trainer) for t in (GAN, CGAN, Pix2Pix, CycleGAN))
    assert "train_step" in CGAN.__dict__ and CGAN.train_step.__doc__
    assert GAN._d_logits is not CGAN._d_logits                        # CGAN adds hooks only


def test_the_loop_advances_epoch_schedules_no_example_calls_end_epoch(tmp_path):
    """Pix2Pix/CycleGAN schedules used to need end_epoch() from each example's callback."""
    mg.manual_seed(0)
    a = mg.randn(4, 3, 32, 32).numpy()
    data = [(a[i], a[i]) for i in range(4)]
    trainer = Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4, 2), epochs=1,
                      epochs_decay=2)
    loop = TrainingLoop(trainer, DataLoader(data, batch_size=2), tmp_path, epochs=2,
                        progress=False)
    loop.run()
    # LinearDecayLR(1, 2): factor 1 at epoch 0, 1 - 1/3 at epoch 1, 1 - 2/3 at epoch 2
    assert trainer.opt_G.param_groups[0]["lr"] == pytest.approx(2e-4 / 3)
    assert trainer.schedulers[0].last_epoch == 2


@pytest.mark.parametrize("policy", ["step", "cosine", "plateau"])
def test_lr_policies_resume_exactly(tmp_path, policy):
    mg.manual_seed(0)
    a = mg.randn(4, 3, 32, 32).numpy()
    data = [(a[i], a[i]) for i in range(4)]

    def run(out, epochs, resume=False):
        mg.manual_seed(0)
        trainer = Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4, 2), epochs=2,
                          epochs_decay=1, lr_policy=policy, decay_epochs=1)
        loop = TrainingLoop(trainer, DataLoader(data, batch_size=2, shuffle=True), out,
                            epochs=epochs, progress=False)
        loop.run(resume=resume)
        return trainer

    straight = run(tmp_path / "a", 3)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 3, resume=True)
    assert straight.opt_G.param_groups[0]["lr"] == resumed.opt_G.param_groups[0]["lr"]
    if policy == "step":
        assert straight.opt_G.param_groups[0]["lr"] == pytest.approx(2e-7)
    for k, v in straight.G.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), resumed.G.state_dict()[k].numpy(), err_msg=k)


def test_evaluating_and_frozen_restore_what_they_found():
    from minigan.gans.base import evaluating, frozen
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.train()
    net[0].weight.requires_grad_(False)
    with evaluating(net), frozen(net):
        assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.training and not net[0].weight.requires_grad and net[0].bias.requires_grad
    net.eval()
    with pytest.raises(RuntimeError):
        with evaluating(net):
            raise RuntimeError
    assert not net.training


def test_each_loss_is_stated_once():
    """The translation terms are the reference's GANLoss (criterion) without a halving undone."""
    mg.manual_seed(0)
    real, fake = mg.randn(2, 1, 4, 4), mg.randn(2, 1, 4, 4)
    ones, zeros = np.ones((2, 1, 4, 4)), np.zeros((2, 1, 4, 4))
    mse = lambda x, t: float(((x.numpy() - t) ** 2).mean())  # noqa: E731
    assert generator_term(fake, "lsgan").item() == pytest.approx(mse(fake, ones))
    assert discriminator_term(real, fake, "lsgan").item() == pytest.approx(
        (mse(real, ones) + mse(fake, zeros)) / 2)
    assert gan_losses.generator_loss(fake, "lsgan").item() == pytest.approx(mse(fake, ones) / 2)
    assert discriminator_term(real, fake, "wgan_gp").item() == pytest.approx(
        (fake.numpy().mean() - real.numpy().mean()) / 2)


def test_resnet_size_hint_names_whole_sizes():
    """Item 7: the hint for 50x66 names sizes for both sides, as whole sizes, without a stray 8."""
    with pytest.raises(ValueError, match=r"50x66 .*near yours: 48, 52, 64, 68 \(e\.g\. 48x64 or "
                                         r"52x68\)"):
        ResnetGenerator(3, 3, 4, 1)(mg.randn(1, 3, 50, 66))
