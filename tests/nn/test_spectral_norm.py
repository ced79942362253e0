"""nn.utils: spectral_norm (keys, power iteration, gradients, eval mode, removal) against PyTorch,
and gradient clipping by norm and by value."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan import nn
from minigan.autograd import gradcheck, gradgradcheck


def test_state_dict_keys_and_shapes_are_torchs():
    conv = nn.utils.spectral_norm(nn.Conv2d(3, 8, 4, 2, 1))
    sd = conv.state_dict()
    assert list(sd) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert sd["weight_u"].shape == (8,) and sd["weight_v"].shape == (3 * 4 * 4,)
    up = nn.utils.spectral_norm(nn.ConvTranspose2d(8, 3, 4, 2, 1))      # dim 1: (in, out, kh, kw)
    assert up.weight_u.shape == (3,) and up.weight_v.shape == (8 * 4 * 4,)
    assert [n for n, _ in conv.named_parameters()] == ["bias", "weight_orig"]


@pytest.mark.parametrize("make", [lambda m: m.Linear(5, 4), lambda m: m.Conv2d(3, 4, 3),
                                  lambda m: m.ConvTranspose2d(3, 2, 3)])
def test_training_and_eval_steps_equal_torch(make):
    torch = pytest.importorskip("torch")
    ours = nn.utils.spectral_norm(make(nn), n_power_iterations=2).double()
    theirs = torch.nn.utils.spectral_norm(make(torch.nn), n_power_iterations=2).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    shape = (2, 5) if isinstance(ours, nn.Linear) else (2, 3, 5, 5)
    for step in range(3):
        if step == 2:
            ours.eval(), theirs.eval()
        x = np.random.default_rng(step).standard_normal(shape)
        y, ty = ours(mg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        for key in ("weight_u", "weight_v"):
            np.testing.assert_allclose(getattr(ours, key).numpy(), getattr(theirs, key).numpy(),
                                       rtol=1e-10, atol=1e-12)
        ours.zero_grad(), theirs.zero_grad()
        (y ** 2).sum().backward()
        (ty ** 2).sum().backward()
        np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(),
                                   rtol=1e-8, atol=1e-10)


def test_sigma_converges_to_the_largest_singular_value():
    layer = nn.utils.spectral_norm(nn.Linear(6, 4), n_power_iterations=30)
    layer(mg.randn(1, 6))
    assert abs(np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0] - 1) < 1e-4


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_weight_orig_gradcheck_and_gradgradcheck(seed):
    layer = nn.utils.spectral_norm(nn.Linear(3, 2)).double()
    layer.eval()                          # u, v fixed: the weight is a function of weight_orig alone
    w = mg.tensor(np.random.default_rng(seed).standard_normal((2, 3)), requires_grad=True)
    x = mg.randn(4, 3, dtype=mg.float64)

    def run(weight):
        layer.weight_orig.array[...] = weight.array
        fn = layer._forward_pre_hooks[0]
        normalised = weight / (mg.tensor(layer.weight_u.array) *
                               (fn.matrix(weight) @ mg.tensor(layer.weight_v.array))).sum()
        return x @ normalised.T
    assert gradcheck(run, (w,))
    assert gradgradcheck(run, (w,))


def test_remove_and_deepcopy():
    conv = nn.utils.spectral_norm(nn.Conv2d(2, 3, 3))
    twin = copy.deepcopy(conv)
    x = mg.randn(1, 2, 5, 5)
    np.testing.assert_allclose(twin(x).numpy(), conv(x).numpy(), rtol=1e-6)
    conv.eval()
    before = conv(x).numpy()
    nn.utils.remove_spectral_norm(conv)
    assert list(conv.state_dict()) == ["bias", "weight"] and isinstance(conv.weight, nn.Parameter)
    np.testing.assert_allclose(conv(x).numpy(), before, rtol=1e-6)
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(nn.utils.spectral_norm(nn.Linear(2, 2)))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.1, 1e3])
def test_clip_grad_norm_equals_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate([(3, 4), (5,)])]
    ours = [nn.Parameter(mg.zeros(g.shape, dtype=mg.float64)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = mg.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert abs(total.item() - t_total.item()) < 1e-10
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    nn.utils.clip_grad_value_(ours, 0.05)
    torch.nn.utils.clip_grad_value_(theirs, 0.05)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_nonfinite_raises_when_asked():
    p = nn.Parameter(mg.zeros(2))
    p.grad = mg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0
