"""Batch norm, LeakyReLU, BCE and reflection-pad kernels: cpu == reference (both dtypes, serial and parallel
sizes), and reference == PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigan.kernels import cpu, reference
from minigan.kernels.cpu import activation

TOL = {np.float32: 1e-5, np.float64: 1e-12}
dtypes = st.sampled_from([np.float32, np.float64])
shapes4 = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(1, 7))


def close(got, want, dtype, scale=1.0):
    assert got.dtype == want.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=TOL[dtype] * 10, atol=TOL[dtype] * scale)


@settings(deadline=None)
@given(shapes4, dtypes, st.booleans(), st.booleans(), st.integers(0, 2 ** 31))
def test_batch_norm_matches_reference(shape, dtype, affine, training, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)         # an offset mean tests the variance pass
    mean, var = reference.batch_norm_stats(x)
    got_mean, got_var = cpu.batch_norm_stats(x)
    close(got_mean, mean, dtype, 10)
    close(got_var, var, dtype, 10)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    b = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    want = reference.batch_norm_apply(x, mean, invstd, w, b)
    close(cpu.batch_norm_apply(x, mean, invstd, w, b), want, dtype, 10)
    gy = rng.standard_normal(shape).astype(dtype)
    for got, want in zip(cpu.batch_norm_backward(gy, x, mean, invstd, w, training),
                         reference.batch_norm_backward(gy, x, mean, invstd, w, training)):
        close(got, want, dtype, 100)


@pytest.mark.parametrize("n", [7, activation.PARALLEL_MIN + 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_matches_reference_exactly(n, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    x[:3] = 0                                   # the gradient at 0 takes the negative side, as in PyTorch
    gy = rng.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(cpu.leaky_relu_forward(x, 0.2), reference.leaky_relu_forward(x, 0.2))
    np.testing.assert_array_equal(cpu.leaky_relu_backward(gy, x, 0.2),
                                  reference.leaky_relu_backward(gy, x, 0.2))
    # non-contiguous, 2-D
    x2, gy2 = x[: n // 2 * 2].reshape(-1, 2)[:, ::-1], gy[: n // 2 * 2].reshape(-1, 2)[:, ::-1]
    np.testing.assert_array_equal(cpu.leaky_relu_backward(gy2, x2, 0.01),
                                  reference.leaky_relu_backward(gy2, x2, 0.01))


@settings(deadline=None)
@given(st.tuples(st.integers(1, 6), st.integers(1, 5)), dtypes, st.sampled_from(["mean", "sum", "none"]),
       st.booleans(), st.booleans(), st.integers(0, 2 ** 31))
def test_bce_losses_match_reference(shape, dtype, reduction, weighted, pos_weighted, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(shape).astype(dtype)
    p.flat[0] = 0.0                              # log(0) clamps to -100
    y = rng.random(shape).astype(dtype)          # soft targets
    w = rng.random(shape[1:]).astype(dtype) * 2 if weighted else None
    pw = rng.random(shape[1:]).astype(dtype) * 3 if pos_weighted else None
    g = rng.standard_normal(shape if reduction == "none" else ()).astype(dtype)
    close(cpu.binary_cross_entropy_forward(p, y, w, reduction),
          reference.binary_cross_entropy_forward(p, y, w, reduction), dtype, 1e3)
    want = reference.binary_cross_entropy_backward(g, p, y, w, reduction)
    close(cpu.binary_cross_entropy_backward(g, p, y, w, reduction), want, dtype, float(np.abs(want).max()))
    x = (rng.standard_normal(shape) * 20).astype(dtype)      # large logits: the stable form matters
    close(cpu.binary_cross_entropy_with_logits_forward(x, y, w, pw, reduction),
          reference.binary_cross_entropy_with_logits_forward(x, y, w, pw, reduction), dtype, 100)
    close(cpu.binary_cross_entropy_with_logits_backward(g, x, y, w, pw, reduction),
          reference.binary_cross_entropy_with_logits_backward(g, x, y, w, pw, reduction), dtype, 10)


def test_bce_with_logits_is_finite_for_huge_logits():
    x = np.array([-1e4, -100.0, 100.0, 1e4], np.float32)
    y = np.array([1.0, 0.0, 1.0, 0.0], np.float32)
    loss = cpu.binary_cross_entropy_with_logits_forward(x, y, None, None, "none")
    np.testing.assert_allclose(loss, [1e4, 0, 0, 1e4], rtol=1e-6, atol=1e-30)
    grad = cpu.binary_cross_entropy_with_logits_backward(np.float32(1), x, y, None, None, "sum")
    assert np.isfinite(grad).all()


@settings(deadline=None)
@given(shapes4, dtypes, st.data())
def test_reflection_pad_matches_reference(shape, dtype, data):
    H, W = shape[2:]
    pad = (data.draw(st.integers(0, W - 1)), data.draw(st.integers(0, W - 1)),
           data.draw(st.integers(0, H - 1)), data.draw(st.integers(0, H - 1)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y = cpu.reflection_pad2d_forward(x, pad)
    np.testing.assert_array_equal(y, reference.reflection_pad2d_forward(x, pad))
    gy = rng.standard_normal(y.shape).astype(dtype)
    close(cpu.reflection_pad2d_backward(gy, pad), reference.reflection_pad2d_backward(gy, pad), dtype, 10)


def test_reference_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6))
    gy = rng.standard_normal(x.shape)
    mean, var = reference.batch_norm_stats(x)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.batch_norm(xt, None, None, wt, bt, training=True, eps=1e-5)
    yt.backward(torch.tensor(gy))
    invstd = 1 / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(reference.batch_norm_apply(x, mean, invstd, w, b), yt.detach().numpy(),
                               atol=1e-12)
    for got, t in zip(reference.batch_norm_backward(gy, x, mean, invstd, w, True), (xt, wt, bt)):
        np.testing.assert_allclose(got, t.grad.numpy(), atol=1e-12)

    xt = torch.tensor(x, requires_grad=True)
    F.leaky_relu(xt, 0.2).backward(torch.tensor(gy))
    np.testing.assert_allclose(reference.leaky_relu_backward(gy, x, 0.2), xt.grad.numpy())

    p, y = rng.random((6, 3)), rng.random((6, 3))
    pt = torch.tensor(p, requires_grad=True)
    lt = F.binary_cross_entropy(pt, torch.tensor(y), reduction="sum")
    lt.backward()
    np.testing.assert_allclose(reference.binary_cross_entropy_forward(p, y, None, "sum"), lt.item())
    np.testing.assert_allclose(reference.binary_cross_entropy_backward(1.0, p, y, None, "sum"),
                               pt.grad.numpy())

    pad = (2, 1, 0, 3)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.pad(xt, pad, mode="reflect")
    g = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(reference.reflection_pad2d_forward(x, pad), yt.detach().numpy())
    np.testing.assert_allclose(reference.reflection_pad2d_backward(g, pad), xt.grad.numpy(), atol=1e-12)


def test_dispatchers_mirror_reference_and_cpu_signatures():
    """kernels' written-out dispatchers, reference and cpu take the same arguments, name by name."""
    import inspect

    from minigan import kernels
    for name in kernels.NAMES:
        want = inspect.signature(getattr(reference, name))
        assert inspect.signature(getattr(kernels, name)) == want, name
        assert inspect.signature(getattr(cpu, name)) == want, name
