"""The GAN trainer, the shared TrainingLoop (checkpoints, exact resume, NaN guard, Ctrl-C) and the
ring example run end to end."""
import json
import os
import signal

import numpy as np
import pytest

import minigan as mg
from minigan import io, optim
from minigan.data import DataLoader, RingDataset, RingOfGaussians
from minigan.gans import GAN, NonFiniteLossError, TrainingLoop, pack_samples
from minigan.models import mlp_discriminator, mlp_generator

from example_scripts import load_example as load_script



def small_gan(pack=2, lr=1e-3, schedule=False, **kwargs):
    """A ring GAN small enough for tests: G 3x64, D 2x64 (seeded by the caller)."""
    G = mlp_generator(latent_dim=2, hidden=64, layers=3)
    D = mlp_discriminator(hidden=64, layers=2, pack=pack)
    g_opt = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    schedulers = [optim.LambdaLR(o, lambda s: max(0.0, 1 - s / 100)) for o in (g_opt, d_opt)] \
        if schedule else ()
    return GAN(G, D, g_opt, d_opt, latent_shape=2, pack=pack, schedulers=schedulers, **kwargs)


def ring_loader(batch=64, n=640, seed=0):
    return DataLoader(RingDataset(n=n, seed=seed), batch_size=batch, shuffle=True, drop_last=True,
                      seed=seed)


def params(gan):
    return {f"{name}/{k}": v.copy() for name, m in (("G", gan.G), ("D", gan.D))
            for k, v in ((k, t.numpy()) for k, t in m.state_dict().items())}


# ---------------------------------------------------------------- the GAN trainer
def test_pack_samples_joins_consecutive_samples():
    x = mg.tensor(np.arange(12.0).reshape(6, 2))
    packed = pack_samples(x, 3)                                    # (6, 2) -> (2, 6)
    assert packed.shape == (2, 6)
    assert packed.numpy()[1].tolist() == [6, 7, 8, 9, 10, 11]      # samples 3, 4, 5 side by side
    images = mg.tensor(np.arange(4 * 3 * 2 * 2.0).reshape(4, 3, 2, 2))
    packed = pack_samples(images, 2).numpy()                       # (4, 3, 2, 2) -> (2, 6, 2, 2)
    assert packed.shape == (2, 6, 2, 2)
    np.testing.assert_array_equal(packed[1, 3:], images.numpy()[3])  # channels of sample 3
    with pytest.raises(ValueError, match="batch size 6 is not a multiple of pack=4"):
        pack_samples(x, 4)


def test_train_step_updates_both_networks_and_returns_floats():
    gan = small_gan()
    before = params(gan)
    losses = gan.train_step(mg.tensor(RingOfGaussians().sample(64, np.random.default_rng(0))))
    assert set(losses) == {"d_loss", "g_loss"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in losses.values())
    after = params(gan)
    assert all(not np.array_equal(before[k], after[k]) for k in before)
    assert gan.step == 1
    assert all(p.requires_grad for p in gan.D.parameters())       # unfrozen after G's step


@pytest.mark.parametrize("options", [
    {"loss": "lsgan", "d_steps": 2}, {"loss": "vanilla", "real_label": 0.9},
    {"loss": "hinge", "pack": 1}, {"instance_noise": 0.1, "instance_noise_steps": 10},
    {"ema_decay": 0.9}])
def test_options_run(options):
    gan = small_gan(**options)
    real = mg.tensor(RingOfGaussians().sample(64, np.random.default_rng(0)))
    for _ in range(3):
        losses = gan.train_step(real)
    assert all(np.isfinite(v) for v in losses.values())
    if "ema_decay" in options:
        assert gan.sample(5, ema=True).shape == (5, 2)
        assert not np.array_equal(gan.G_ema.state_dict()["0.weight"].numpy(),
                                  gan.G.state_dict()["0.weight"].numpy())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="batch size 63 must be a multiple of pack=2"):
        small_gan().train_step(mg.randn(63, 2))
    with pytest.raises(ValueError, match="d_steps must be a positive int, got 0"):
        small_gan(d_steps=0)
    with pytest.raises(ValueError, match="loss: expected one of"):
        small_gan(loss="wasserstein")
    with pytest.raises(ValueError, match=r"z must have shape \(4, 2\)"):
        small_gan().sample(4, z=mg.randn(4, 3))


def test_sample_uses_eval_mode_and_restores_it():
    gan = small_gan()
    z = mg.randn(10, 2)
    a, b = gan.sample(10, z=z), gan.sample(10, z=z)
    assert a.shape == (10, 2) and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert gan.G.training
    gan.G.eval()
    gan.sample(3)
    assert not gan.G.training


def test_short_training_moves_samples_onto_the_ring(tmp_path):
    """A bound the untrained G cannot meet: samples start near the origin, 2 away from the ring."""
    mg.manual_seed(0)
    gan = small_gan(pack=2, lr=2e-3)
    ring = RingOfGaussians()

    def ring_distance():
        points = gan.sample(1000).numpy()
        return float(np.abs(np.linalg.norm(points, axis=1) - ring.radius).mean())

    start = ring_distance()
    TrainingLoop(gan, ring_loader(batch=128, n=1280), tmp_path, steps=300, checkpoint_every=0,
                 progress=False).run()
    end = ring_distance()
    assert start > 1.5   # seeds 0-3 end at 0.38-0.76; the bound leaves room for other BLAS rounding
    assert end < 1.0, f"mean distance to the ring {start:.3f} -> {end:.3f}"


# ---------------------------------------------------------------- the training loop
def run_loop(out, steps, seed=0, resume=False, wrap=lambda gan: gan, **kwargs):
    """Seed, build a small GAN (with an LR schedule and instance noise: more to restore), run."""
    mg.manual_seed(seed)
    trainer = wrap(small_gan(schedule=True, instance_noise=0.05))
    loop = TrainingLoop(trainer, ring_loader(seed=seed), out, steps=steps, progress=False, **kwargs)
    loop.run(resume=resume)
    return loop


def test_resume_gives_identical_parameters(tmp_path):
    """26 steps straight vs 13 + resume + 13 (13 is mid-epoch: 10 batches per epoch)."""
    straight = run_loop(tmp_path / "a", 26, checkpoint_every=5)
    run_loop(tmp_path / "b", 13, checkpoint_every=5)
    state = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")
    assert state["loop"]["step"] == 13 and state["loop"]["batch_in_epoch"] == 3
    resumed = run_loop(tmp_path / "b", 26, resume=True, checkpoint_every=5)
    assert resumed.step == 26
    a, b = params(straight.trainer), params(resumed.trainer)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert straight.history == resumed.history                     # the losses continue exactly
    assert (tmp_path / "b" / "losses.png").is_file()


def test_resume_at_an_epoch_boundary(tmp_path):
    straight = run_loop(tmp_path / "a", 20)
    run_loop(tmp_path / "b", 10)
    state = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")
    assert (state["loop"]["loader"]["epoch"], state["loop"]["batch_in_epoch"]) == (1, 0)
    resumed = run_loop(tmp_path / "b", 20, resume=True)
    a, b = params(straight.trainer), params(resumed.trainer)
    assert all(np.array_equal(a[k], b[k]) for k in a)


class Scripted:
    """Wraps a GAN: sends itself SIGINT or returns a NaN loss at a chosen step."""

    def __init__(self, gan, sigint_at=None, nan_at=None):
        self.gan, self.sigint_at, self.nan_at = gan, sigint_at, nan_at

    def train_step(self, real):
        losses = self.gan.train_step(real)
        if self.gan.step == self.sigint_at:
            os.kill(os.getpid(), signal.SIGINT)    # as if the user pressed Ctrl-C mid-step
        if self.gan.step == self.nan_at:
            losses["g_loss"] = float("nan")
        return losses

    def state_dict(self):
        return self.gan.state_dict()

    def load_state_dict(self, state):
        self.gan.load_state_dict(state)


def test_ctrl_c_saves_and_resume_continues_exactly(tmp_path):
    straight = run_loop(tmp_path / "a", 24)
    stopped = run_loop(tmp_path / "b", 24, wrap=lambda gan: Scripted(gan, sigint_at=7))
    assert stopped.interrupted and stopped.step == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["loop"]["step"] == 7
    resumed = run_loop(tmp_path / "b", 24, resume=True)
    a, b = params(straight.trainer), params(resumed.trainer)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    mg.manual_seed(0)
    trainer = Scripted(small_gan(), nan_at=13)
    loop = TrainingLoop(trainer, ring_loader(), tmp_path, steps=30, checkpoint_every=5,
                        progress=False)
    with pytest.raises(NonFiniteLossError, match=r"step 13: non-finite loss \(g_loss=nan\).*"
                                                 r"last good checkpoint is .*checkpoint"
                                                 r"\.safetensors"):
        loop.run()
    assert io.load_checkpoint(tmp_path / "checkpoint.safetensors")["loop"]["step"] == 10
    assert len(loop.history["g_loss"]) == 12 and (tmp_path / "losses.png").is_file()


def test_resume_errors(tmp_path):
    loop = TrainingLoop(small_gan(), ring_loader(), tmp_path / "none", steps=5, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*checkpoint.safetensors"):
        loop.run(resume=True)
    run_loop(tmp_path / "c", 3, config={"batch_size": 64, "lr": 1e-3})
    with pytest.raises(ValueError, match=r"other settings \(lr: 0.001 -> 0.002\)"):
        run_loop(tmp_path / "c", 6, resume=True, config={"batch_size": 64, "lr": 2e-3})
    with pytest.raises(ValueError, match="exactly one of steps or epochs"):
        TrainingLoop(small_gan(), ring_loader(), tmp_path, steps=3, epochs=1)


def test_epochs_and_epoch_callback(tmp_path):
    seen = []
    loop = TrainingLoop(small_gan(), ring_loader(), tmp_path, epochs=2, progress=False,
                        on_epoch_end=seen.append)
    loop.run()
    assert loop.step == 20 and seen == [0, 1]
    assert io.load_checkpoint(tmp_path / "checkpoint.safetensors")["loop"]["loader"]["epoch"] == 2


# ---------------------------------------------------------------- the example
def load_example():
    return load_script("gan")


def test_example_short_run_writes_plot_and_metrics(tmp_path):
    example = load_example()
    metrics = example.main(["--steps", "200", "--batch-size", "64", "--out", str(tmp_path),
                            "--no-progress", "--checkpoint-every", "100"])
    for name in ("ring.png", "losses.png", "checkpoint.safetensors", "metrics.json"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["modes_covered"] == metrics["modes_covered"]
    assert 0 <= saved["modes_covered"] <= 8 and len(saved["mode_counts"]) == 8
    assert 0.0 <= saved["high_quality_fraction"] <= 1.0
    assert saved["step"] == 200 and saved["steps_per_second"] > 0
    assert sum(saved["mode_counts"]) == round(saved["high_quality_fraction"] * 2500)


def test_example_resume_matches_a_straight_run(tmp_path):
    example = load_example()
    common = ["--batch-size", "64", "--lr-decay-steps", "40", "--no-progress"]
    example.main(["--steps", "40", "--out", str(tmp_path / "a")] + common)
    example.main(["--steps", "20", "--out", str(tmp_path / "b")] + common)
    example.main(["--steps", "40", "--out", str(tmp_path / "b"), "--resume"] + common)
    a = io.load_checkpoint(tmp_path / "a" / "checkpoint.safetensors")["trainer"]
    b = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["trainer"]
    for net in ("G", "D"):
        for key in a[net]:
            np.testing.assert_array_equal(a[net][key], b[net][key], err_msg=f"{net}/{key}")
    with pytest.raises(SystemExit, match="other settings"):
        example.main(["--steps", "60", "--out", str(tmp_path / "b"), "--resume", "--pack", "4"]
                     + common)


# ---------------------------------------------------------------- the regularised losses' options
def test_wgan_clips_the_critic_after_every_critic_step(monkeypatch):
    from minigan.gans.losses import clip_weights_
    mg.manual_seed(0)
    gan = small_gan(pack=1, loss="wgan")
    assert (gan.d_steps, gan.clip_value, gan.gp_lambda, gan.r1_gamma) == (5, 0.01, None, None)
    calls = []

    def recording_clip(module, value):
        calls.append(value)
        return clip_weights_(module, value)

    monkeypatch.setattr("minigan.gans.gan.losses.clip_weights_", recording_clip)
    with mg.no_grad():
        for p in gan.D.parameters():
            p.data *= 20                                     # far outside [-0.01, 0.01]
    result = gan.train_step(mg.tensor(RingOfGaussians().sample(64, np.random.default_rng(0))))
    assert set(result) == {"d_loss", "g_loss"} and calls == [0.01] * 5
    d_values = np.concatenate([p.numpy().ravel() for p in gan.D.parameters()])
    assert np.abs(d_values).max() <= 0.01 and np.isclose(np.abs(d_values), 0.01).mean() > 0.5
    assert max(np.abs(p.numpy()).max() for p in gan.G.parameters()) > 0.1   # G is not clipped


def test_wgan_critic_learns_to_score_real_above_fake():
    """A few steps move the critic loss mean D(fake) - mean D(real) further below 0 (the weights
    stay within 0.01, so the scores are small)."""
    mg.manual_seed(0)
    G = mlp_generator(latent_dim=2, hidden=64, layers=3)
    D = mlp_discriminator(hidden=64, layers=2)
    gan = GAN(G, D, optim.RMSprop(G.parameters(), lr=5e-4), optim.RMSprop(D.parameters(), lr=5e-4),
              latent_shape=2, loss="wgan")
    real = mg.tensor(RingOfGaussians().sample(128, np.random.default_rng(0)))
    history = [gan.train_step(real)["d_loss"] for _ in range(15)]
    assert history[0] < 0 and np.mean(history[-5:]) < 2 * history[0], history  # -1.5e-4 -> -4.8e-4


def test_regularised_loss_options_are_checked():
    assert small_gan(loss="wgan-gp").d_steps == 5 and small_gan(loss="wgan_gp").gp_lambda == 10.0
    assert small_gan(loss="dragan").d_steps == 1 and small_gan(loss="dragan").gp_lambda == 10.0
    assert small_gan(loss="r1", r1_gamma=0.5).r1_gamma == 0.5
    assert small_gan(loss="wgan", d_steps=2).d_steps == 2 and small_gan().d_steps == 1
    with pytest.raises(ValueError, match="gp_lambda applies to the 'wgan_gp' and 'dragan' losses, "
                                         "not 'hinge'"):
        small_gan(loss="hinge", gp_lambda=1.0)
    with pytest.raises(ValueError, match="r1_gamma applies to the 'r1' loss, not 'wgan_gp'"):
        small_gan(loss="wgan_gp", r1_gamma=1.0)
    with pytest.raises(ValueError, match="clip_value applies to the 'wgan' loss, not"):
        small_gan(clip_value=0.1)
    with pytest.raises(ValueError, match="clip_value must be a number > 0, got 0"):
        small_gan(loss="wgan", clip_value=0)
    with pytest.raises(ValueError, match="gp_lambda must be a number >= 0, got -1"):
        small_gan(loss="dragan", gp_lambda=-1)
    with pytest.raises(ValueError, match="label smoothing .* does not apply to the wgan loss"):
        small_gan(loss="wgan", real_label=0.9)


def test_cgan_refuses_the_regularised_losses():
    from minigan.gans.cgan import CGAN
    from minigan.models.cgan import CGANDiscriminator, CGANGenerator
    G, D = CGANGenerator(), CGANDiscriminator()
    with pytest.raises(ValueError, match="CGAN: loss 'wgan-gp' needs weight clipping or a gradient "
                                         "penalty"):
        CGAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), loss="wgan-gp")


def test_example_flags_of_the_regularised_losses(capsys):
    example = load_example()
    args = example.parse_args(["--loss", "wgan-gp"])
    assert (args.loss, args.batch_size, args.lr, args.steps) == ("wgan_gp", 256, 1e-3, 2000)
    gan = example.build(args, "cpu")
    assert gan.d_steps == 5 and gan.gp_lambda == 10.0 and gan.pack == 2
    assert gan.d_optimizer.param_groups[0]["betas"] == (0.0, 0.9)
    args = example.parse_args(["--loss", "wgan"])
    assert args.lr == 5e-5 and isinstance(example.build(args, "cpu").d_optimizer, optim.RMSprop)
    # one saved-config convention (gans.cli): every flag that changes the numbers, unset ones left out
    from minigan.gans import cli
    assert set(cli.run_config(example.parse_args([]))) == {
        "seed", "batch_size", "lr", "lr_decay_steps", "pack", "loss", "latent_dim", "steps",
        "beta1"}
    assert cli.run_config(example.parse_args(["--loss", "r1", "--r1-gamma", "1"]))[
        "r1_gamma"] == 1.0
    for argv, message in [(["--gp-lambda", "5"], "--gp-lambda applies to --loss wgan-gp and "
                                                 "dragan, not non_saturating"),
                          (["--loss", "wgan", "--r1-gamma", "1"], "--r1-gamma applies to --loss "
                                                                  "r1, not wgan"),
                          (["--loss", "wgan", "--clip-value", "0"], "--clip-value must be > 0"),
                          (["--loss", "wgan-gp", "--n-critic", "0"], "--n-critic must be positive"),
                          (["--loss", "wgan-gp", "--gp-lambda", "-1"], "--gp-lambda must be >= 0")]:
        with pytest.raises(SystemExit):
            example.parse_args(argv)
        assert message in capsys.readouterr().err, argv
