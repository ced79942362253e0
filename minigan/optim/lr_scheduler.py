"""Learning-rate schedulers as torch's: LambdaLR, StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR, LinearDecayLR (CycleGAN's), and ReduceLROnPlateau (driven by a metric).

A scheduler sets each param group's "lr" from its initial lr and a counter `last_epoch`, which
starts at 0 and goes up by one per `step()`. Call `step()` once per epoch (or once per iteration,
if the schedule is counted in iterations), after the optimizer's steps.

    >>> from minigan import nn, optim
    >>> opt = optim.Adam(nn.Linear(2, 1).parameters(), lr=2e-4, betas=(0.5, 0.999))
    >>> sched = optim.lr_scheduler.LinearDecayLR(opt, n_epochs=100, n_epochs_decay=100)
    >>> for epoch in range(200):
    ...     ...               # train one epoch
    ...     sched.step()

Every lr but ReduceLROnPlateau's is a closed-form function of `last_epoch`, so `state_dict()` /
`load_state_dict()` (plain numbers, checkpoint-friendly) restore a schedule exactly.
"""
import bisect
import math


class LRScheduler:
    """Base class: subclasses define `lr_at(base_lr, epoch, group_index)`."""

    def __init__(self, optimizer, last_epoch=-1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param group {i} has no 'initial_lr'; "
                               f"resuming with last_epoch={last_epoch} needs a group that a "
                               f"scheduler has already seen")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch, group_index):
        raise NotImplementedError

    def get_lr(self):
        """The lr of each group at `last_epoch`."""
        return [self.lr_at(base, self.last_epoch, i) for i, base in enumerate(self.base_lrs)]

    def get_last_lr(self):
        """The lrs the last `step()` set, one per param group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance `last_epoch` by one (or set it to `epoch`) and set each group's lr."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def state_dict(self):
        """Plain numbers: last_epoch, base_lrs, the last lrs and the schedule's settings."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict):
        """Restore `state_dict()`; also sets each group's lr to the restored last lr, so the
        order in which optimizer and scheduler are restored does not matter."""
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise KeyError(f"{type(self).__name__}.load_state_dict: unexpected keys "
                           f"{sorted(unknown)}")
        self.__dict__.update({k: list(v) if isinstance(v, tuple) else v
                              for k, v in state_dict.items()})
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); `lr_lambda` is one function or one per param group.

    The functions are not saved by state_dict (like torch for plain functions).
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per param group), "
                                 f"got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("LambdaLR: lr_lambda must be a function of the epoch or a list of them")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch, group_index):
        return base_lr * self.lr_lambdas[group_index](epoch)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size): decay by gamma every step_size epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch, group_index):
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch); a repeated milestone counts twice."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch, group_index):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch, group_index):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (SGDR without
    restarts): from initial_lr down to eta_min at epoch T_max, then back up, as torch's."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch, group_index):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearDecayLR(LRScheduler):
    """CycleGAN's schedule: constant for `n_epochs`, then linear decay over `n_epochs_decay`.

    lr = initial_lr * factor(epoch), with the reference implementation's formula
        factor(epoch) = 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1)
    where `epoch` is last_epoch (0 before the first step) and `epoch_count` (default 1) is the
    reference's starting epoch number. With epoch_count=1 the factor is 1 for epochs
    0 .. n_epochs - 1 and then falls by 1/(n_epochs_decay + 1) per epoch, reaching
    1/(n_epochs_decay + 1) in the last of the n_epochs + n_epochs_decay epochs and 0 one later.
    Past that the reference would go negative; here the factor stays at 0.
    """

    def __init__(self, optimizer, n_epochs, n_epochs_decay, epoch_count=1, last_epoch=-1):
        for name, value in (("n_epochs", n_epochs), ("n_epochs_decay", n_epochs_decay),
                            ("epoch_count", epoch_count)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"LinearDecayLR: {name} must be an int >= 0, got {value!r}")
        self.n_epochs, self.n_epochs_decay, self.epoch_count = n_epochs, n_epochs_decay, epoch_count
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch):
        """The multiplier of the initial lr at `epoch` (the reference's lambda_rule)."""
        decayed = max(0, epoch + self.epoch_count - self.n_epochs) / float(self.n_epochs_decay + 1)
        return max(0.0, 1.0 - decayed)

    def lr_at(self, base_lr, epoch, group_index):
        return base_lr * self.factor(epoch)


class ReduceLROnPlateau:
    """Multiply each group's lr by `factor` once the metric passed to `step(metric)` has not
    improved for more than `patience` steps (torch's rule, thresholds included), then wait
    `cooldown` steps; lrs never go below `min_lr` (a number or one per group), and a change smaller
    than `eps` is skipped. mode "min" (a loss) or "max" (a score).

        >>> sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
        >>> sched.step(val_loss)          # once per epoch
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        groups = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * groups
        if len(min_lrs) != groups:
            raise ValueError(f"ReduceLROnPlateau: expected {groups} min_lrs, got {len(min_lrs)}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lrs, self.eps = min_lrs, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, a, best):
        if self.mode == "min":
            bound = best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return a < bound
        bound = best * (self.threshold + 1) if self.threshold_mode == "rel" else best + self.threshold
        return a > bound

    def step(self, metrics):
        """Record this epoch's metric (a number or a one-element Tensor) and reduce if it is time."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """Plain numbers: the settings, the best metric, the counters and the last lrs."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise KeyError(f"ReduceLROnPlateau.load_state_dict: unexpected keys {sorted(unknown)}")
        self.__dict__.update(state_dict)
