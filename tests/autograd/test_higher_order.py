"""Higher-order gradients: every op's second derivative against central differences of its analytic
gradient (gradgradcheck, float64, hypothesis), Hessian-vector products against PyTorch, a gradient
penalty through a conv discriminator against PyTorch, and the engine's grad()/create_graph semantics.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigan as mg
import minigan.nn.functional as F
from minigan.autograd import Function, GradcheckError, grad, gradgradcheck

# a second derivative costs (inputs + grad_outputs) x 2 graph builds per element: fewer examples
FEW = settings(max_examples=max(4, settings.default.max_examples // 4), deadline=None)
seeds = st.integers(0, 2 ** 16)
small = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def values(shape, low=-2.0, high=2.0, away_from=(), seed=0):
    """A float64 leaf with values in [low, high], at least 0.05 from each point in `away_from`."""
    x = np.random.default_rng(seed).uniform(low, high, size=shape)
    for p in away_from:
        close = np.abs(x - p) < 0.05
        x[close] = p + np.where(x[close] >= p, 0.1, -0.1)
    return mg.tensor(x, requires_grad=True)


# ---------------------------------------------------------------- ops.py and shape.py

@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@FEW
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
       seed=seeds)
def test_binary_ops(op, shapes, seed):
    a = values(shapes.input_shapes[0], 0.5, 2.0, seed=seed)
    b = values(shapes.input_shapes[1], 0.5, 2.0, seed=seed + 1)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}[op]
    assert gradgradcheck(fn, (a, b))


UNARY = {
    "exp": (lambda x: x.exp(), -2, 2, ()), "log": (lambda x: x.log(), 0.2, 3, ()),
    "sqrt": (lambda x: x.sqrt(), 0.2, 3, ()), "abs": (lambda x: x.abs(), -2, 2, (0.0,)),
    "tanh": (lambda x: x.tanh(), -2, 2, ()), "sigmoid": (lambda x: x.sigmoid(), -4, 4, ()),
    "relu": (lambda x: x.relu(), -2, 2, (0.0,)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), -2, 2, (0.0,)),
    "leaky_relu_slow": (lambda x: mg.autograd.ops.LeakyReLU.apply(x, 0.2), -2, 2, (0.0,)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7) * x, -2, 2, (-0.5, 0.7)),
    "rpow": (lambda x: 1.7 ** x, -2, 2, ()), "rdiv": (lambda x: 2.5 / x, 0.5, 2, ()),
    "pow_scalar": (lambda x: x ** 2.5, 0.5, 2, ()), "rsub_neg": (lambda x: 2.5 - (-x) * x, -2, 2, ()),
    "cast": (lambda x: x.float().double() * x, -2, 2, ()),
}


@pytest.mark.parametrize("op", list(UNARY))
@FEW
@given(shape=small, seed=seeds)
def test_unary_ops(op, shape, seed):
    fn, low, high, away = UNARY[op]
    # a float32 round trip (cast) needs a larger step than float32's rounding
    tolerance = dict(eps=1e-3, atol=1e-3) if op == "cast" else {}
    assert gradgradcheck(fn, (values(shape, low, high, away, seed),), **tolerance)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "var"])
@FEW
@given(shape=small, seed=seeds, keepdim=st.booleans(), use_dim=st.booleans())
def test_reductions(op, shape, seed, keepdim, use_dim):
    data = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.37 + 0.1
    a = mg.tensor(data, requires_grad=True)                  # distinct values: no ties for amax
    dim = len(shape) - 1 if use_dim else None
    if op == "var" and (shape[-1] if use_dim else a.numel()) < 2:
        return
    # square the result so that the second derivative is not zero for the linear reductions
    assert gradgradcheck(lambda x: getattr(x, op)(dim=dim, keepdim=keepdim) ** 2, (a,))


@FEW
@given(m=st.integers(1, 3), k=st.integers(1, 3), n=st.integers(1, 3),
       batch=st.sampled_from([(), (2,)]), seed=seeds)
def test_matmul(m, k, n, batch, seed):
    a, b, v = values(batch + (m, k), seed=seed), values((k, n), seed=seed + 1), values((k,), seed=seed + 2)
    assert gradgradcheck(lambda x, y: x @ y, (a, b))
    assert gradgradcheck(lambda x, y: (x @ y) ** 2, (a, v))


@FEW
@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=3), seed=seeds)
def test_shape_indexing_and_joining(shape, seed):
    a, b = values(shape, seed=seed), values(shape, seed=seed + 1)
    picks = np.random.default_rng(seed).integers(0, shape[0], size=4)        # repeats add up
    cond = np.random.default_rng(seed).random(shape) > 0.5
    widths = tuple((1, 0) for _ in shape)
    square = lambda t: t * t                                                   # noqa: E731
    assert gradgradcheck(lambda x: square(x.permute(*reversed(range(len(shape)))).reshape(-1)), (a,))
    assert gradgradcheck(lambda x: square(x[:, :1].expand(*shape)), (a,))
    assert gradgradcheck(lambda x: square(x[picks]) + square(x[1:, ::2]).sum(), (a,))
    assert gradgradcheck(lambda x, y: square(mg.cat([x, y], 1)) + square(mg.stack([x, y], 0)).sum(),
                         (a, b))
    assert gradgradcheck(lambda x, y: square(mg.where(cond, x, y)), (a, b))
    assert gradgradcheck(lambda x: square(mg.autograd.shape.Pad.apply(x, widths, 0.5)), (a,))
    assert gradgradcheck(lambda x: square(F.pad(x, (1, -1))), (a,))


def test_embedding_and_dropout():
    weight = values((5, 3), seed=1)
    index = mg.tensor(np.array([[0, 4], [4, 2]]))
    assert gradgradcheck(lambda w: F.embedding(index, w) ** 2, (weight,))
    x = values((4, 5), seed=2)

    def dropped(t):
        mg.manual_seed(3)                      # the same mask on every call
        return F.dropout(t, 0.5) ** 2
    assert gradgradcheck(dropped, (x,))


# ---------------------------------------------------------------- kernel-backed ops

@FEW
@given(k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1), d=st.integers(1, 2),
       extra=st.integers(0, 2), bias=st.booleans(), seed=seeds)
def test_conv2d(k, s, p, d, extra, bias, seed):
    size = d * (k - 1) + 1 + extra                      # the kernel fits
    x, w = values((2, 2, size, size), seed=seed), values((3, 2, k, k), seed=seed + 1)
    b = values((3,), seed=seed + 2) if bias else None
    args = (x, w) + ((b,) if bias else ())
    assert gradgradcheck(lambda x, w, *b: F.conv2d(x, w, *b, stride=s, padding=p, dilation=d), args)


@FEW
@given(k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1), d=st.integers(1, 2),
       op=st.integers(0, 1), size=st.integers(2, 3), seed=seeds)
def test_conv_transpose2d(k, s, p, d, op, size, seed):
    op = op if op < max(s, d) else 0
    if (size - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        p = 0
    x, w, b = values((1, 2, size, size), seed=seed), values((2, 3, k, k), seed=seed + 1), \
        values((3,), seed=seed + 2)
    assert gradgradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=s, padding=p,
                                                            output_padding=op, dilation=d), (x, w, b))


@pytest.mark.parametrize("mode", ["batch_train", "batch_eval", "instance", "instance_no_affine"])
@FEW
@given(n=st.integers(2, 3), size=st.integers(2, 3), seed=seeds)
def test_norms(mode, n, size, seed):
    x = values((n, 2, size, size), seed=seed)
    w, b = values((2,), 0.5, 2, seed=seed + 1), values((2,), seed=seed + 2)
    mean, var = mg.tensor(np.array([0.1, -0.2])), mg.tensor(np.array([0.5, 2.0]))
    fns = {
        "batch_train": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        "batch_eval": lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=False) ** 2,
        "instance": lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        "instance_no_affine": lambda x, w, b: F.instance_norm(x) * w.reshape(1, 2, 1, 1) + b.sum(),
    }
    assert gradgradcheck(fns[mode], (x, w, b), atol=1e-4)


@FEW
@given(shape=small, seed=seeds, reduction=st.sampled_from(["mean", "sum", "none"]),
       weighted=st.booleans())
def test_losses(shape, seed, reduction, weighted):
    p, y = values(shape, 0.1, 0.9, seed=seed), values(shape, 0.0, 1.0, seed=seed + 1)
    logits = values(shape, seed=seed + 2)
    weight = mg.tensor(np.random.default_rng(seed).uniform(0.5, 2, shape)) if weighted else None
    pos_weight = mg.tensor(np.random.default_rng(seed + 3).uniform(0.5, 2, shape))
    assert gradgradcheck(lambda p, y: F.binary_cross_entropy(p, y, weight, reduction), (p, y))
    assert gradgradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight, reduction), (logits, y))
    assert gradgradcheck(lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, weight, reduction, pos_weight=pos_weight), (logits, y))
    assert gradgradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (logits, y))
    # l1's second derivative is zero away from the kink: check it there
    assert gradgradcheck(lambda x, y: F.l1_loss(x, y + 5, reduction=reduction) ** 2, (logits, y))


@FEW
@given(size=st.integers(3, 5), pads=st.tuples(*[st.integers(0, 2)] * 4), seed=seeds)
def test_reflection_pad(size, pads, seed):
    x = values((1, 2, size, size), seed=seed)
    assert gradgradcheck(lambda t: F.pad(t, pads, mode="reflect") ** 2, (x,))


def test_third_order_through_a_conv():
    x, w = values((1, 1, 4, 4), seed=1), values((2, 1, 3, 3), seed=2)

    def d_norm_d_w(x, w):             # d/dw of a gradient's norm; gradcheck then differentiates again
        with mg.enable_grad():
            (gx,) = grad((F.conv2d(x, w, padding=1) ** 3).sum(), x, create_graph=True)
            return grad((gx * gx).sum(), w, create_graph=True)[0]
    assert mg.autograd.gradcheck(d_norm_d_w, (x, w), atol=1e-4)


# ---------------------------------------------------------------- gradgradcheck itself

class SquareWithConstantBackward(Function):
    """x^2 whose backward is right (2 x g) but detached from x: a wrong second derivative."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * mg.tensor(2 * x.data)


def test_gradgradcheck_catches_a_wrong_double_backward():
    x = values((3,), seed=4)
    assert mg.autograd.gradcheck(SquareWithConstantBackward.apply, (x,))     # first order is right
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(SquareWithConstantBackward.apply, (x,))
    assert gradgradcheck(SquareWithConstantBackward.apply, (x,), raise_exception=False) is False


# ---------------------------------------------------------------- engine semantics and errors

def test_grad_returns_without_touching_dot_grad_and_frees_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = grad(y, x)
    assert x.grad is None and not g.requires_grad
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match="second time"):
        grad(y, x)


def test_create_graph_retains_the_graph_and_grads_are_differentiable():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = grad(y, x, create_graph=True)
    (h,) = grad(g.sum(), x)                             # 6 x
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])
    (g2,) = grad(y, x)                                  # the first graph was retained
    np.testing.assert_allclose(g2.numpy(), [3.0, 12.0])


def test_backward_create_graph_and_inputs():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    w = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    ((x ** 2) * w).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gx = x.grad
    x.grad = None
    gx.sum().backward(inputs=[w])                       # d/dw sum(2 x w) = 2 x
    np.testing.assert_allclose(w.grad.numpy(), [1 + 2.0, 4 + 4.0])    # x^2 from before, + 2 x
    assert x.grad is None


def test_unused_input_raises_unless_allowed():
    x, z = mg.randn(2, requires_grad=True), mg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\].*not used.*allow_unused"):
        grad((x * 2).sum(), [x, z], retain_graph=True)
    gx, gz = grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx is not None


def test_grad_of_a_non_leaf_and_of_several_outputs():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    h = x * 3
    a, b = (h * h).sum(), h.sum()
    (gh,) = grad([a, b], h, grad_outputs=[mg.tensor(1.0, dtype=mg.float64),
                                         mg.tensor(2.0, dtype=mg.float64)])
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy() + 2)


def test_inplace_change_of_a_saved_tensor_names_the_op():
    x = mg.tensor([1.0, 2, 3], requires_grad=True)
    y = x * 2
    z = (y * y).sum()
    y[0] = 100
    with pytest.raises(RuntimeError, match=r"MulBackward's saved tensor 0.*version 1.*version 0"):
        z.backward()


def test_clone_copies_and_passes_gradients():
    x = mg.tensor([1.0, 2, 3], requires_grad=True)
    y = x.clone()
    assert y.array is not x.array and np.shares_memory(y.array, x.array) is False
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_inplace_change_of_an_unsaved_non_leaf_is_an_error_not_a_wrong_gradient():
    x = mg.tensor([1.0, 2, 3], requires_grad=True)
    y = x * 2
    y[0] = 100
    with pytest.raises(RuntimeError, match=r"MulBackward was modified by an in-place operation"):
        y.sum().backward()


def test_optimizer_step_between_forward_and_backward_is_caught():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    opt = mg.optim.SGD([w], lr=0.1)
    w.grad = mg.tensor([1.0, 1.0])
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating point.*int64"):
        mg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="only floating point"):
        mg.tensor([1, 2]).requires_grad_()
    x = mg.randn(3, 4, requires_grad=True)
    values_, indices = x.max(dim=1)
    assert values_.requires_grad and not indices.requires_grad


def test_parameter_grad_keeps_the_parameter_dtype():
    layer = mg.nn.Linear(3, 2)
    x = mg.tensor(np.ones((4, 3)), requires_grad=True)         # float64 input, float32 weights
    layer(x).sum().backward()
    assert layer.weight.grad.dtype == np.float32 and x.grad.dtype == np.float64


# ---------------------------------------------------------------- PyTorch as a second oracle

def _torch():
    return pytest.importorskip("torch")


def _hvp(lib, fn, arrays, v):
    """Hessian-vector product of sum(fn(*inputs) * r) with direction v, by double backward."""
    if lib is mg:
        xs = [mg.tensor(a, requires_grad=True) for a in arrays]
        out = fn(mg, *xs)
        r = mg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape))
        gs = grad((out * r).sum(), xs, create_graph=True)
        dot = sum((g * mg.tensor(d)).sum() for g, d in zip(gs, v))
        return [h.numpy() for h in grad(dot, xs, allow_unused=True)]
    import torch
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(torch, *xs)
    r = torch.tensor(np.cos(np.arange(out.numel())).reshape(out.shape))
    gs = torch.autograd.grad((out * r).sum(), xs, create_graph=True)
    dot = sum((g * torch.tensor(d)).sum() for g, d in zip(gs, v))
    return [np.zeros(a.shape) if h is None else h.detach().numpy()
            for h, a in zip(torch.autograd.grad(dot, xs, allow_unused=True), arrays)]


def _f(lib):
    return F if lib is mg else __import__("torch").nn.functional


HVP_CASES = {
    "arithmetic": ([(3, 4), (4,)], lambda lib, a, b: (a * b - b / (a * a + 1)) ** 2 + (b * b + 0.5) ** a.abs()),
    "math": ([(3, 4)], lambda lib, a: a.exp().sqrt() * a.tanh() + (a * a + 1).log() * a.sigmoid()),
    "relu_clamp": ([(3, 4)], lambda lib, a: a.relu() * a + a.clamp(-0.5, 0.5) * a.abs()),
    "reductions": ([(3, 4)], lambda lib, a: a.sum(1) * a.mean(0)[:3] + a.var(1) * a.amax(1)),
    "matmul": ([(3, 4), (4, 2)], lambda lib, a, b: (a @ b).tanh() @ b.T),
    "shape": ([(2, 3, 4)], lambda lib, a: lib.cat([a.permute(2, 0, 1).reshape(4, 6),
                                                   a[:, 1].flatten().unsqueeze(0).expand(4, 8)], 1) ** 2),
    "stack_where": ([(3, 4), (3, 4)], lambda lib, a, b: lib.where(a > 0, a * b, b * b) +
                    lib.stack([a, b], 0).sum(0) ** 2),
    "conv2d": ([(2, 3, 6, 6), (4, 3, 3, 3), (4,)],
               lambda lib, x, w, b: _f(lib).conv2d(x, w, b, stride=2, padding=1) ** 2),
    "conv_transpose2d": ([(2, 3, 3, 3), (3, 2, 4, 4), (2,)],
                         lambda lib, x, w, b: _f(lib).conv_transpose2d(x, w, b, 2, 1) ** 2),
    "batch_norm": ([(4, 3, 2, 2), (3,), (3,)],
                   lambda lib, x, w, b: _f(lib).batch_norm(x, None, None, w, b, training=True) ** 2),
    "batch_norm_eval": ([(4, 3, 2, 2), (3,), (3,)],
                        lambda lib, x, w, b: _f(lib).batch_norm(
                            x, lib.tensor(np.array([0.1, 0.2, -0.3])), lib.tensor(np.array([0.5, 1.0, 2.0])),
                            w, b, training=False) ** 2 * x),
    "embedding_index": ([(5, 3)], lambda lib, w: _f(lib).embedding(lib.tensor(np.array([[0, 4], [4, 1]])), w)
                        ** 3 + w[lib.tensor(np.array([1, 1, 2]))].sum() * w[:2]),
    "instance_norm": ([(2, 3, 3, 3), (3,), (3,)],
                      lambda lib, x, w, b: _f(lib).instance_norm(x, weight=w, bias=b) ** 2),
    "leaky_relu_pad": ([(1, 2, 4, 4)], lambda lib, x: _f(lib).pad(_f(lib).leaky_relu(x, 0.2) * x,
                                                                    (1, 2, 2, 1), mode="reflect") ** 2),
    "bce": ([(5,), (5,)], lambda lib, x, y: _f(lib).binary_cross_entropy(x.sigmoid(), y.sigmoid()) +
            _f(lib).binary_cross_entropy_with_logits(x, y.sigmoid(), reduction="sum") +
            _f(lib).mse_loss(x, y) * _f(lib).l1_loss(x, y * 2)),
}


@pytest.mark.parametrize("case", list(HVP_CASES))
def test_hessian_vector_products_match_torch(case):
    _torch()
    shapes, fn = HVP_CASES[case]
    rng = np.random.default_rng(len(case))
    arrays = [rng.normal(size=s) for s in shapes]
    v = [rng.normal(size=s) for s in shapes]
    ours, theirs = _hvp(mg, fn, arrays, v), _hvp(__import__("torch"), fn, arrays, v)
    for a, b in zip(ours, theirs):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_wgan_gp_penalty_through_a_conv_critic_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(0)
    shapes = {"w1": (4, 3, 4, 4), "b1": (4,), "w2": (1, 4, 4, 4), "b2": (1,)}
    params = {k: rng.normal(size=s) * 0.3 for k, s in shapes.items()}
    real, fake = rng.normal(size=(3, 3, 8, 8)), rng.normal(size=(3, 3, 8, 8))
    eps = rng.uniform(size=(3, 1, 1, 1))

    def penalty(lib, p):
        f = _f(lib)
        x = lib.tensor(eps * real + (1 - eps) * fake, requires_grad=True)
        h = f.instance_norm(f.leaky_relu(f.conv2d(x, p["w1"], p["b1"], stride=2, padding=1), 0.2))
        score = f.conv2d(h, p["w2"], p["b2"]).sum()
        autograd = mg.autograd if lib is mg else torch.autograd
        (gx,) = autograd.grad(score, x, create_graph=True)
        norm = ((gx * gx).sum(dim=(1, 2, 3)) + 1e-12).sqrt()
        return ((norm - 1) ** 2).mean() * 10

    ours = {k: mg.tensor(v, requires_grad=True) for k, v in params.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a, b = penalty(mg, ours), penalty(torch, theirs)
    a.backward()
    b.backward()
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-10)
    assert ours["b2"].grad is None and theirs["b2"].grad is None    # the last bias adds no slope
    for k in ("w1", "b1", "w2"):
        np.testing.assert_allclose(ours[k].grad.numpy(), theirs[k].grad.numpy(), rtol=1e-8,
                                   atol=1e-10)
