"""AdamW and the schedulers MultiStepLR, ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau against
torch.optim: trajectories, lrs per epoch, state keys and state_dict round trips."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, MultiStepLR,
                                        ReduceLROnPlateau)

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _grads(seed, steps, dtype):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _run(make_params, set_grad, make_opt, grads, dtype):
    """Start from the same params in either framework, take one step per entry of grads."""
    rng = np.random.default_rng(0)
    params = make_params([rng.standard_normal(s).astype(dtype) for s in SHAPES])
    opt = make_opt(params)
    for step in grads:
        for p, g in zip(params, step):
            set_grad(p, g)
        opt.step()
    return params, opt


def run_ours(cls, kwargs, grads, dtype):
    params, opt = _run(lambda arrays: [nn.Parameter(mg.tensor(a)) for a in arrays],
                       lambda p, g: setattr(p, "grad", mg.tensor(g)), lambda ps: cls(ps, **kwargs),
                       grads, dtype)
    return [p.numpy() for p in params], opt


def run_torch(name, kwargs, grads, dtype):
    import torch
    params, _ = _run(lambda arrays: [torch.nn.Parameter(torch.from_numpy(a)) for a in arrays],
                     lambda p, g: setattr(p, "grad", torch.from_numpy(g)),
                     lambda ps: getattr(torch.optim, name)(ps, **kwargs), grads, dtype)
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.01, "weight_decay": 0.1},
                                    {"lr": 2e-3, "betas": (0.5, 0.9), "amsgrad": True}])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adamw_trajectory_equals_torch(kwargs, dtype):
    pytest.importorskip("torch")
    grads = _grads(3, 8, dtype)
    ours, opt = run_ours(optim.AdamW, kwargs, grads, dtype)
    theirs = run_torch("AdamW", kwargs, grads, dtype)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)
    state = next(iter(opt.state.values()))
    expected = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if kwargs.get("amsgrad") else set())
    assert set(state) == expected
    assert opt.defaults["weight_decay"] == kwargs.get("weight_decay", 1e-2)


def _optimizers(torch, lr=0.1):
    ours = optim.SGD([{"params": [nn.Parameter(mg.zeros(1))], "lr": lr},
                      {"params": [nn.Parameter(mg.zeros(1))], "lr": 2 * lr}])
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 2 * lr}])
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", [
    ("MultiStepLR", {"milestones": [2, 5, 5, 8], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.01}),
    ("CosineAnnealingLR", {"T_max": 4}),
])
def test_schedulers_equal_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, t_opt = _optimizers(torch)
    ours = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    for _ in range(14):                               # past T_max: the cosine comes back up
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-10, atol=1e-14)
        t_opt.step()
        ours.step(), theirs.step()


def test_schedulers_state_dict_resumes():
    opt = optim.SGD([nn.Parameter(mg.zeros(1))], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([nn.Parameter(mg.zeros(1))], lr=1.0)
    resumed = CosineAnnealingLR(opt2, T_max=10)
    resumed.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    sched.step(), resumed.step()
    assert resumed.get_last_lr() == sched.get_last_lr()
    multi = MultiStepLR(opt2, [3, 6])
    assert set(multi.state_dict()) >= {"last_epoch", "base_lrs", "milestones", "gamma"}
    assert ExponentialLR(opt2, 0.5).state_dict()["gamma"] == 0.5


@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "factor": 0.5, "patience": 1,
                                         "cooldown": 2, "min_lr": [0.02, 0.05]},
                                    {"threshold_mode": "abs", "threshold": 0.1, "patience": 0}])
def test_reduce_on_plateau_equals_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt, t_opt = _optimizers(torch)
    ours, theirs = ReduceLROnPlateau(opt, **kwargs), torch.optim.lr_scheduler.ReduceLROnPlateau(
        t_opt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
               0.85, 0.85, 0.85, 0.7, 0.75, 0.75, 0.75]
    for i, metric in enumerate(metrics * 2):
        ours.step(mg.tensor(metric, dtype=mg.float64) if i % 2 else metric), theirs.step(metric)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in t_opt.param_groups], rtol=1e-12)
    state = ours.state_dict()
    again = ReduceLROnPlateau(opt, **kwargs)
    again.load_state_dict(state)
    assert again.best == ours.best and again.num_bad_epochs == ours.num_bad_epochs


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(mg.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        ReduceLROnPlateau(opt, factor=2)
    with pytest.raises(ValueError, match="AdamW: invalid learning rate"):
        optim.AdamW([nn.Parameter(mg.zeros(1))], lr=-1)
