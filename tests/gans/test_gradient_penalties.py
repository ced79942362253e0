"""The gradient penalties (WGAN-GP, DRAGAN, R1): their values on critics whose input gradient is
known in closed form, the points they are taken at, torch's numbers, the norm per critic decision
(PacGAN, PatchGAN), and the trainers that use them: a few steps move the loss, resume is exact."""

import numpy as np
import pytest

import minigan as mg
from minigan import io, nn, optim
from minigan.data import DataLoader, RingDataset, RingOfGaussians
from minigan.gans import GAN, TrainingLoop
from minigan.gans.losses import dragan_penalty, gradient_penalty, r1_penalty, wgan_gp_penalty
from minigan.models import mlp_discriminator, mlp_generator

from example_scripts import load_example as load_script



def linear_critic(features=3, seed=0):
    """D(x) = w . x + b in float64, whose gradient with respect to x is w everywhere."""
    mg.manual_seed(seed)
    return nn.Linear(features, 1).to(mg.float64)


def points(*shape, seed=1):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape))


# ---------------------------------------------------------------- values in closed form
def test_wgan_gp_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared():
    D = linear_critic()
    w = D.weight.numpy().ravel()
    norm = np.linalg.norm(w)
    penalty = wgan_gp_penalty(D, points(8, 3), points(8, 3, seed=2), weight=10.0)
    assert penalty.shape == ()
    np.testing.assert_allclose(penalty.item(), 10 * (norm - 1) ** 2, rtol=1e-9)
    penalty.backward()                                   # d/dw 10 (|w| - 1)^2
    np.testing.assert_allclose(D.weight.grad.numpy().ravel(), 20 * (norm - 1) * w / norm,
                               rtol=1e-9)
    assert D.bias.grad is None or not np.any(D.bias.grad.numpy())


def test_dragan_and_r1_of_a_linear_critic():
    D = linear_critic(4)
    w = D.weight.numpy().ravel()
    x = points(6, 4)
    np.testing.assert_allclose(dragan_penalty(D, x, weight=3.0).item(),
                               3 * (np.linalg.norm(w) - 1) ** 2, rtol=1e-9)
    r1 = r1_penalty(D, x, gamma=4.0)
    np.testing.assert_allclose(r1.item(), 0.5 * 4 * w @ w, rtol=1e-12)    # (gamma/2) |w|^2
    r1.backward()
    np.testing.assert_allclose(D.weight.grad.numpy().ravel(), 4 * w, rtol=1e-12)


def half_square(x):
    """D(x) = |x|^2 / 2 per sample: (B, d) -> (B,), whose input gradient is x itself."""
    return 0.5 * (x * x).sum(1)


def test_wgan_gp_takes_random_interpolates_per_sample():
    real, fake = points(5, 3), points(5, 3, seed=2)
    mg.manual_seed(7)
    penalty = wgan_gp_penalty(half_square, real, fake, weight=10.0).item()
    eps = np.random.default_rng(7).random((5, 1))                          # the same draw
    x_hat = eps * real.numpy() + (1 - eps) * fake.numpy()
    want = 10 * np.mean((np.linalg.norm(x_hat, axis=1) - 1) ** 2)
    np.testing.assert_allclose(penalty, want, rtol=1e-9)


def test_dragan_perturbs_the_real_batch_as_its_reference_code():
    """x_p = x + 0.5 std(x) U[0, 1) (std over the whole batch), penalty at x + alpha (x_p - x)."""
    x = points(6, 2)
    mg.manual_seed(3)
    penalty = dragan_penalty(half_square, x, weight=10.0).item()
    rng = np.random.default_rng(3)
    noise, alpha = rng.random((6, 2)), rng.random((6, 1))
    data = x.numpy()
    x_hat = data + alpha * (0.5 * data.std() * noise)
    want = 10 * np.mean((np.linalg.norm(x_hat, axis=1) - 1) ** 2)
    np.testing.assert_allclose(penalty, want, rtol=1e-9)


def test_r1_on_a_curved_critic():
    x = points(7, 3)
    want = 0.5 * 10 * np.mean(np.sum(x.numpy() ** 2, axis=1))              # grad = x
    np.testing.assert_allclose(r1_penalty(half_square, x, gamma=10.0).item(), want, rtol=1e-12)


def test_the_norm_is_per_critic_decision():
    """A PacGAN critic judges two samples at once: the norm runs over both (|w| of the packed
    linear critic), not over each sample. An image critic: over all the image's pixels."""
    D = nn.Linear(6, 1, bias=False).to(mg.float64)                         # pack 2 of 3 features
    gan = GAN(mlp_generator(latent_dim=2, out_features=3, hidden=8, layers=2), D,
              optim.Adam(D.parameters()), optim.Adam(D.parameters()), latent_shape=2, pack=2,
              loss="wgan_gp")
    w = D.weight.numpy().ravel()
    penalty = gan.penalty(points(8, 3), points(8, 3, seed=2)).item()
    np.testing.assert_allclose(penalty, 10 * (np.linalg.norm(w) - 1) ** 2, rtol=1e-9)

    conv = nn.Conv2d(2, 1, 3, padding=1, bias=False).to(mg.float64)       # a "PatchGAN"
    x = points(3, 2, 5, 5)
    grad = _torch_free_input_gradient(conv, x)                             # (3, 2, 5, 5)
    want = np.mean((np.sqrt((grad.reshape(3, -1) ** 2).sum(1)) - 1) ** 2)
    np.testing.assert_allclose(gradient_penalty(conv, x).item(), want, rtol=1e-9)


def _torch_free_input_gradient(conv, x):
    """d sum(conv(x)) / dx for a 3x3 'same' conv: each input pixel's weight sum over the output
    positions that see it."""
    w = conv.weight.numpy()[0]                                             # (2, 3, 3)
    ones = np.pad(np.ones((5, 5)), 1)
    grad = np.zeros((2, 5, 5))
    for c in range(2):
        for i in range(5):
            for j in range(5):      # output (i + 1 - di, j + 1 - dj) sees input (i, j) via w[di, dj]
                grad[c, i, j] = sum(w[c, di, dj] * ones[i + 2 - di, j + 2 - dj]
                                    for di in range(3) for dj in range(3))
    return np.broadcast_to(grad, x.shape)


def test_penalties_equal_torch():
    """The penalty and its gradient with respect to an MLP critic's weights, against
    torch.autograd.grad(..., create_graph=True), in float64."""
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16), nn.Tanh(),
                      nn.Linear(16, 1)).to(mg.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.LeakyReLU(0.2),
                                 torch.nn.Linear(16, 16), torch.nn.Tanh(),
                                 torch.nn.Linear(16, 1)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in D.state_dict().items()})
    x = points(10, 3)
    for center, weight in ((1.0, 10.0), (0.0, 5.0)):
        D.zero_grad()
        theirs.zero_grad()
        ours = gradient_penalty(D, x, center=center, weight=weight)
        ours.backward()
        xt = torch.from_numpy(x.numpy().copy()).requires_grad_(True)
        (g,) = torch.autograd.grad(theirs(xt).sum(), xt, create_graph=True)
        norm2 = (g ** 2).reshape(10, -1).sum(1)
        want = weight * (norm2.mean() if center == 0 else ((norm2.sqrt() - center) ** 2).mean())
        want.backward()
        np.testing.assert_allclose(ours.item(), want.item(), rtol=1e-9)
        for (name, p), q in zip(D.named_parameters(), theirs.parameters()):
            # the last bias does not move the input gradient: no grad (None), or zeros
            a = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
            b = np.zeros(p.shape) if q.grad is None else q.grad.numpy()
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- trainers
def small_gan(loss, pack=1, lr=1e-3, **kwargs):
    G = mlp_generator(latent_dim=2, hidden=64, layers=3)
    D = mlp_discriminator(hidden=64, layers=2, pack=pack)
    g_opt = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.9))
    d_opt = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    return GAN(G, D, g_opt, d_opt, latent_shape=2, pack=pack, loss=loss, **kwargs)


@pytest.mark.parametrize("loss", ["wgan_gp", "dragan", "r1"])
def test_a_few_steps_of_each_penalised_loss_move_it(loss):
    """The loss D minimises (adversarial term + penalty, measured 6.4 -> -0.2 for wgan_gp,
    9.8 -> 5.0 for dragan, 1.45 -> 1.32 for r1) falls; the penalty is reported and positive."""
    mg.manual_seed(0)
    gan = small_gan(loss)
    real = mg.tensor(RingOfGaussians().sample(128, np.random.default_rng(0)))
    history = [gan.train_step(real) for _ in range(12)]
    assert all(set(h) == {"d_loss", "g_loss", "penalty"} for h in history)
    assert all(np.isfinite(list(h.values())).all() and h["penalty"] >= 0 for h in history)
    d_loss = [h["d_loss"] for h in history]
    assert np.mean(d_loss[-3:]) < d_loss[0] - 0.05, d_loss


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_wgan_gp_step_through_a_conv_critic(norm):
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    mg.manual_seed(0)
    G, D = DCGANGenerator(16, 8, 1, 4), DCGANDiscriminator(16, 1, 4, norm=norm)
    gan = GAN(G, D, optim.Adam(G.parameters(), 1e-4, betas=(0.0, 0.9)),
              optim.Adam(D.parameters(), 1e-4, betas=(0.0, 0.9)), latent_shape=(8, 1, 1),
              loss="wgan-gp", d_steps=2)
    before = D[0].weight.numpy().copy()
    result = gan.train_step(mg.randn(6, 1, 16, 16).clamp(-1, 1))
    assert np.isfinite(list(result.values())).all() and result["penalty"] > 0
    assert not np.array_equal(before, D[0].weight.numpy())


def run_loop(out, steps, resume=False):
    mg.manual_seed(0)
    gan = small_gan("wgan_gp", pack=2, d_steps=3, instance_noise=0.05)
    loader = DataLoader(RingDataset(n=320, seed=0), batch_size=32, shuffle=True, drop_last=True,
                        seed=0)
    loop = TrainingLoop(gan, loader, out, steps=steps, checkpoint_every=0, progress=False)
    loop.run(resume=resume)
    return loop


def test_wgan_gp_resume_is_bit_exact(tmp_path):
    """The interpolation weights come from minigan's global generator, which the checkpoint holds:
    7 + resume + 7 steps (7 is mid-epoch) equal 14 straight ones, parameters and losses."""
    straight = run_loop(tmp_path / "a", 14)
    run_loop(tmp_path / "b", 7)
    mg.manual_seed(123)                                   # resume must not depend on this
    resumed = run_loop(tmp_path / "b", 14, resume=True)
    assert straight.history == resumed.history and len(straight.history["penalty"]) == 14
    for a, b in zip(straight.trainer.state_dict()["D"].values(),
                    resumed.trainer.state_dict()["D"].values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(straight.trainer.G.parameters(), resumed.trainer.G.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_translation_trainers_take_wgangp():
    from minigan.gans.cyclegan import CycleGAN
    from minigan.gans.pix2pix import Pix2Pix
    from minigan.models.patchgan import PatchDiscriminator
    from minigan.models.resnet import ResnetGenerator
    from minigan.models.unet import UnetGenerator
    mg.manual_seed(0)
    pix2pix = Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4, n_layers=2),
                      loss="wgangp")
    a, b = mg.randn(2, 3, 32, 32).clamp(-1, 1), mg.randn(2, 3, 32, 32).clamp(-1, 1)
    result = pix2pix.train_step(a, b)
    assert set(result) == {"d", "g_gan", "g_l1", "gp"} and result["gp"] > 0
    assert np.isfinite(list(result.values())).all()
    cyclegan = CycleGAN(ResnetGenerator(3, 3, 4, 1), ResnetGenerator(3, 3, 4, 1),
                        PatchDiscriminator(3, 4, n_layers=2, norm="instance"),
                        PatchDiscriminator(3, 4, n_layers=2, norm="instance"), loss="wgangp",
                        lambda_gp=5.0, pool_size=2)
    result = cyclegan.train_step(a[:1], b[:1])
    assert set(result) == {"d_x", "d_y", "g_gan", "cycle", "idt", "gp"} and result["gp"] > 0
    assert np.isfinite(list(result.values())).all()


def test_example_wgan_gp_runs_and_resumes(tmp_path):
    example = load_script("gan")
    common = ["--loss", "wgan-gp", "--pack", "1", "--batch-size", "32", "--n-critic", "2",
              "--lr-decay-steps", "12", "--no-progress"]
    metrics = example.main(["--steps", "12", "--out", str(tmp_path / "a")] + common)
    assert metrics["step"] == 12 and metrics["config"]["loss"] == "wgan_gp"
    example.main(["--steps", "5", "--out", str(tmp_path / "b")] + common)
    example.main(["--steps", "12", "--out", str(tmp_path / "b"), "--resume"] + common)
    a = io.load_checkpoint(tmp_path / "a" / "checkpoint.safetensors")
    b = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")
    assert len(a["loop"]["history"]["penalty"]) == 12
    for net in ("G", "D"):
        for key in a["trainer"][net]:
            np.testing.assert_array_equal(a["trainer"][net][key], b["trainer"][net][key])
