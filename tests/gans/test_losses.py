"""Adversarial losses: each equals its formula (NumPy, float64), PyTorch's composition where torch
imports, gradients pass gradcheck, and bad names / label values raise clear errors; WGAN's weight
clipping. (The gradient penalties are tested in test_gradient_penalties.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
from minigan.autograd import gradcheck
from minigan import nn
from minigan.gans.losses import (LOSSES, PLAIN_LOSSES, check_loss, clip_weights_,
                                 discriminator_loss, generator_loss)

NO_LABELS = ("hinge", "wgan", "wgan_gp")     # no targets, so no label smoothing


def _softplus(x):
    return np.logaddexp(0.0, x)


def _expected(loss, real, fake, real_label=1.0):
    """(d_loss, g_loss) from the formulas in losses.py's docstring, in float64 NumPy (without the
    penalties, which the trainer adds)."""
    if loss in ("wgan", "wgan_gp"):
        return fake.mean() - real.mean(), -fake.mean()
    if loss == "hinge":
        return np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean(), -fake.mean()
    if loss == "lsgan":
        d = 0.5 * ((real - real_label) ** 2).mean() + 0.5 * (fake ** 2).mean()
        return d, 0.5 * ((fake - 1) ** 2).mean()
    # BCE with logits: y * softplus(-x) + (1 - y) * softplus(x)
    d = (real_label * _softplus(-real) + (1 - real_label) * _softplus(real)).mean() \
        + _softplus(fake).mean()
    if loss == "vanilla":       # log(1 - sigmoid(f)) = -softplus(f)
        return d, -_softplus(fake).mean()
    return d, _softplus(-fake).mean()   # non-saturating: -log sigmoid(f)


logits = st.lists(st.floats(-30, 30), min_size=1, max_size=16).map(lambda v: np.array(v)[:, None])


@settings(deadline=None)
@given(real=logits, fake=logits, loss=st.sampled_from(LOSSES),
       real_label=st.sampled_from([1.0, 0.9]))
def test_losses_match_their_formulas(real, fake, loss, real_label):
    if loss in NO_LABELS:
        real_label = 1.0
    d_want, g_want = _expected(loss, real, fake, real_label)
    r, f = mg.tensor(real), mg.tensor(fake)          # float64
    d = discriminator_loss(r, f, loss, real_label=real_label)
    g = generator_loss(f, loss)
    assert d.shape == () and g.shape == ()
    np.testing.assert_allclose(d.item(), d_want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.item(), g_want, rtol=1e-10, atol=1e-12)


def test_vanilla_generator_saturates_where_non_saturating_does_not():
    """Goodfellow et al.'s point: when D confidently rejects fakes (logit -10), log(1 - D(G(z)))
    has a vanishing gradient; -log D(G(z)) does not."""
    grads = {}
    for loss in ("vanilla", "non_saturating"):
        f = mg.tensor([[-10.0]], dtype=mg.float64, requires_grad=True)
        generator_loss(f, loss).backward()
        grads[loss] = abs(f.grad.item())
    assert grads["vanilla"] < 1e-4
    assert grads["non_saturating"] > 0.99


@pytest.mark.parametrize("loss", LOSSES)
def test_gradcheck_through_losses(loss):
    rng = np.random.default_rng(0)
    real = mg.tensor(rng.normal(size=(6, 1)) * 2 + 0.3, requires_grad=True)
    fake = mg.tensor(rng.normal(size=(6, 1)) * 2 - 0.3, requires_grad=True)
    label = 1.0 if loss in NO_LABELS else 0.9
    assert gradcheck(lambda r, f: discriminator_loss(r, f, loss, real_label=label), (real, fake))
    assert gradcheck(lambda f: generator_loss(f, loss), (fake,))


def test_losses_take_any_logit_shape():
    """A PatchGAN's (B, 1, h, w) score map is averaged like an MLP's (B, 1)."""
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(2, 1, 3, 3))
    d = discriminator_loss(mg.tensor(real), mg.tensor(fake), "lsgan").item()
    np.testing.assert_allclose(d, _expected("lsgan", real, fake)[0], rtol=1e-12)


@pytest.mark.parametrize("loss", ["vanilla", "non_saturating", "lsgan"])
def test_losses_match_torch(loss):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(8, 1)) * 3, rng.normal(size=(8, 1)) * 3
    r_t = torch.tensor(real, requires_grad=True)
    f_t = torch.tensor(fake, requires_grad=True)
    if loss == "lsgan":
        d_t = 0.5 * tF.mse_loss(r_t, torch.full_like(r_t, 0.9)) + \
            0.5 * tF.mse_loss(f_t, torch.zeros_like(f_t))
        g_t = 0.5 * tF.mse_loss(f_t, torch.ones_like(f_t))
    else:
        bce = tF.binary_cross_entropy_with_logits
        d_t = bce(r_t, torch.full_like(r_t, 0.9)) + bce(f_t, torch.zeros_like(f_t))
        g_t = -bce(f_t, torch.zeros_like(f_t)) if loss == "vanilla" else \
            bce(f_t, torch.ones_like(f_t))
    (d_t + g_t).backward()

    r = mg.tensor(real, requires_grad=True)
    f = mg.tensor(fake, requires_grad=True)
    d = discriminator_loss(r, f, loss, real_label=0.9)
    g = generator_loss(f, loss)
    (d + g).backward()
    np.testing.assert_allclose(d.item(), d_t.item(), rtol=1e-12)
    np.testing.assert_allclose(g.item(), g_t.item(), rtol=1e-12)
    np.testing.assert_allclose(r.grad.numpy(), r_t.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(f.grad.numpy(), f_t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_loss_names_and_errors():
    assert check_loss("non-saturating") == "non_saturating"
    assert check_loss("LSGAN") == "lsgan"
    assert check_loss("wgan-gp") == check_loss("wgangp") == "wgan_gp"   # the CycleGAN repo's name
    assert PLAIN_LOSSES == ("vanilla", "non_saturating", "lsgan", "hinge")
    with pytest.raises(ValueError, match="expected one of .*got 'wasserstein'"):
        generator_loss(mg.zeros(2, 1), "wasserstein")
    with pytest.raises(ValueError, match=r"expected one of 'vanilla', .*'hinge', got 'wgan'"):
        check_loss("wgan", PLAIN_LOSSES)
    with pytest.raises(ValueError, match="real_label must be in"):
        discriminator_loss(mg.zeros(2, 1), mg.zeros(2, 1), real_label=1.5)
    with pytest.raises(ValueError, match="hinge"):
        discriminator_loss(mg.zeros(2, 1), mg.zeros(2, 1), "hinge", real_label=0.9)
    with pytest.raises(ValueError, match="does not apply to the wgan_gp loss"):
        discriminator_loss(mg.zeros(2, 1), mg.zeros(2, 1), "wgan-gp", real_label=0.9)


def test_wasserstein_losses_are_the_critic_difference():
    """Arjovsky et al.: the critic maximises mean D(x) - mean D(G(z)) (minimises its negative);
    G minimises -mean D(G(z)). Scores of any shape, no sigmoid."""
    real = mg.tensor([[3.0], [1.0]], dtype=mg.float64)
    fake = mg.tensor([[[[-1.0, 0.5]]]], dtype=mg.float64)                 # (1, 1, 1, 2) map
    for loss in ("wgan", "wgan_gp"):
        assert discriminator_loss(real, fake, loss).item() == pytest.approx(-0.25 - 2.0)
        assert generator_loss(fake, loss).item() == pytest.approx(0.25)


def test_clip_weights_clamps_every_parameter_in_place():
    mg.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2), nn.Linear(4, 1))
    arrays = [p.array for p in D.parameters()]
    before = [a.copy() for a in arrays]
    assert clip_weights_(D, 0.05) is D
    for array, old, p in zip(arrays, before, D.parameters()):
        assert p.array is array                                       # the same arrays, changed
        np.testing.assert_array_equal(array, np.clip(old, -0.05, 0.05))
        assert p.requires_grad and p.grad is None
    assert np.abs(D[1].weight.numpy()).max() == pytest.approx(0.05)  # BN scales (1) clipped too
    np.testing.assert_array_equal(D[1].running_var.numpy(), 1.0)      # buffers are not parameters
    scores = D(mg.randn(5, 3))                                          # saves the weights
    clip_weights_(D, 0.01)
    with pytest.raises(RuntimeError, match="in-place operation"):
        scores.sum().backward()
