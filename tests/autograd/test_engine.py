"""The backward engine, Tensor basics, errors, gradcheck itself, and PyTorch as a second oracle."""
import numpy as np
import pytest

import minigan as mg
from minigan.autograd import Function, GradcheckError, gradcheck


def test_gradient_accumulates_over_paths_and_calls():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x * 3                                   # x used on two paths
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)
    (x * 2).sum().backward()                            # a second backward adds to .grad
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 5)


def test_diamond_graph_order_is_topological():
    x = mg.tensor(2.0, dtype=mg.float64, requires_grad=True)
    a = x * 3
    b = a.exp()
    c = a * b                                           # c depends on a directly and through b
    c.backward()
    expected = 3 * np.exp(6.0) + 6 * 3 * np.exp(6.0)
    assert x.grad.item() == pytest.approx(expected)


def test_deep_graph_needs_no_recursion():
    x = mg.tensor(1.0, dtype=mg.float64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 5000)


def test_graph_is_freed_unless_retained():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @mg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_retain_grad_and_detach():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert not h.detach().requires_grad


def test_float32_stays_float32():
    x = mg.randn(3, requires_grad=True)
    y = (x * 2.5 + 1) / 3 - x ** 2 + 1.5 ** x + x.sigmoid()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(np.zeros(2)).dtype == np.float64


def test_backward_without_grad_names_the_problem():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (mg.ones(2) * 2).sum().backward()
    with pytest.raises(RuntimeError, match="scalar"):
        (mg.ones(2, requires_grad=True) * 2).backward()


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*\(3\).*\(4\)"):
        mg.randn(2, 3) @ mg.randn(4, 5)


def test_mixing_devices_is_a_clear_error():
    x = mg.randn(2)

    class OnOtherDevice(mg.Tensor):
        __slots__ = ()
        device = property(lambda self: "cuda")
    other = OnOtherDevice(np.ones(2, dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"same device, got cpu \(argument 0\) and cuda"):
        x + other


def test_bad_device_string():
    with pytest.raises(ValueError, match="'cpu', 'cuda', 'auto'.*'tpu'"):
        mg.zeros(2, device="tpu")


def test_inplace_on_leaf_requires_no_grad():
    w = mg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        w.fill_(1.0)
    with mg.no_grad():
        w.fill_(1.0)
    assert w.numpy().tolist() == [1.0, 1.0]


class WrongSquare(Function):
    """x^2 with a deliberately wrong backward (3x instead of 2x)."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * g


def test_gradcheck_catches_a_wrong_backward_and_names_the_input():
    x = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    y = mg.randn(3, dtype=mg.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\) is wrong at index"):
        gradcheck(lambda a, b: a * WrongSquare.apply(b), (y, x), atol=1e-6)
    assert gradcheck(lambda a: WrongSquare.apply(a), (x,), raise_exception=False) is False


def test_seed_gives_same_numbers():
    mg.manual_seed(123)
    a = mg.randn(4, 4).numpy()
    mg.manual_seed(123)
    assert np.array_equal(a, mg.randn(4, 4).numpy())


# ---------------------------------------------------------------- PyTorch as a second oracle


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("seed", range(3))
def test_composite_expression_matches_torch(seed):
    torch = _torch()
    rng = np.random.default_rng(seed)
    a_np, b_np, c_np = rng.normal(size=(4, 5)), rng.uniform(0.5, 2, size=(5,)), rng.normal(size=(5, 3))

    def expression(lib, a, b, c):
        h = (a * b - b / 3) @ c                       # (4, 3)
        h = h.tanh() + (a.abs() + 1).log().sum(1, keepdim=True) * h.sigmoid()
        h = lib.cat([h, h.relu() ** 2], 1)            # (4, 6)
        v = h.var(0) + h.mean(0) - h.amax(0) + h[1:3, ::2].sum()
        return (lib.stack([v, v.exp().sqrt()], 0).clamp(-1.5, 3.0) * b[0]).sum()

    ours = [mg.tensor(x, requires_grad=True) for x in (a_np, b_np, c_np)]
    theirs = [torch.tensor(x, requires_grad=True) for x in (a_np, b_np, c_np)]
    out_ours, out_theirs = expression(mg, *ours), expression(torch, *theirs)
    out_ours.backward()
    out_theirs.backward()
    np.testing.assert_allclose(out_ours.item(), out_theirs.item(), rtol=1e-10)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_max_with_dim_returns_values_and_indices_like_torch():
    torch = _torch()
    data = np.random.default_rng(0).normal(size=(3, 4))
    values, indices = mg.tensor(data).max(dim=1)
    ref = torch.tensor(data).max(dim=1)
    np.testing.assert_allclose(values.numpy(), ref.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
