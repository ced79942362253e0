"""SGD, Adam and RMSprop: trajectories equal torch.optim's, param groups, state_dict round trips and errors."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.io import load_checkpoint, save_checkpoint

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _grads(seed, steps, dtype):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def run_ours(cls, kwargs, grads, dtype, groups=None):
    params = [nn.Parameter(mg.tensor(p)) for p in _params(dtype)]
    opt = cls(params if groups is None else groups(params), **kwargs)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = mg.tensor(g)
        opt.step()
    return [p.numpy() for p in params], opt


def run_torch(name, kwargs, grads, dtype, groups=None):
    import torch
    params = [torch.nn.Parameter(torch.from_numpy(p)) for p in _params(dtype)]
    opt = getattr(torch.optim, name)(params if groups is None else groups(params), **kwargs)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.from_numpy(g)
        opt.step()
    return [p.detach().numpy() for p in params]


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 2e-4, "betas": (0.5, 0.999)}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 5e-5}),                                      # WGAN's critic
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_trajectory_equals_torch_float64(name, kwargs):
    pytest.importorskip("torch")
    grads = _grads(1, 6, np.float64)
    ours, _ = run_ours(getattr(optim, name), kwargs, grads, np.float64)
    theirs = run_torch(name, kwargs, grads, np.float64)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, kwargs", [CASES[3], CASES[7], CASES[12]])
def test_trajectory_equals_torch_float32(name, kwargs):
    pytest.importorskip("torch")
    grads = _grads(2, 10, np.float32)
    ours, opt = run_ours(getattr(optim, name), kwargs, grads, np.float32)
    theirs = run_torch(name, kwargs, grads, np.float32)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for state in opt.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if hasattr(v, "dtype"))


def test_param_groups_with_their_own_hyperparameters_equal_torch():
    pytest.importorskip("torch")

    def groups(params):
        return [{"params": params[:2], "lr": 0.05}, {"params": params[2:], "betas": (0.5, 0.9)}]
    grads = _grads(3, 4, np.float64)
    ours, opt = run_ours(optim.Adam, {"lr": 0.01}, grads, np.float64, groups)
    theirs = run_torch("Adam", {"lr": 0.01}, grads, np.float64, groups)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.01]
    assert opt.param_groups[1]["betas"] == (0.5, 0.9)


def test_adam_trains_a_model_like_torch():
    """A whole loop on a module: forward, backward, zero_grad, step, against torch."""
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 1)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    opt = optim.Adam(ours.parameters(), lr=0.05, betas=(0.5, 0.999))
    opt_torch = torch.optim.Adam(theirs.parameters(), lr=0.05, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
        opt.zero_grad()
        loss = ((ours(mg.tensor(x)) - mg.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        opt_torch.zero_grad()
        loss_torch = ((theirs(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        loss_torch.backward()
        opt_torch.step()
        assert loss.item() == pytest.approx(loss_torch.item(), rel=1e-10)
    after = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), after[key].numpy(), rtol=1e-10, err_msg=key)


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a, b = nn.Parameter(mg.ones(2)), nn.Parameter(mg.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.ones(2)
    opt.step()
    assert not np.allclose(a.numpy(), 1) and np.allclose(b.numpy(), 1)
    assert b not in opt.state and opt.state[a]["step"] == 1
    opt.zero_grad(set_to_none=False)
    assert not a.grad.numpy().any() and b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_step_updates_arrays_in_place_and_closure():
    p = nn.Parameter(mg.tensor([1.0, -2.0]))
    array = p.array
    opt = optim.SGD([p], lr=0.5, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == pytest.approx(5.0)
    assert p.array is array                       # updated in place: no new array, no graph
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])
    assert p.is_leaf


def _trained(cls, kwargs, steps, params=None):
    params = params or [nn.Parameter(mg.tensor(p)) for p in _params(np.float32)]
    opt = cls(params, **kwargs)
    for step in _grads(5, steps, np.float32):
        for p, g in zip(params, step):
            p.grad = mg.tensor(g)
        opt.step()
    return params, opt


@pytest.mark.parametrize("cls, kwargs", [(optim.Adam, {"lr": 0.01, "amsgrad": True}),
                                         (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                         (optim.RMSprop, {"lr": 0.01, "momentum": 0.9,
                                                          "centered": True})])
def test_state_dict_resume_gives_the_same_numbers(cls, kwargs, tmp_path):
    """Train 3 steps, checkpoint (through a file), train 3 more in a fresh optimizer == 6 steps."""
    straight, _ = _trained(cls, kwargs, 6)
    params, opt = _trained(cls, kwargs, 3)
    state = opt.state_dict()
    assert sorted(state) == ["param_groups", "state"] and sorted(state["state"]) == [0, 1, 2]
    save_checkpoint(tmp_path / "opt.npz", {"opt": state,
                                           "params": [p.numpy() for p in params]})
    loaded = load_checkpoint(tmp_path / "opt.npz")
    fresh = [nn.Parameter(mg.tensor(p)) for p in loaded["params"]]
    resumed = cls(fresh, lr=123.0)               # hyperparameters come back from the state
    resumed.load_state_dict(loaded["opt"])
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    grads = _grads(5, 6, np.float32)[3:]
    for step in grads:
        for p, g in zip(fresh, step):
            p.grad = mg.tensor(g)
        resumed.step()
    for a, b in zip(straight, fresh):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kwargs, keys", [
    ({}, ["square_avg", "step"]),
    ({"momentum": 0.9}, ["momentum_buffer", "square_avg", "step"]),
    ({"centered": True, "momentum": 0.5}, ["grad_avg", "momentum_buffer", "square_avg", "step"])])
def test_rmsprop_state_has_torchs_keys(kwargs, keys):
    _, opt = _trained(optim.RMSprop, kwargs, 2)
    state = opt.state_dict()["state"][0]
    assert sorted(state) == keys and state["step"] == 2
    group = opt.state_dict()["param_groups"][0]
    assert {k: group[k] for k in ("lr", "alpha", "eps", "weight_decay", "momentum",
                                  "centered")} == {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8,
                                                   "weight_decay": 0, "centered": False,
                                                   **kwargs, "momentum": kwargs.get("momentum", 0)}


def test_state_dict_is_a_snapshot():
    params, opt = _trained(optim.Adam, {}, 2)
    state = opt.state_dict()
    saved = state["state"][0]["exp_avg"].copy()
    opt.step()
    assert opt.state[params[0]]["step"] == 3
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], saved)
    assert state["state"][0]["step"] == 2


def test_load_state_dict_errors():
    params, opt = _trained(optim.Adam, {}, 1)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="parameter group 0 has 3 parameters in the state, 2 here"):
        optim.Adam(params[:2]).load_state_dict(state)
    two_groups = optim.Adam([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="the state has 1 parameter groups, this optimizer has 2"):
        two_groups.load_state_dict(state)
    swapped = [nn.Parameter(mg.zeros(*p.shape[::-1])) for p in params]
    with pytest.raises(ValueError, match=r"state 'exp_avg' has shape \(4, 3\), but its parameter "
                                         r"has shape \(3, 4\)"):
        optim.Adam(swapped).load_state_dict(state)


def test_state_follows_a_model_moved_to_float64():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(mg.randn(4, 3)).sum().backward()
    opt.step()
    model.to(mg.float64)
    model.zero_grad()
    model(mg.randn(4, 3, dtype=mg.float64)).sum().backward()
    opt.step()
    assert model.weight.dtype == np.float64
    assert opt.state[model.weight]["exp_avg"].dtype == np.float64


def test_constructor_errors():
    p = nn.Parameter(mg.ones(2))
    with pytest.raises(ValueError, match="SGD: invalid learning rate: -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov momentum requires momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"Adam: invalid betas: \(0.9, 1.0\)"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="RMSprop: invalid alpha value: -0.5"):
        optim.RMSprop([p], alpha=-0.5)
    with pytest.raises(ValueError, match="RMSprop: invalid momentum value: -1"):
        optim.RMSprop([p], momentum=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.Adam(p)
    with pytest.raises(ValueError, match="appear more than once"):
        optim.Adam([p, p])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([mg.ones(2, requires_grad=True) * 2])
    assert "Parameter Group 0" in repr(optim.Adam([p])) and "lr: 0.001" in repr(optim.Adam([p]))
