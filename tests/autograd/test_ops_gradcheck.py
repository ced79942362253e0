"""Every differentiable op: analytic gradients equal central finite differences (float64).

Shapes come from hypothesis (broadcasting included); values are kept away from the points where an
op is not differentiable (0 for abs/relu, the clamp bounds, ties for max).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigan as mg
from minigan.autograd import gradcheck

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def values(shape, low=-2.0, high=2.0, away_from=None, seed=0):
    """float64 values in [low, high], at least 0.05 from each point in `away_from`."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=shape)
    for p in away_from or ():
        close = np.abs(x - p) < 0.05
        x[close] = p + np.where(x[close] >= p, 0.1, -0.1)
    return mg.tensor(x, requires_grad=True)


seeds = st.integers(0, 2**16)
binary_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@given(shapes=binary_shapes, seed=seeds)
def test_binary_ops_with_broadcasting(op, shapes, seed):
    sa, sb = shapes.input_shapes
    a = values(sa, 0.5, 2.0, seed=seed)              # positive base for pow, away from 0 for div
    b = values(sb, 0.5, 2.0, seed=seed + 1)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}[op]
    assert gradcheck(fn, (a, b))


@pytest.mark.parametrize("op", ["radd", "rsub", "rmul", "rdiv", "rpow", "pow_scalar", "neg"])
@given(shape=shapes, seed=seeds)
def test_scalar_ops(op, shape, seed):
    a = values(shape, 0.5, 2.0, seed=seed)
    fn = {"radd": lambda x: 2.5 + x, "rsub": lambda x: 2.5 - x, "rmul": lambda x: 2.5 * x,
          "rdiv": lambda x: 2.5 / x, "rpow": lambda x: 1.7 ** x, "pow_scalar": lambda x: x ** 2.5,
          "neg": lambda x: -x}[op]
    assert gradcheck(fn, (a,))


@pytest.mark.parametrize("op,low,high,away", [
    ("exp", -2, 2, None), ("log", 0.1, 3, None), ("sqrt", 0.1, 3, None), ("abs", -2, 2, [0.0]),
    ("tanh", -3, 3, None), ("sigmoid", -6, 6, None), ("relu", -2, 2, [0.0]),
    ("leaky_relu", -2, 2, [0.0]), ("clamp", -2, 2, [-0.5, 0.7]),
])
@given(shape=shapes, seed=seeds)
def test_unary_ops(op, low, high, away, shape, seed):
    a = values(shape, low, high, away_from=away, seed=seed)
    fn = {"exp": lambda x: x.exp(), "log": lambda x: x.log(), "sqrt": lambda x: x.sqrt(),
          "abs": lambda x: x.abs(), "tanh": lambda x: x.tanh(), "sigmoid": lambda x: x.sigmoid(),
          "relu": lambda x: x.relu(),
          "leaky_relu": lambda x: mg.autograd.ops.LeakyReLU.apply(x, 0.2),
          "clamp": lambda x: x.clamp(-0.5, 0.7)}[op]
    assert gradcheck(fn, (a,))


@st.composite
def shape_and_dim(draw):
    shape = draw(shapes)
    dim = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                         st.just(tuple(range(len(shape))))))
    return shape, dim, draw(st.booleans())


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "var"])
@given(case=shape_and_dim(), seed=seeds)
def test_reductions(op, case, seed):
    shape, dim, keepdim = case
    n = int(np.prod(shape))
    # distinct values, so max has no ties; at least two per reduced group for var
    data = np.random.default_rng(seed).permutation(n).reshape(shape) * 0.37 + 0.1
    a = mg.tensor(data, requires_grad=True)
    if op == "var":
        reduced = np.prod([shape[d] for d in (range(len(shape)) if dim is None else
                                              np.atleast_1d(dim))])
        if reduced < 2:
            return
        fn = lambda x: x.var(dim=dim, keepdim=keepdim)
    else:
        fn = lambda x: getattr(x, op)(dim=dim, keepdim=keepdim)
    assert gradcheck(fn, (a,))


@given(m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4),
       batch=st.sampled_from([(), (2,), (2, 1)]), seed=seeds)
def test_matmul(m, k, n, batch, seed):
    a = values(batch + (m, k), seed=seed)
    b = values((k, n), seed=seed + 1)
    assert gradcheck(lambda x, y: x @ y, (a, b))
    v = values((k,), seed=seed + 2)
    assert gradcheck(lambda x, y: x @ y, (a, v))
    assert gradcheck(lambda y, x: y @ x, (v, b))


@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=3), seed=seeds)
def test_shape_ops(shape, seed):
    a = values(shape, seed=seed)
    perm = tuple(np.random.default_rng(seed).permutation(len(shape)))
    assert gradcheck(lambda x: x.reshape(-1) * mg.tensor(np.arange(a.numel(), dtype=np.float64)),
                     (a,))
    assert gradcheck(lambda x: x.permute(*perm), (a,))
    assert gradcheck(lambda x: x.transpose(0, -1), (a,))
    assert gradcheck(lambda x: x.flatten(1).unsqueeze(0).squeeze(0), (a,))
    assert gradcheck(lambda x: x[:, :1].expand(*shape), (a,))


@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4), seed=seeds)
def test_indexing(shape, seed):
    a = values(shape, seed=seed)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, shape[0], size=5)               # repeated indices must add up
    assert gradcheck(lambda x: x[1:, ::2], (a,))
    assert gradcheck(lambda x: x[picks], (a,))
    assert gradcheck(lambda x: x[..., -1], (a,))
    assert gradcheck(lambda x: x[mg.tensor(picks)], (a,))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), dim=st.integers(0, 2),
       n=st.integers(1, 3), seed=seeds)
def test_cat_and_stack(shape, dim, n, seed):
    dim = dim % len(shape)
    parts = [values(shape, seed=seed + i) for i in range(n)]
    assert gradcheck(lambda *xs: mg.cat(xs, dim=dim), parts)
    assert gradcheck(lambda *xs: mg.stack(xs, dim=dim), parts)


@given(shape=shapes, seed=seeds)
def test_where_and_constant_pad(shape, seed):
    a, b = values(shape, seed=seed), values(shape, seed=seed + 1)
    cond = np.random.default_rng(seed).random(shape) > 0.5
    assert gradcheck(lambda x, y: mg.where(cond, x, y), (a, b))
    widths = tuple((1, 2) for _ in shape)
    assert gradcheck(lambda x: mg.autograd.shape.Pad.apply(x, widths, 0.5), (a,))


def test_composite_expression():
    a, b = values((3, 4), seed=1), values((4,), 0.5, 2, seed=2)
    fn = lambda x, y: ((x * y).tanh() @ y.exp() / (1 + (x ** 2).sum())).sigmoid()
    assert gradcheck(fn, (a, b))
