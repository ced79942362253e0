"""Layers against PyTorch (same weights: forward, input and parameter gradients, running stats),
their own semantics and errors, and nn.init's formulas and statistics."""
import math

import numpy as np
import pytest

import minigan as mg
from minigan import nn

RNG = np.random.default_rng(1234)


def _torch():
    return pytest.importorskip("torch")


def check_like_torch(ours, theirs, shape, train=True, rtol=1e-7, atol=1e-9, target=None):
    """Same weights (ours -> torch), float64: outputs, grads of input and parameters, state after."""
    torch = _torch()
    ours.double(), theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    ours.train(train), theirs.train(train)
    x = RNG.standard_normal(shape)
    x_ours, x_torch = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if target is None:
        y, y_torch = ours(x_ours), theirs(x_torch)
    else:
        y, y_torch = ours(x_ours, mg.tensor(target)), theirs(x_torch, torch.from_numpy(target))
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=rtol, atol=atol)
    g = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(g))
    y_torch.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x_ours.grad.numpy(), x_torch.grad.numpy(), rtol=rtol, atol=atol)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
    after = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), after[name].numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    return y


def twin(name, *args, **kwargs):
    """The same layer from minigan.nn and torch.nn."""
    return getattr(nn, name)(*args, **kwargs), getattr(_torch().nn, name)(*args, **kwargs)


# ---------------------------------------------------------------- linear, conv
@pytest.mark.parametrize("kwargs, shape", [({}, (5, 4)), ({"bias": False}, (2, 3, 4))])
def test_linear(kwargs, shape):
    check_like_torch(*twin("Linear", 4, 3, **kwargs), shape)


def test_linear_rejects_wrong_features():
    with pytest.raises(ValueError, match="in_features=4"):
        nn.Linear(4, 2)(mg.randn(3, 5))
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(0, 2)


CONV_CASES = [
    ((3, 5, 3), {"padding": 1}, (2, 3, 8, 8)),
    ((3, 4, 4, 2, 1), {"bias": False}, (2, 3, 8, 8)),
    ((2, 3, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": 2}, (1, 2, 9, 7)),
    ((2, 3, 4), {"padding": "same"}, (2, 2, 7, 6)),          # even kernel: asymmetric padding
    ((2, 3, 3), {"padding": "valid"}, (2, 2, 6, 6)),
    ((3, 4, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 3, 6, 7)),
    ((3, 4, 7), {"padding": 3, "padding_mode": "reflect", "bias": False}, (1, 3, 8, 8)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("args, kwargs, shape", CONV_CASES)
def test_conv2d(args, kwargs, shape):
    check_like_torch(*twin("Conv2d", *args, **kwargs), shape)


CONV_T_CASES = [
    ((4, 3, 4, 2, 1), {}, (2, 4, 5, 5)),
    ((3, 2, 3, 2, 1), {"output_padding": 1, "bias": False}, (2, 3, 4, 5)),
    ((2, 3, 3), {"dilation": 2, "padding": 1}, (1, 2, 4, 4)),
    ((8, 4, 4, 1, 0), {}, (3, 8, 1, 1)),                       # DCGAN's first layer
]


@pytest.mark.parametrize("args, kwargs, shape", CONV_T_CASES)
def test_conv_transpose2d(args, kwargs, shape):
    check_like_torch(*twin("ConvTranspose2d", *args, **kwargs), shape)


def test_conv_transpose2d_output_size():
    up = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = mg.randn(1, 2, 4, 4)
    assert up(x).shape == (1, 2, 7, 7)
    assert up(x, output_size=(8, 8)).shape == (1, 2, 8, 8)
    assert up(x, output_size=(1, 2, 7, 8)).shape == (1, 2, 7, 8)
    with pytest.raises(ValueError, match=r"output_size \(9, 9\) is not reachable"):
        up(x, output_size=(9, 9))


def test_conv_constructor_errors():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="circular")
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    assert nn.Conv2d(3, 8, 4).weight.shape == (8, 3, 4, 4)
    assert nn.ConvTranspose2d(3, 8, 4).weight.shape == (3, 8, 4, 4)


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False},
                                    {"track_running_stats": False}, {"bias": False}])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_batch_norm_1d(shape, kwargs, train):
    ours, theirs = twin("BatchNorm1d", 4, **kwargs)
    ours.train()
    ours(mg.randn(*shape) * 2 + 1)               # running statistics away from their init
    check_like_torch(ours, theirs, shape, train)


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_2d(train):
    ours, theirs = twin("BatchNorm2d", 3, momentum=0.3)
    nn.init.dcgan_init_(ours)
    ours(mg.randn(2, 3, 4, 4) + 3)
    check_like_torch(ours, theirs, (2, 3, 4, 5), train)
    assert int(ours.num_batches_tracked.item()) == 1 + train


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"affine": True},
                                    {"affine": True, "track_running_stats": True}])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_instance_norm_2d(shape, kwargs, train):
    ours, theirs = twin("InstanceNorm2d", 3, **kwargs)
    if ours.affine:
        nn.init.dcgan_init_(ours)
    check_like_torch(ours, theirs, shape, train)


def test_norm_input_errors():
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input, got 2D input"):
        nn.BatchNorm2d(3)(mg.randn(4, 3))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 4 channels .* shape \\(2, 3\\)"):
        nn.BatchNorm1d(4)(mg.randn(2, 3))
    with pytest.raises(ValueError, match="InstanceNorm2d: expected 3D or 4D input"):
        nn.InstanceNorm2d(3)(mg.randn(2, 3))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm2d(3, momentum=2.0)
    no_stats = nn.BatchNorm1d(3, track_running_stats=False)
    assert list(no_stats.state_dict()) == ["weight", "bias"]


# ---------------------------------------------------------------- elementwise, shape, padding
@pytest.mark.parametrize("name, args, shape", [
    ("ReLU", (), (3, 4)), ("LeakyReLU", (), (3, 4)), ("LeakyReLU", (0.2,), (2, 3, 4)),
    ("Tanh", (), (3, 4)), ("Sigmoid", (), (3, 4)), ("Identity", (), (3, 4)),
    ("Flatten", (), (2, 3, 4, 5)), ("Flatten", (0, 2), (2, 3, 4, 5)),
    ("Unflatten", (1, (2, 6)), (3, 12)), ("ReflectionPad2d", (2,), (1, 2, 4, 5)),
    ("ReflectionPad2d", ((1, 2, 0, 3),), (1, 2, 4, 5)), ("ZeroPad2d", ((1, 0, 2, 1),), (1, 2, 3, 3)),
    ("ConstantPad2d", (1, 0.5), (1, 2, 3, 3)),
])
def test_parameter_free_layers(name, args, shape):
    check_like_torch(*twin(name, *args), shape)


def test_dropout_in_train_and_eval():
    drop = nn.Dropout(0.25)
    x = mg.ones(200, 200)
    y = drop(x).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_embedding_and_padding_idx():
    torch = _torch()
    ours = nn.Embedding(5, 3, padding_idx=-1)
    assert ours.padding_idx == 4 and not ours.weight.numpy()[4].any()
    theirs = torch.nn.Embedding(5, 3, padding_idx=4)
    theirs.load_state_dict({"weight": torch.from_numpy(ours.weight.numpy().copy())})
    index = np.array([[0, 4, 2], [4, 4, 1]])
    y = ours(mg.tensor(index))
    y_torch = theirs(torch.from_numpy(index))
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy())
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(mg.tensor(g))
    y_torch.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6)
    assert not ours.weight.grad.numpy()[4].any()          # the padding row gets no gradient


# ---------------------------------------------------------------- losses
def _bce_inputs(shape):
    return 1 / (1 + np.exp(-RNG.standard_normal(shape))), RNG.random(shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"])
def test_loss_modules(name, reduction):
    torch = _torch()
    ours, theirs = twin(name, reduction=reduction)
    x, target = _bce_inputs((4, 3))
    if name != "BCELoss":
        x = RNG.standard_normal((4, 3))
    x_ours, x_torch = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = ours(x_ours, mg.tensor(target))
    loss_torch = theirs(x_torch, torch.from_numpy(target))
    np.testing.assert_allclose(loss.numpy(), loss_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss.sum().backward()
    loss_torch.sum().backward()
    np.testing.assert_allclose(x_ours.grad.numpy(), x_torch.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_weighted_bce_losses():
    torch = _torch()
    p, target = _bce_inputs((4, 3))
    logits = RNG.standard_normal((4, 3))
    weight, pos_weight = RNG.random(3) + 0.5, RNG.random(3) + 0.5
    ours = nn.BCELoss(weight=mg.tensor(weight))(mg.tensor(p), mg.tensor(target))
    theirs = torch.nn.BCELoss(weight=torch.from_numpy(weight))(torch.from_numpy(p),
                                                               torch.from_numpy(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    module = nn.BCEWithLogitsLoss(reduction="sum", pos_weight=mg.tensor(pos_weight))
    assert list(module.state_dict()) == ["pos_weight"]                # like torch's buffers
    ours = module(mg.tensor(logits), mg.tensor(target))
    theirs = torch.nn.BCEWithLogitsLoss(reduction="sum", pos_weight=torch.from_numpy(pos_weight))(
        torch.from_numpy(logits), torch.from_numpy(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        nn.MSELoss(reduction="avg")


# ---------------------------------------------------------------- init
def test_calculate_gain_and_fans_match_torch():
    torch = _torch()
    for args in [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("selu",)]:
        assert nn.init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")
    for shape in [(3, 4), (8, 3, 4, 4), (3, 8, 5, 2)]:
        ours = nn.init._calculate_fan_in_and_fan_out(mg.zeros(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(mg.zeros(5))


def test_default_init_bounds_like_torch():
    # torch: weight U(+-1/sqrt(fan_in)) via kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in));
    # a transposed conv's fan_in uses weight dim 1 (out_channels) -- torch's convention.
    for layer, fan_in in [(nn.Linear(64, 300), 64), (nn.Conv2d(16, 64, 4), 16 * 16),
                          (nn.ConvTranspose2d(64, 16, 4), 16 * 16)]:
        bound = 1 / math.sqrt(fan_in)
        w = layer.weight.numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
        assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert np.abs(layer.bias.numpy()).max() <= bound


@pytest.mark.parametrize("fn, kwargs, expected_std", [
    ("xavier_uniform_", {}, math.sqrt(2 / (200 + 100))),
    ("xavier_normal_", {"gain": 2.0}, 2 * math.sqrt(2 / (200 + 100))),
    ("kaiming_uniform_", {"nonlinearity": "relu"}, math.sqrt(2 / 100)),
    ("kaiming_normal_", {"a": 0.2, "mode": "fan_out"}, math.sqrt(2 / 1.04 / 200)),
    ("normal_", {"mean": 0.0, "std": 0.3}, 0.3),
    ("uniform_", {"a": -1.0, "b": 1.0}, 1 / math.sqrt(3)),
])
def test_init_statistics(fn, kwargs, expected_std):
    w = mg.zeros(200, 100, requires_grad=True)
    assert getattr(nn.init, fn)(w, **kwargs) is w
    assert w.numpy().std() == pytest.approx(expected_std, rel=0.03)
    assert abs(w.numpy().mean()) < 0.05 * expected_std + 1e-3
    assert w.grad is None and w.is_leaf


def test_constant_inits_and_generator_argument():
    w = mg.zeros(3, 3)
    np.testing.assert_array_equal(nn.init.ones_(w).numpy(), 1)
    np.testing.assert_array_equal(nn.init.constant_(w, 0.5).numpy(), 0.5)
    np.testing.assert_array_equal(nn.init.zeros_(w).numpy(), 0)
    a = nn.init.normal_(mg.zeros(4), generator=np.random.default_rng(7)).numpy()
    b = nn.init.normal_(mg.zeros(4), generator=np.random.default_rng(7)).numpy()
    np.testing.assert_array_equal(a, b)


def dcgan_generator():
    return nn.Sequential(nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), nn.BatchNorm2d(64),
                         nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.InstanceNorm2d(32),
                         nn.Conv2d(32, 3, 3, padding=1), nn.Linear(3, 3))


def test_dcgan_init_statistics():
    G = nn.init.dcgan_init_(dcgan_generator())
    for layer in (G[0], G[3], G[5], G[6]):
        w = layer.weight.numpy()
        assert w.std() == pytest.approx(0.02, rel=0.1 if w.size > 5000 else 0.5)
        assert abs(w.mean()) < 4 * 0.02 / math.sqrt(w.size)
        if layer.bias is not None:
            assert not layer.bias.numpy().any()
    bn = G[1]
    assert bn.weight.numpy().mean() == pytest.approx(1.0, abs=0.01)
    assert bn.weight.numpy().std() == pytest.approx(0.02, rel=0.5)
    assert not bn.bias.numpy().any()
    assert G[4].weight is None                   # InstanceNorm2d without affine: nothing to init


def test_same_seed_same_model():
    def build(seed):
        mg.manual_seed(seed)
        return dcgan_generator().state_dict()
    a, b, c = build(3), build(3), build(4)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert not np.allclose(a["0.weight"].numpy(), c["0.weight"].numpy())
    mg.manual_seed(5)
    first = nn.init.dcgan_init_(dcgan_generator()).state_dict()["3.weight"].numpy()
    mg.manual_seed(5)
    again = nn.init.dcgan_init_(dcgan_generator()).state_dict()["3.weight"].numpy()
    np.testing.assert_array_equal(first, again)


@pytest.mark.gpu
def test_module_to_cuda_and_back():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.2))
    x = mg.randn(2, 3, 5, 5)
    expected = net(x).numpy()
    weight = net[0].weight
    net.to("cuda")
    assert net[0].weight is weight and weight.device == "cuda"
    assert net[1].running_mean.device == "cuda" and net[1].num_batches_tracked.device == "cuda"
    net.load_state_dict(net.state_dict())
    y = net(x.to("cuda"))
    net.cpu()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert int(net[1].num_batches_tracked.item()) == 2
