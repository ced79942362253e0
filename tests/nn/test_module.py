"""Module machinery: registration, traversal, train/eval, to(), state_dict round trips and errors,
containers, and PyTorch loading our state_dict (and we loading its) with equal outputs."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import minigan as mg
from minigan import nn, optim


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(mg.ones(4))
        self.register_buffer("count", mg.zeros(1))
        self.register_buffer("cache", mg.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def mlp(seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                         nn.Linear(16, 2), nn.Tanh())


# ---------------------------------------------------------------- registration and traversal
def test_registration_order_and_names():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == ["scale", "fc.weight", "fc.bias",
                                                        "bn.weight", "bn.bias"]
    assert [n for n, _ in block.named_buffers()] == ["count", "cache", "bn.running_mean",
                                                     "bn.running_var", "bn.num_batches_tracked"]
    assert list(block.state_dict()) == ["scale", "count", "fc.weight", "fc.bias", "bn.weight",
                                        "bn.bias", "bn.running_mean", "bn.running_var",
                                        "bn.num_batches_tracked"]  # "cache" is not persistent
    assert [n for n, _ in block.named_children()] == ["fc", "bn"]
    assert [n for n, _ in block.named_modules()] == ["", "fc", "bn"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in block.parameters())
    assert block.fc.weight.shape == (4, 3)


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert len(list(net.modules())) == 3
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # like torch


def test_reassignment_moves_between_registries_and_delattr():
    m = nn.Module()
    m.x = nn.Parameter(mg.zeros(2))
    m.x = nn.Linear(1, 1)                       # a parameter name reused for a module
    assert "x" not in m._parameters and "x" in m._modules
    m.y = 3
    assert m.y == 3 and "y" not in m._parameters
    del m.x
    with pytest.raises(AttributeError, match="has no attribute 'x'"):
        _ = m.x


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Early()
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'.*nn.Parameter"):
        layer.weight = mg.zeros(2, 2)           # a plain Tensor cannot replace a Parameter
    layer.bias = None                           # but None can (like torch)
    assert list(layer.state_dict()) == ["weight"]
    with pytest.raises(TypeError, match="register_buffer: .x. must be a Tensor or None, got ndarray"):
        layer.register_buffer("x", np.zeros(2))
    with pytest.raises(KeyError, match="without '.'"):
        layer.register_buffer("a.b", mg.zeros(1))
    with pytest.raises(KeyError, match="already an attribute"):
        layer.register_buffer("forward", mg.zeros(1))


def test_apply_get_submodule_and_requires_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "ReLU", "Sequential", "Sequential"]  # children first
    assert net.get_submodule("1.0") is net[1][0]
    with pytest.raises(AttributeError, match="no submodule '7'"):
        net.get_submodule("1.7")
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------- modes, grads, devices
def test_train_eval_propagate_to_every_descendant():
    net = nn.Sequential(Block(), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(4)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net[1].train()
    assert [m.training for m in net.modules()] == [False, False, False, False, True, True, True]
    with pytest.raises(ValueError, match="mode must be a bool"):
        net.train("yes")


def test_dropout_and_batchnorm_follow_the_mode():
    net = mlp()
    x = mg.randn(32, 3)
    net.train()
    a, b = net(x).numpy(), net(x).numpy()
    assert not np.allclose(a, b)                # dropout masks differ
    net.eval()
    c, d = net(x).numpy(), net(x).numpy()
    np.testing.assert_array_equal(c, d)


def test_zero_grad():
    net = mlp()
    net(mg.randn(8, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_parameter_objects_and_optimizer_references():
    net = mlp()
    params = list(net.parameters())
    opt = optim.SGD(net.parameters(), lr=0.1)
    assert net.to(mg.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64     # integer buffers are not cast
    before = params[0].numpy().copy()
    net(mg.randn(8, 3, dtype=mg.float64)).sum().backward()
    opt.step()
    assert not np.allclose(before, params[0].numpy())       # the optimizer still updates them
    assert net.float() is net and params[0].dtype == np.float32
    assert net.to("cpu", mg.float64) is net and params[0].dtype == np.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(np.int32)
    with pytest.raises(ValueError, match="device"):
        net.to("tpu")


def test_deepcopy_gives_independent_parameters():
    net = mlp()
    twin = copy.deepcopy(net)
    assert isinstance(twin[0].weight, nn.Parameter)
    assert twin[0].weight is not net[0].weight
    np.testing.assert_array_equal(twin[0].weight.numpy(), net[0].weight.numpy())
    twin[0].weight.data += 1
    assert not np.allclose(twin[0].weight.numpy(), net[0].weight.numpy())


# ---------------------------------------------------------------- state_dict
def test_state_dict_round_trip_reproduces_outputs():
    src, dst = mlp(seed=1), mlp(seed=2)
    src.train()
    src(mg.randn(16, 3))                        # move the BN running statistics off their init
    src.eval(), dst.eval()
    x = mg.randn(5, 3)
    assert not np.allclose(src(x).numpy(), dst(x).numpy())
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(src(x).numpy(), dst(x).numpy())
    assert int(dst[1].num_batches_tracked.item()) == 1


def test_state_dict_values_are_detached_and_share_memory():
    net = mlp()
    state = net.state_dict()
    assert not any(v.requires_grad for v in state.values())
    assert not isinstance(state["0.weight"], nn.Parameter)
    assert state["0.weight"].array is net[0].weight.array      # like torch: no copy
    assert net.state_dict(keep_vars=True)["0.weight"] is net[0].weight


def test_load_state_dict_accepts_numpy_and_casts_into_existing_arrays():
    net = mlp()
    weight_array = net[0].weight.array
    state = {k: v.numpy().astype(np.float64) if v.dtype.kind == "f" else v.numpy()
             for k, v in mlp(seed=5).state_dict().items()}
    net.load_state_dict(state)
    assert net[0].weight.array is weight_array                # copied in place
    assert net[0].weight.dtype == np.float32
    np.testing.assert_allclose(net[0].weight.numpy(), state["0.weight"], rtol=1e-7)


def test_load_state_dict_errors_name_the_keys_and_shapes():
    net = mlp()
    state = dict(net.state_dict())
    state.pop("4.bias")
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(state)
    assert "missing keys: '4.bias'" in str(err.value)
    assert "unexpected keys: 'extra.weight'" in str(err.value)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["4.bias"] and result.unexpected_keys == ["extra.weight"]

    bad = dict(net.state_dict())
    bad["0.weight"] = np.zeros((3, 16), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: .*\(3, 16\).*\(16, 3\)"):
        net.load_state_dict(bad, strict=False)   # a shape mismatch is an error even when not strict
    with pytest.raises(TypeError, match="'0.weight' must be a Tensor or an array"):
        net.load_state_dict({**net.state_dict(), "0.weight": "weights"})
    with pytest.raises(TypeError, match="expected a dict"):
        net.load_state_dict([1, 2])


def test_failed_load_changes_nothing():
    net = mlp()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = {k: v.numpy() + 1 for k, v in mlp(seed=9).state_dict().items()}
    state["4.weight"] = np.zeros((1, 1))
    with pytest.raises(RuntimeError):
        net.load_state_dict(state)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_state_dict_survives_a_checkpoint_file(tmp_path):
    from minigan.io import load_checkpoint, save_checkpoint
    src, dst = mlp(seed=3), mlp(seed=4)
    save_checkpoint(tmp_path / "ckpt.npz", {"model": src.state_dict()})
    dst.load_state_dict(load_checkpoint(tmp_path / "ckpt.npz")["model"])
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# ---------------------------------------------------------------- containers
def test_sequential_indexing_len_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    net = nn.Sequential(*layers)
    assert len(net) == 3 and list(net) == layers
    assert net[0] is layers[0] and net[-1] is layers[2]
    head = net[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    assert head(mg.randn(4, 2)).shape == (4, 3)
    with pytest.raises(IndexError, match="index 3 is out of range for length 3"):
        net[3]
    net.append(nn.Sigmoid())
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert type(net[3]).__name__ == "Sigmoid"
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(1, 1)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    del net[1]
    assert len(net) == 3


def test_module_list_and_dict():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    blocks.append(nn.Linear(2, 1))
    blocks.insert(0, nn.ReLU())
    assert [type(b).__name__ for b in blocks] == ["ReLU", "Linear", "Linear", "Linear"]
    assert list(blocks.state_dict())[:2] == ["1.weight", "1.bias"]
    del blocks[0]
    assert list(blocks.state_dict())[0] == "0.weight" and len(blocks) == 3
    heads = nn.ModuleDict({"real": nn.Linear(2, 1), "cls": nn.Linear(2, 10)})
    assert "real" in heads and list(heads) == ["real", "cls"]
    assert list(heads.state_dict()) == ["real.weight", "real.bias", "cls.weight", "cls.bias"]
    parent = nn.Module()
    parent.heads = heads
    assert len(list(parent.parameters())) == 4


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8),
                         nn.LeakyReLU(0.2), nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh(),
                         nn.InstanceNorm2d(3), nn.ReflectionPad2d(3), nn.Dropout(0.5),
                         nn.Flatten(), nn.Linear(4, 1), nn.ReLU(), nn.Sigmoid(),
                         nn.Conv2d(3, 3, 3, padding_mode="reflect", padding=1),
                         nn.BatchNorm1d(3, affine=False), nn.Embedding(3, 4, padding_idx=1),
                         nn.ZeroPad2d(2), nn.ConstantPad2d(1, 0.5), nn.MSELoss(),
                         nn.BCELoss(reduction="sum"), nn.Unflatten(1, (2, 2)), nn.Identity(),
                         nn.ReLU(inplace=True), nn.LeakyReLU(0.2, True))
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 4, 2, 1, bias=False), torch.nn.BatchNorm2d(8),
        torch.nn.LeakyReLU(0.2), torch.nn.ConvTranspose2d(8, 3, 4, 2, 1), torch.nn.Tanh(),
        torch.nn.InstanceNorm2d(3), torch.nn.ReflectionPad2d(3), torch.nn.Dropout(0.5),
        torch.nn.Flatten(), torch.nn.Linear(4, 1), torch.nn.ReLU(), torch.nn.Sigmoid(),
        torch.nn.Conv2d(3, 3, 3, padding_mode="reflect", padding=1),
        torch.nn.BatchNorm1d(3, affine=False), torch.nn.Embedding(3, 4, padding_idx=1),
        torch.nn.ZeroPad2d(2), torch.nn.ConstantPad2d(1, 0.5), torch.nn.MSELoss(),
        torch.nn.BCELoss(reduction="sum"), torch.nn.Unflatten(1, (2, 2)), torch.nn.Identity(),
        torch.nn.ReLU(inplace=True), torch.nn.LeakyReLU(0.2, True))
    assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------- PyTorch loads ours (and we theirs)
def _to_torch(state):
    import torch
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}


def _compare_with_torch(ours, theirs, x, train):
    """Load our weights into the torch twin, run both, compare outputs and the state after."""
    import torch
    theirs.load_state_dict(_to_torch(ours.state_dict()))
    ours.train(train), theirs.train(train)
    y = ours(mg.tensor(x)).numpy()
    with torch.no_grad():
        y_torch = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, y_torch, rtol=1e-4, atol=1e-5)
    after = theirs.state_dict()
    for key, value in ours.state_dict().items():    # running statistics moved the same way
        np.testing.assert_allclose(value.numpy(), after[key].numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=key)


@pytest.mark.parametrize("train", [True, False])
def test_torch_mlp_loads_our_state_dict(train):
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2),
                         nn.Linear(16, 8), nn.BatchNorm1d(8, momentum=None), nn.ReLU(),
                         nn.Linear(8, 2), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.BatchNorm1d(16),
                                 torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 8),
                                 torch.nn.BatchNorm1d(8, momentum=None), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 2), torch.nn.Sigmoid())
    ours.train()
    ours(mg.randn(32, 3))                        # non-trivial running statistics
    x = np.random.default_rng(0).standard_normal((32, 3)).astype(np.float32)
    _compare_with_torch(ours, theirs, x, train)


def _generator_pair(torch):
    ours = nn.Sequential(nn.ConvTranspose2d(8, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU(), nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False),
                         nn.InstanceNorm2d(8, affine=True, track_running_stats=True), nn.ReLU(),
                         nn.ReflectionPad2d(1), nn.Conv2d(8, 8, 3), nn.LeakyReLU(0.2),
                         nn.Conv2d(8, 4, 3, padding=1, padding_mode="reflect"),
                         nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1), nn.Tanh())
    T = torch.nn
    theirs = T.Sequential(T.ConvTranspose2d(8, 16, 4, 1, 0, bias=False), T.BatchNorm2d(16),
                          T.ReLU(), T.ConvTranspose2d(16, 8, 4, 2, 1, bias=False),
                          T.InstanceNorm2d(8, affine=True, track_running_stats=True), T.ReLU(),
                          T.ReflectionPad2d(1), T.Conv2d(8, 8, 3), T.LeakyReLU(0.2),
                          T.Conv2d(8, 4, 3, padding=1, padding_mode="reflect"),
                          T.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1), T.Tanh())
    return ours, theirs


@pytest.mark.parametrize("train", [True, False])
def test_torch_conv_stack_loads_our_state_dict(train):
    torch = pytest.importorskip("torch")
    ours, theirs = _generator_pair(torch)
    nn.init.dcgan_init_(ours)
    ours.train()
    ours(mg.randn(4, 8, 1, 1))                   # running statistics off their init
    x = np.random.default_rng(1).standard_normal((4, 8, 1, 1)).astype(np.float32)
    _compare_with_torch(ours, theirs, x, train)
    assert ours(mg.tensor(x)).shape == (4, 3, 16, 16)


def test_we_load_torch_state_dict():
    torch = pytest.importorskip("torch")
    ours, theirs = _generator_pair(torch)
    torch.manual_seed(0)
    theirs.train()
    theirs(torch.randn(4, 8, 1, 1))
    ours.load_state_dict(theirs.state_dict())    # torch tensors are accepted directly
    ours.eval(), theirs.eval()
    x = np.random.default_rng(2).standard_normal((2, 8, 1, 1)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
