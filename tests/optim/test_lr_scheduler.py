"""LR schedulers: values per epoch against the reference formulas and torch's schedulers, state."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.optim.lr_scheduler import LambdaLR, LinearDecayLR, StepLR


def make_optimizer(lr=2e-4, groups=1):
    params = [nn.Parameter(mg.zeros(2)) for _ in range(groups)]
    return optim.Adam([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)])


def lrs_over(scheduler, epochs):
    """The lr of group 0 in each epoch (before that epoch's step)."""
    values = []
    for _ in range(epochs):
        values.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return values


def reference_rule(epoch, n_epochs, n_epochs_decay, epoch_count=1):
    """CycleGAN's lambda_rule (pytorch-CycleGAN-and-pix2pix, networks.get_scheduler)."""
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)


@pytest.mark.parametrize("n_epochs, n_epochs_decay, epoch_count", [(5, 5, 1), (3, 7, 1), (4, 4, 3),
                                                                   (0, 6, 1)])
def test_linear_decay_equals_the_reference_formula(n_epochs, n_epochs_decay, epoch_count):
    opt = make_optimizer()
    sched = LinearDecayLR(opt, n_epochs, n_epochs_decay, epoch_count)
    total = n_epochs + n_epochs_decay
    expected = [2e-4 * max(0.0, reference_rule(e, n_epochs, n_epochs_decay, epoch_count))
                for e in range(total + 3)]
    np.testing.assert_allclose(lrs_over(sched, total + 3), expected, rtol=1e-12)


def test_linear_decay_shape():
    opt = make_optimizer(lr=1.0)
    values = lrs_over(LinearDecayLR(opt, n_epochs=4, n_epochs_decay=3), 9)
    np.testing.assert_allclose(values, [1, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0])   # never negative


def test_linear_decay_equals_torch_lambda_lr():
    torch = pytest.importorskip("torch")
    opt = make_optimizer(groups=2)
    sched = LinearDecayLR(opt, 6, 4)
    t_opt = torch.optim.Adam([{"params": [torch.zeros(2, requires_grad=True)], "lr": 2e-4},
                              {"params": [torch.zeros(2, requires_grad=True)], "lr": 4e-4}])
    t_sched = torch.optim.lr_scheduler.LambdaLR(t_opt, lambda e: reference_rule(e, 6, 4))
    for _ in range(10):
        np.testing.assert_allclose(sched.get_last_lr(), t_sched.get_last_lr(), rtol=1e-12)
        t_opt.step()
        sched.step(), t_sched.step()


@pytest.mark.parametrize("make", [
    lambda o, t: (LambdaLR(o, lambda e: 0.95 ** e), t.optim.lr_scheduler.LambdaLR(
        o.torch, lambda e: 0.95 ** e)),
    lambda o, t: (LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.5]),
                  t.optim.lr_scheduler.LambdaLR(o.torch, [lambda e: 1 / (e + 1), lambda e: 0.5])),
    lambda o, t: (StepLR(o, step_size=3, gamma=0.5), t.optim.lr_scheduler.StepLR(
        o.torch, step_size=3, gamma=0.5)),
])
def test_schedulers_equal_torch(make):
    torch = pytest.importorskip("torch")
    opt = make_optimizer(lr=0.1, groups=2)
    opt.torch = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": 0.1},
                                 {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2}])
    ours, theirs = make(opt, torch)
    for _ in range(10):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in opt.torch.param_groups], rtol=1e-12)
        opt.torch.step()
        ours.step(), theirs.step()


def test_state_dict_round_trip_resumes_the_schedule(tmp_path):
    from minigan.io import load_checkpoint, save_checkpoint
    opt = make_optimizer()
    sched = LinearDecayLR(opt, 3, 3)
    lrs_over(sched, 4)
    save_checkpoint(tmp_path / "s.npz", {"sched": sched.state_dict(), "opt": opt.state_dict()})
    state = load_checkpoint(tmp_path / "s.npz")
    assert state["sched"]["last_epoch"] == 4
    opt2 = make_optimizer()
    opt2.load_state_dict(state["opt"])
    sched2 = LinearDecayLR(opt2, 3, 3)
    sched2.load_state_dict(state["sched"])
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert lrs_over(sched2, 3) == lrs_over(sched, 3)
    with pytest.raises(KeyError, match="unexpected keys \\['bogus'\\]"):
        sched2.load_state_dict({"bogus": 1})


def test_lambda_state_dict_leaves_out_the_function():
    sched = LambdaLR(make_optimizer(), lambda e: 0.5)
    assert "lr_lambdas" not in sched.state_dict()
    assert sched.get_last_lr() == [1e-4]


def test_scheduler_errors():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="n_epochs_decay must be an int >= 0, got -1"):
        LinearDecayLR(opt, 5, -1)
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        StepLR(opt, 0)
    with pytest.raises(ValueError, match="expected 1 lr_lambdas"):
        LambdaLR(opt, [lambda e: 1, lambda e: 1])
    with pytest.raises(KeyError, match="no 'initial_lr'"):
        StepLR(make_optimizer(), 2, last_epoch=5)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        StepLR([1, 2], 2)
