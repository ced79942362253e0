"""Learning-rate schedulers: LambdaLR, StepLR and LinearDecayLR (CycleGAN's), as torch's.

A scheduler sets each param group's "lr" from its initial lr and a counter `last_epoch`, which
starts at 0 and goes up by one per `step()`. Call `step()` once per epoch (or once per iteration,
if the schedule is counted in iterations), after the optimizer's steps.

    >>> from minigan import nn, optim
    >>> opt = optim.Adam(nn.Linear(2, 1).parameters(), lr=2e-4, betas=(0.5, 0.999))
    >>> sched = optim.lr_scheduler.LinearDecayLR(opt, n_epochs=100, n_epochs_decay=100)
    >>> for epoch in range(200):
    ...     ...               # train one epoch
    ...     sched.step()

Every lr is a closed-form function of `last_epoch`, so `state_dict()` / `load_state_dict()` (plain
numbers, checkpoint-friendly) restore a schedule exactly.
"""


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
