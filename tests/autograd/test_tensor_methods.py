"""Tensor habits from PyTorch: `.data` (a view that shares the array and the version counter), the
in-place methods, min/max/argmax/std/masked_fill, conversions, creation functions and the
top-level function forms. Gradients by finite differences, values against NumPy and PyTorch."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigan as mg
from minigan import nn
from minigan.autograd import gradcheck, gradgradcheck

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2 ** 16)


def distinct(shape, seed):
    """float64 leaf with values at least 0.05 apart (no ties for min/max)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return mg.tensor(((rng.permutation(n) - n / 2) * 0.05).reshape(shape), requires_grad=True)


# ---------------------------------------------------------------- .data
def test_data_is_a_view_on_the_parameter():
    layer = nn.Linear(3, 2)
    nn.init.normal_(layer.weight.data, 0.0, 0.02)             # the DCGAN idiom
    layer.weight.data.clamp_(-0.01, 0.01)                     # the WGAN idiom
    assert np.abs(layer.weight.numpy()).max() <= 0.01
    layer.weight.data.copy_(np.ones((2, 3)))
    layer.bias.data.fill_(0)
    layer.weight.data.mul_(3).add_(1).sub_(0.5, alpha=2).div_(3)
    np.testing.assert_allclose(layer.weight.numpy(), np.ones((2, 3)))
    layer.weight.data.normal_(0.0, 0.02)
    view = layer.weight.data
    assert view.array is layer.weight.array and not view.requires_grad and view.grad_fn is None
    view += 1                                                 # in place: no graph records it
    assert view.array is layer.weight.array
    assert isinstance(layer.weight.data, mg.Tensor) and not isinstance(view, nn.Parameter)


def test_data_setter_replaces_the_array():
    p = nn.Parameter(mg.zeros(2))
    p.data = mg.ones(2)
    assert p.numpy().tolist() == [1.0, 1.0] and p.requires_grad
    p.data = np.full(2, 3.0, dtype=np.float32)
    assert p.numpy().tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="data: expected a Tensor or an array, got list"):
        p.data = [1, 2]


def test_changes_through_data_and_detach_bump_the_shared_version():
    w = nn.Parameter(mg.randn(3))
    loss = (w * w).sum()                                      # Mul saved w
    w.data.clamp_(-0.1, 0.1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    y = w * 2
    y.detach()[0] = 5.0                                       # detach shares the counter, as torch
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        (y * y).sum().backward()
    with pytest.raises(RuntimeError, match="cannot be changed in place"):
        w.fill_(0)                                            # a leaf that requires grad
    with mg.no_grad():
        w.fill_(0)
    counts = mg.tensor([1, 2])
    counts += 1                                               # int stays int, in place
    assert counts.tolist() == [2, 3] and counts.dtype == np.int64
    with pytest.raises(TypeError, match="cannot be cast to this tensor's dtype int64"):
        counts += 0.5


# ---------------------------------------------------------------- reductions and selection
@given(shape=shapes, seed=seeds, keepdim=st.booleans(), data=st.data())
def test_max_min_with_dim_equal_numpy_and_gradcheck(shape, seed, keepdim, data):
    x = distinct(shape, seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    for name in ("max", "min"):
        values, indices = getattr(x, name)(dim, keepdim)
        ref = getattr(np, name)(x.numpy(), axis=dim, keepdims=keepdim)
        np.testing.assert_array_equal(values.numpy(), ref)
        arg = getattr(np, "arg" + name)(x.numpy(), axis=dim)
        arg = np.expand_dims(arg, dim) if keepdim else arg
        np.testing.assert_array_equal(indices.numpy(), arg)
        assert indices.dtype == np.int64
        assert gradcheck(lambda t: getattr(t, name)(dim, keepdim).values, (x,))
    np.testing.assert_array_equal(x.argmax().item(), np.argmax(x.numpy()))
    np.testing.assert_array_equal(x.argmin(dim).numpy(), np.argmin(x.numpy(), axis=dim))


@given(shape=shapes, seed=seeds, correction=st.sampled_from([None, 0, 1, 2]))
def test_std_gradcheck_and_value(shape, seed, correction):
    x = distinct(shape, seed)
    n = x.numel()
    ddof = 1 if correction is None else correction
    if n - ddof <= 0:
        return
    assert abs(x.std(correction=correction).item() - np.std(x.numpy(), ddof=ddof)) < 1e-12
    assert gradcheck(lambda t: t.std(correction=correction), (x,))
    assert gradgradcheck(lambda t: t.std(correction=correction), (x,))


@given(shape=shapes, seed=seeds)
def test_masked_fill_and_elementwise_max_gradcheck(shape, seed):
    x = distinct(shape, seed)
    mask = mg.tensor(np.random.default_rng(seed).random(shape) > 0.5)
    np.testing.assert_array_equal(x.masked_fill(mask, -7.0).numpy(),
                                  np.where(mask.numpy(), -7.0, x.numpy()))
    other = mg.tensor(distinct(shape, seed + 1).numpy() + 0.025, requires_grad=True)   # no ties
    assert gradcheck(lambda t, o: t.masked_fill(mask, 2.0) * mg.maximum(t, o) + mg.minimum(t, o),
                     (x, other))


def test_methods_equal_torch():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(0).standard_normal((3, 4, 5))
    x, t = mg.tensor(data), torch.tensor(data)
    pairs = [(x.max(1).values, t.max(1).values), (x.min(2, keepdim=True).indices,
                                                  t.min(2, keepdim=True).indices),
             (x.argmax(), t.argmax()), (x.argmin(0), t.argmin(0)), (x.std(), t.std()),
             (x.std(1, unbiased=False), t.std(1, unbiased=False)),
             (x.var(2, keepdim=True, correction=2), t.var(2, keepdim=True, correction=2)),
             (mg.amin(x, (0, 2)), torch.amin(t, (0, 2))), (x.long(), t.long()),
             (mg.clamp(x, -0.5, 0.5), torch.clamp(t, -0.5, 0.5))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert type(x.max(1)).__name__ == "ValuesIndices" and x.max(1)._fields == ("values", "indices")


# ---------------------------------------------------------------- conversions and creation
def test_conversions():
    x = mg.randn(2, 3)
    assert np.asarray(x).dtype == np.float32 and np.asarray(x).shape == (2, 3)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x.long().dtype == np.int64 and x.double().dtype == np.float64
    assert x.type() == "minigan.FloatTensor" and x.type(mg.float64).dtype == np.float64
    assert x.type("torch.LongTensor").dtype == np.int64
    assert x.is_cuda is False and x.contiguous() is x
    transposed = x.T
    assert transposed.contiguous().array.flags.c_contiguous
    assert float(x.sum()) == pytest.approx(x.sum().item()) and int(mg.tensor(3)) == 3


def test_creation_functions_equal_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(mg.arange(5), torch.arange(5)), (mg.arange(1, 2, 0.25),
                                                             torch.arange(1, 2, 0.25)),
                         (mg.arange(0, 10, 3), torch.arange(0, 10, 3)),
                         (mg.linspace(-1, 1, 7), torch.linspace(-1, 1, 7))]:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    x = mg.zeros(2, 3, dtype=mg.float64)
    for made in (mg.randn_like(x), mg.rand_like(x), mg.full_like(x, 2.0), mg.empty_like(x)):
        assert made.shape == (2, 3) and made.dtype == np.float64
    assert mg.empty(4, 2).shape == (4, 2)
    array = np.arange(3.0)
    shared = mg.from_numpy(array)
    array[0] = 9
    assert shared.dtype == np.float64 and shared[0].item() == 9


def test_function_forms_equal_methods():
    x = mg.randn(3, 4)
    assert mg.max(x, 1).indices.tolist() == x.max(1).indices.tolist()
    for fn in ("exp", "tanh", "sigmoid", "relu", "abs"):
        np.testing.assert_array_equal(getattr(mg, fn)(x).numpy(), getattr(x, fn)().numpy())
    assert mg.log(mg.exp(x)).shape == (3, 4) and mg.sqrt(x.abs()).shape == (3, 4)
    assert mg.mean(x, 0).shape == (4,) and mg.sum(x, 1, keepdim=True).shape == (3, 1)
    assert mg.matmul(x, x.T).shape == (3, 3) and mg.flatten(mg.randn(2, 3, 4), 1).shape == (2, 12)
    assert mg.is_tensor(x) and not mg.is_tensor(np.zeros(1))


def test_relu_in_place_outside_a_graph():
    x = mg.tensor([-1.0, 0.5, float("nan"), -0.0])
    version = x._version
    assert x.relu_() is x
    assert np.array_equal(x.numpy(), [0.0, 0.5, np.nan, 0.0], equal_nan=True) and x._version == version + 1
    y = mg.randn(3, requires_grad=True) * 2                  # in a graph: refused, not silently wrong
    with pytest.raises(RuntimeError, match="relu_: minigan records no graph"):
        y.relu_()
    with mg.no_grad():
        z = y * 1
        assert z.relu_().numpy().min() >= 0
