"""The kernel-backed ops of nn.functional: gradients vs central differences (float64), forward and every
gradient vs PyTorch (float32 and float64), running statistics, edge cases and error messages."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.autograd import gradcheck


def leaf(array, dtype=np.float64):
    return mg.tensor(np.asarray(array, dtype), requires_grad=True)


@st.composite
def conv_geometry(draw, transposed=False):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if transposed:
        op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
        size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        out = [(h - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1
               for h, ss, pp, dd, kk, o in zip(size, s, p, d, k, op)]
        if min(out) < 1:
            p = (0, 0)
    else:
        op = (0, 0)
        size = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, 3))
                     for kk, dd, pp in zip(k, d, p))
    return n, c_in, c_out, size, k, s, p, d, op, draw(st.booleans()), draw(st.integers(0, 2 ** 31))


@settings(deadline=None, max_examples=12)
@given(conv_geometry())
def test_conv2d_gradcheck(g):
    n, c_in, c_out, size, k, s, p, d, _, bias, seed = g
    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal((n, c_in) + size)), leaf(rng.standard_normal((c_out, c_in) + k))
    b = leaf(rng.standard_normal(c_out)) if bias else None
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p, d), (x, w, b))


@settings(deadline=None, max_examples=12)
@given(conv_geometry(transposed=True))
def test_conv_transpose2d_gradcheck(g):
    n, c_in, c_out, size, k, s, p, d, op, bias, seed = g
    rng = np.random.default_rng(seed)
    x, w = leaf(rng.standard_normal((n, c_in) + size)), leaf(rng.standard_normal((c_in, c_out) + k))
    b = leaf(rng.standard_normal(c_out)) if bias else None
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, 1, d), (x, w, b))


@settings(deadline=None, max_examples=10)
@given(st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(2, 3)), st.booleans(),
       st.booleans(), st.integers(0, 2 ** 31))
def test_norms_gradcheck(shape, affine, instance, seed):
    rng = np.random.default_rng(seed)
    x = leaf(rng.standard_normal(shape))
    w = leaf(rng.standard_normal(shape[1])) if affine else None
    b = leaf(rng.standard_normal(shape[1])) if affine else None
    if instance:
        assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    else:
        assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
        rm, rv = mg.tensor(rng.standard_normal(shape[1])), mg.tensor(rng.random(shape[1]) + 0.5)
        assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))


@settings(deadline=None, max_examples=10)
@given(st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.integers(0, 2 ** 31))
def test_activation_loss_pad_gradcheck(reduction, weighted, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5                     # keep finite differences away from the kink at 0
    assert gradcheck(lambda t: F.leaky_relu(t, 0.2), (leaf(x),))
    assert gradcheck(lambda t: F.pad(t, (1, 2, 3, 0), mode="reflect"), (leaf(x),))
    assert gradcheck(lambda t: F.pad(t, (1, -2, 0, 2), value=1.5), (leaf(x),))
    y = leaf(rng.random((4, 3)))
    w = mg.tensor(rng.random(3) + 0.5) if weighted else None
    p = leaf(rng.random((4, 3)) * 0.8 + 0.1)
    assert gradcheck(lambda p, y: F.binary_cross_entropy(p, y, w, reduction), (p, y))
    logits, pw = leaf(rng.standard_normal((4, 3)) * 3), mg.tensor(rng.random(3) * 2 + 0.1)
    assert gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, w, reduction, pos_weight=pw),
                     (logits, y))


# ------------------------------------------------------------------------------------------ vs PyTorch

def _torch_pair(array, torch, requires_grad=True):
    return leaf(array, array.dtype), torch.tensor(array, requires_grad=requires_grad)


def _compare(ours, theirs, pairs, dtype, torch):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(1).standard_normal(ours.shape).astype(dtype)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    for mine, other in pairs:
        scale = max(1.0, float(np.abs(other.grad.numpy()).max()))
        np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_gradients_match_torch(dtype):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    rng = np.random.default_rng(0)
    arr = lambda *shape: rng.standard_normal(shape).astype(dtype)   # noqa: E731
    for xs, ws, kwargs in [((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
                           ((1, 4, 5, 5), (2, 4, 5, 5), {}),                     # kernel equal to the input
                           ((3, 2, 1, 1), (5, 2, 1, 1), {}),                     # 1x1 spatial
                           ((2, 8, 6, 30), (3, 8, 7, 7), dict(padding=3))]:      # few outputs: direct path
        (x, xt), (w, wt), (b, bt) = (_torch_pair(a, torch) for a in (arr(*xs), arr(*ws), arr(ws[0])))
        _compare(F.conv2d(x, w, b, **kwargs), TF.conv2d(xt, wt, bt, **kwargs), [(x, xt), (w, wt), (b, bt)],
                 dtype, torch)
    for xs, ws, kwargs in [((2, 3, 4, 5), (3, 2, 4, 3), dict(stride=2, padding=1, output_padding=(1, 0))),
                           ((2, 5, 1, 1), (5, 4, 4, 4), {})]:                    # DCGAN's first layer
        (x, xt), (w, wt), (b, bt) = (_torch_pair(a, torch) for a in (arr(*xs), arr(*ws), arr(ws[1])))
        _compare(F.conv_transpose2d(x, w, b, **kwargs), TF.conv_transpose2d(xt, wt, bt, **kwargs),
                 [(x, xt), (w, wt), (b, bt)], dtype, torch)
    (x, xt), (w, wt), (b, bt) = (_torch_pair(a, torch) for a in (arr(4, 3, 5, 6), arr(3), arr(3)))
    _compare(F.instance_norm(x, weight=w, bias=b), TF.instance_norm(xt, weight=wt, bias=bt),
             [(x, xt), (w, wt), (b, bt)], dtype, torch)
    (x, xt) = _torch_pair(arr(6, 3), torch)
    (y, yt) = _torch_pair(rng.random((6, 3)).astype(dtype), torch, False)
    pw = rng.random(3).astype(dtype) + 0.5
    _compare(F.binary_cross_entropy_with_logits(x, y, pos_weight=mg.tensor(pw)),
             TF.binary_cross_entropy_with_logits(xt, yt, pos_weight=torch.tensor(pw)), [(x, xt)], dtype,
             torch)
    p = rng.random((6, 3)).astype(dtype)
    (q, qt) = _torch_pair(p, torch)
    _compare(F.binary_cross_entropy(q, y, reduction="none"),
             TF.binary_cross_entropy(qt, yt, reduction="none"), [(q, qt)], dtype, torch)


def test_batch_norm_running_statistics_follow_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    rng = np.random.default_rng(0)
    rm, rv = mg.zeros(3), mg.ones(3)
    rmt, rvt = torch.zeros(3), torch.ones(3)
    for step in range(3):
        x = (rng.standard_normal((4, 3, 2, 5)) * (step + 1) + step).astype(np.float32)
        F.batch_norm(mg.tensor(x), rm, rv, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), rmt, rvt, training=True, momentum=0.3)
        np.testing.assert_allclose(rm.numpy(), rmt.numpy(), rtol=1e-5)
        np.testing.assert_allclose(rv.numpy(), rvt.numpy(), rtol=1e-5)      # unbiased variance, as PyTorch
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(F.batch_norm(mg.tensor(x), rm, rv).numpy(),
                               TF.batch_norm(torch.tensor(x), rmt, rvt).numpy(), rtol=1e-5, atol=1e-6)
    rmi, rvi, rmit, rvit = mg.zeros(3), mg.ones(3), torch.zeros(3), torch.ones(3)
    F.instance_norm(mg.tensor(x), rmi, rvi, momentum=0.5)
    TF.instance_norm(torch.tensor(x), rmit, rvit, momentum=0.5)
    np.testing.assert_allclose(rvi.numpy(), rvit.numpy(), rtol=1e-5)
    np.testing.assert_allclose(F.instance_norm(mg.tensor(x), rmi, rvi, use_input_stats=False).numpy(),
                               TF.instance_norm(torch.tensor(x), rmit, rvit, use_input_stats=False).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_non_contiguous_and_unbatched_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 7, 2)).astype(np.float32)
    xs = mg.tensor(x).permute(0, 3, 1, 2)                       # (3, 2, 6, 7), a non-contiguous view
    w = mg.tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    want = F.conv2d(mg.tensor(np.ascontiguousarray(xs.numpy())), w, padding=1).numpy()
    np.testing.assert_allclose(F.conv2d(xs, w, padding=1).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(F.conv2d(xs[0], w, padding=1).numpy(), want[0], rtol=1e-6)
    xn = xs.numpy()
    np.testing.assert_allclose(F.leaky_relu(xs, 0.1).numpy(), np.where(xn > 0, xn, 0.1 * xn))


# ----------------------------------------------------------------------------------------------- errors

def test_bad_inputs_raise_clear_errors():
    x = mg.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match="expects the input to have 4 channels"):
        F.conv2d(x, mg.randn(5, 4, 3, 3))
    with pytest.raises(ValueError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(x, mg.randn(5, 3, 9, 9), padding=0)
    with pytest.raises(ValueError, match="expected input to be 3-D or 4-D"):
        F.conv2d(mg.randn(3, 8), mg.randn(5, 3, 3, 3))
    with pytest.raises(NotImplementedError, match="groups=1"):
        F.conv2d(x, mg.randn(6, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="expects the input to have 5 channels"):
        F.conv_transpose2d(x, mg.randn(5, 2, 4, 4))
    with pytest.raises(ValueError, match="output padding must be smaller"):
        F.conv_transpose2d(x, mg.randn(3, 2, 4, 4), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="target shape"):
        F.binary_cross_entropy_with_logits(mg.randn(4, 1), mg.ones(4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(mg.randn(1, 3, 1, 1), None, None, training=True)
    with pytest.raises(ValueError, match="padding size should be less than the corresponding input"):
        F.pad(mg.randn(1, 1, 2, 5), (1, 1, 2, 0), mode="reflect")


def test_reflect_padding_limit_is_torchs():
    """Reflect padding must be smaller than the padded dimension: where PyTorch raises, so do we."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    for pad in [(3, 3, 0, 0), (0, 0, 2, 2), (2, 2, 1, 1), (0, 3, 0, 0)]:
        x = np.zeros((1, 1, 2, 3), np.float32)
        try:
            TF.pad(torch.tensor(x), pad, mode="reflect")
            torch_raises = False
        except RuntimeError:
            torch_raises = True
        if torch_raises:
            with pytest.raises(ValueError, match="padding size should be less"):
                F.pad(mg.tensor(x), pad, mode="reflect")
        else:
            want = TF.pad(torch.tensor(x), pad, mode="reflect").shape
            assert F.pad(mg.tensor(x), pad, mode="reflect").shape == tuple(want)
