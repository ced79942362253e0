"""The layers GAN code uses beyond convolutions: pooling, interpolation, group/layer norm, the
softmax family, pixel shuffle, replication padding, channel dropout.

Each op: a float64 finite-difference gradient check over hypothesis-drawn shapes and settings, a
second-derivative check (gradgradcheck) for the ops that sit inside gradient penalties, and forward
and backward against PyTorch (skipped without torch).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan import nn
from minigan.autograd import gradcheck, gradgradcheck

FEW = settings(max_examples=max(3, settings.default.max_examples // 4), deadline=None)
seeds = st.integers(0, 2 ** 16)


def distinct(shape, seed, requires_grad=True):
    """float64 values at least 0.05 apart (no ties for max pooling's finite differences)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = (rng.permutation(n) - n / 2) * 0.05 + rng.uniform(-0.01, 0.01, n)
    return mg.tensor(values.reshape(shape), requires_grad=requires_grad)


@st.composite
def pool_cases(draw, max_pool):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if max_pool else (1, 1)
    reach = [dd * (kk - 1) + 1 for dd, kk in zip(d, k)]
    h = draw(st.integers(max(1, reach[0] - 2 * p[0]), 6))
    w = draw(st.integers(max(1, reach[1] - 2 * p[1]), 6))
    return dict(shape=(draw(st.integers(1, 2)), 2, h, w), kernel_size=k, stride=s, padding=p,
                dilation=d, ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()), seed=draw(seeds))


def _pool(case, max_pool):
    args = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
                ceil_mode=case["ceil_mode"])
    if max_pool:
        return lambda x: F.max_pool2d(x, dilation=case["dilation"], **args)
    return lambda x: F.avg_pool2d(x, count_include_pad=case["count_include_pad"], **args)


@pytest.mark.parametrize("max_pool", [False, True])
@given(case=pool_cases(max_pool=True))
def test_pool_gradcheck(max_pool, case):
    x = distinct(case["shape"], case["seed"])
    assert gradcheck(_pool(case, max_pool), (x,))


@pytest.mark.parametrize("max_pool", [False, True])
@FEW
@given(case=pool_cases(max_pool=True))
def test_pool_gradgradcheck(max_pool, case):
    x = distinct(case["shape"], case["seed"])
    assert gradgradcheck(lambda t: _pool(case, max_pool)(t) * t.sum(), (x,))


@st.composite
def resize_cases(draw):
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    shape = (1, 2, draw(st.integers(2, 4)), draw(st.integers(2, 4)))
    if draw(st.booleans()):
        size, scale = (draw(st.integers(1, 7)), draw(st.integers(1, 7))), None
    else:
        size, scale = None, draw(st.sampled_from([2, 3, 0.5, 1.5, (2, 1.7)]))
    align = draw(st.booleans()) if mode == "bilinear" else None
    return dict(shape=shape, size=size, scale_factor=scale, mode=mode, align_corners=align,
                seed=draw(seeds))


def _resize(case):
    return lambda x: F.interpolate(x, size=case["size"], scale_factor=case["scale_factor"],
                                   mode=case["mode"], align_corners=case["align_corners"])


@given(case=resize_cases())
def test_interpolate_gradcheck(case):
    assert gradcheck(_resize(case), (distinct(case["shape"], case["seed"]),))


@FEW
@given(case=resize_cases())
def test_interpolate_gradgradcheck(case):
    x = distinct(case["shape"], case["seed"])
    assert gradgradcheck(lambda t: _resize(case)(t) * t.mean(), (x,))


OTHERS = {
    "adaptive_avg_pool2d": ((1, 2, 5, 7), lambda x: F.adaptive_avg_pool2d(x, (3, 2))),
    "adaptive_avg_pool2d_even": ((1, 2, 4, 6), lambda x: F.adaptive_avg_pool2d(x, (2, 3))),
    "group_norm": ((2, 4, 3, 2), lambda x: F.group_norm(x, 2, mg.tensor(np.linspace(0.5, 1.5, 4)),
                                                         mg.tensor(np.linspace(-1, 1, 4)))),
    "layer_norm": ((2, 3, 4), lambda x: F.layer_norm(x, (3, 4))),
    "softmax": ((3, 4), lambda x: F.softmax(x, 1)),
    "log_softmax": ((2, 3, 2), lambda x: F.log_softmax(x, 1)),
    "cross_entropy": ((3, 4), lambda x: F.cross_entropy(x, mg.tensor([0, 3, 1]))),
    "nll_loss_weighted": ((2, 3, 2), lambda x: F.nll_loss(
        x, mg.tensor([[0, 2], [1, -100]]), weight=mg.tensor([1.0, 2.0, 0.5], dtype=mg.float64))),
    "pixel_shuffle": ((1, 8, 2, 3), lambda x: F.pixel_shuffle(x, 2) * F.pixel_shuffle(x, 2)),
    "pixel_unshuffle": ((1, 2, 4, 2), lambda x: F.pixel_unshuffle(x, 2) ** 2),
    "replicate_pad": ((1, 2, 3, 2), lambda x: F.pad(x, (2, 1, 0, 3), mode="replicate") ** 2),
}
SECOND_ORDER = ["adaptive_avg_pool2d", "group_norm", "layer_norm", "softmax", "log_softmax",
                "cross_entropy", "replicate_pad"]


@pytest.mark.parametrize("name", list(OTHERS))
@FEW
@given(seed=seeds)
def test_other_ops_gradcheck(name, seed):
    shape, fn = OTHERS[name]
    assert gradcheck(fn, (distinct(shape, seed),))


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=2, deadline=None)
@given(seed=seeds)
def test_other_ops_gradgradcheck(name, seed):
    shape, fn = OTHERS[name]
    assert gradgradcheck(fn, (distinct(shape, seed),))


# ---------------------------------------------------------------- against PyTorch
def _torch_pair(fn_ours, fn_torch, shape, seed=0, dtype=np.float64, atol=1e-10):
    """Forward and input gradient of both on the same float input; returns nothing, asserts."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = fn_ours(ours), fn_torch(theirs)
    y, ty = (y[0], ty[0]) if isinstance(y, tuple) else (y, ty)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=atol)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(dtype)
    (y * mg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=atol)


@pytest.mark.parametrize("k,s,p,ceil,include", [
    (2, None, 0, False, True), (3, 2, 1, False, True), (3, 2, 1, True, False), (3, 2, 1, True, True),
    ((2, 3), (1, 2), (1, 1), True, False), (4, 3, 2, True, False), (3, 1, 1, False, False)])
def test_avg_pool_equals_torch(k, s, p, ceil, include):
    torch = pytest.importorskip("torch")
    _torch_pair(lambda x: F.avg_pool2d(x, k, s, p, ceil, include),
                lambda x: torch.nn.functional.avg_pool2d(x, k, s, p, ceil, include), (2, 3, 7, 8))


@pytest.mark.parametrize("k,s,p,d,ceil", [(2, None, 0, 1, False), (3, 2, 1, 1, False),
                                          (3, 2, 1, 1, True), ((2, 3), (2, 1), (1, 1), (2, 1), True),
                                          (3, 1, 1, 2, False)])
def test_max_pool_equals_torch(k, s, p, d, ceil):
    torch = pytest.importorskip("torch")
    _torch_pair(lambda x: F.max_pool2d(x, k, s, p, d, ceil),
                lambda x: torch.nn.functional.max_pool2d(x, k, s, p, d, ceil), (2, 3, 7, 8))
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 8))
    _, index = F.max_pool2d(mg.tensor(x), k, s, p, d, ceil, return_indices=True)
    _, t_index = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, d, ceil,
                                                return_indices=True)
    np.testing.assert_array_equal(index.numpy(), t_index.numpy())


@pytest.mark.parametrize("out", [1, (3, 2), (4, 8), (None, 3), 5])
def test_adaptive_avg_pool_equals_torch(out):
    torch = pytest.importorskip("torch")
    _torch_pair(lambda x: F.adaptive_avg_pool2d(x, out),
                lambda x: torch.nn.functional.adaptive_avg_pool2d(x, out), (2, 3, 7, 8))


@pytest.mark.parametrize("size,scale,mode,align", [
    (None, 2, "nearest", None), (None, 3, "nearest", None), ((5, 11), None, "nearest", None),
    (None, 0.5, "nearest", None), (None, 1.7, "nearest", None), ((3, 3), None, "nearest", None),
    (None, 2, "bilinear", False), (None, 2, "bilinear", True), ((5, 11), None, "bilinear", False),
    ((5, 11), None, "bilinear", True), (None, (0.5, 1.5), "bilinear", False), ((1, 1), None,
                                                                              "bilinear", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_equals_torch(size, scale, mode, align, dtype):
    torch = pytest.importorskip("torch")
    _torch_pair(lambda x: F.interpolate(x, size, scale, mode, align),
                lambda x: torch.nn.functional.interpolate(x, size, scale, mode, align),
                (2, 2, 6, 7), dtype=dtype, atol=1e-5 if dtype == np.float32 else 1e-10)


def test_norms_and_shuffles_equal_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    w, b = np.linspace(0.5, 1.5, 6), np.linspace(-1, 1, 6)
    _torch_pair(lambda x: F.group_norm(x, 3, mg.tensor(w), mg.tensor(b), 1e-5),
                lambda x: tf.group_norm(x, 3, torch.tensor(w), torch.tensor(b), 1e-5), (2, 6, 3, 4))
    _torch_pair(lambda x: F.layer_norm(x, (3, 4)), lambda x: tf.layer_norm(x, (3, 4)), (2, 6, 3, 4))
    _torch_pair(lambda x: F.pixel_shuffle(x, 2), lambda x: tf.pixel_shuffle(x, 2), (2, 8, 3, 4))
    _torch_pair(lambda x: F.pixel_unshuffle(x, 2), lambda x: tf.pixel_unshuffle(x, 2), (2, 2, 4, 6))
    _torch_pair(lambda x: F.pad(x, (1, 2, 3, 0), mode="replicate"),
                lambda x: tf.pad(x, (1, 2, 3, 0), mode="replicate"), (2, 2, 4, 5))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_softmax_losses_equal_torch(reduction, weighted, smoothing):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    target = np.array([[0, 3, 1], [2, -100, 3]])                         # (N, d1) with one ignored
    weight = np.array([1.0, 2.0, 0.5, 3.0]) if weighted else None
    ours_w = None if weight is None else mg.tensor(weight)
    theirs_w = None if weight is None else torch.tensor(weight)
    _torch_pair(lambda x: F.cross_entropy(x, mg.tensor(target), ours_w, reduction=reduction,
                                          label_smoothing=smoothing),
                lambda x: tf.cross_entropy(x, torch.tensor(target), theirs_w, reduction=reduction,
                                           label_smoothing=smoothing), (2, 4, 3))
    _torch_pair(lambda x: F.nll_loss(F.log_softmax(x, 1), mg.tensor(target[:, 0]), ours_w,
                                     reduction=reduction),
                lambda x: tf.nll_loss(tf.log_softmax(x, 1), torch.tensor(target[:, 0]), theirs_w,
                                      reduction=reduction), (2, 4))
    probs = np.random.default_rng(5).dirichlet(np.ones(4), size=3)
    _torch_pair(lambda x: F.cross_entropy(x, mg.tensor(probs), ours_w, reduction=reduction,
                                          label_smoothing=smoothing),
                lambda x: tf.cross_entropy(x, torch.tensor(probs), theirs_w, reduction=reduction,
                                           label_smoothing=smoothing), (3, 4))
    _torch_pair(lambda x: F.softmax(x * 30, 0), lambda x: tf.softmax(x * 30, 0), (5, 3))


def test_dropout2d_zeroes_whole_channels():
    x = mg.ones(4, 6, 3, 3)
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(4, 6, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(2) == per_channel.max(2)).all()           # one draw per channel
    assert F.dropout2d(x, 0.5, training=False) is x


def test_bad_arguments_raise_one_clear_line():
    x = mg.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="pad should be at most half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(x, 3)
    with pytest.raises(IndexError, match=r"target values must be in \[0, 3\]"):
        F.cross_entropy(mg.randn(2, 4), mg.tensor([0, 4]))
    with pytest.raises(ValueError, match="channels"):
        nn.PixelShuffle(2)(mg.randn(1, 3, 2, 2))


def test_a_model_of_the_new_modules_equals_torch():
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(m.Conv2d(3, 8, 3, padding=1), m.GroupNorm(4, 8), m.MaxPool2d(2),
                            m.Upsample(scale_factor=2, mode="bilinear"), m.ReplicationPad2d(1),
                            m.AvgPool2d(3, stride=1, count_include_pad=False), m.LayerNorm((8, 6, 6)),
                            m.PixelShuffle(2), m.AdaptiveAvgPool2d(3), m.Dropout2d(0.3),
                            m.Flatten(), m.Linear(18, 5), m.LogSoftmax(dim=1), m.Identity())
    ours, theirs = build(nn).double().eval(), build(torch.nn).double().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    target = np.array([1, 4])
    loss = nn.NLLLoss()(ours(mg.tensor(x)), mg.tensor(target))
    t_loss = torch.nn.NLLLoss()(theirs(torch.tensor(x)), torch.tensor(target))
    assert abs(loss.item() - t_loss.item()) < 1e-10
    loss.backward(), t_loss.backward()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=name)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
