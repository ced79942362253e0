"""The reference's ``--lr-policy`` for the translation trainers, one schedule per optimizer, each
stepped once per epoch (``Trainer.end_epoch``):

- "linear": constant for ``epochs``, then linear decay to 0 over ``epochs_decay``
  (``optim.LinearDecayLR``, the reference's lambda_rule);
- "step": times 0.1 every ``decay_epochs`` (50) epochs (``optim.StepLR``, the reference's
  ``--lr_decay_iters``);
- "cosine": ``optim.CosineAnnealingLR`` over the whole run, T_max = epochs + epochs_decay (the
  reference takes T_max = n_epochs, after which torch's closed form climbs again; here the lr
  reaches 0 as the run ends);
- "plateau": ``optim.ReduceLROnPlateau`` with the reference's settings (mode "min", factor 0.2,
  threshold 0.01, patience 5), given the epoch's mean generator loss (the reference passes a
  constant 0, which makes it a fixed x0.2 every 6 epochs).

    >>> schedulers = make_schedulers([opt_G, opt_D], "cosine", epochs=100, epochs_decay=100)
"""
from ..optim import CosineAnnealingLR, LinearDecayLR, ReduceLROnPlateau, StepLR

LR_POLICIES = ("linear", "step", "plateau", "cosine")


def make_schedulers(optimizers, policy="linear", epochs=100, epochs_decay=100, decay_epochs=50):
    """One schedule of ``policy`` per optimizer (see the module docstring)."""
    if policy not in LR_POLICIES:
        raise ValueError(f"lr_policy must be one of {', '.join(LR_POLICIES)}, got {policy!r}")
    out = []
    for opt in optimizers:
        if policy == "linear":
            out.append(LinearDecayLR(opt, epochs, epochs_decay))
        elif policy == "step":
            out.append(StepLR(opt, step_size=decay_epochs, gamma=0.1))
        elif policy == "cosine":
            out.append(CosineAnnealingLR(opt, T_max=max(1, epochs + epochs_decay)))
        else:
            out.append(ReduceLROnPlateau(opt, mode="min", factor=0.2, threshold=0.01, patience=5))
    return out


def needs_metric(scheduler):
    """True for a schedule stepped with a metric (the plateau policy)."""
    return isinstance(scheduler, ReduceLROnPlateau)
