"""What every trainer shares: its state, its learning-rate schedules, and two small idioms.

A trainer (``GAN``, ``CGAN``, ``Pix2Pix``, ``CycleGAN``) names its networks and optimizers in two
dicts, ``nets`` and ``optimizers``; ``Trainer`` builds ``state_dict()`` and ``load_state_dict()``
from them, and each trainer adds what else it owns (EMA weights, image pools) through
``extra_state()`` / ``load_extra_state()``.

One scheduler convention: a trainer's ``schedulers`` advance in the unit they were built for,
``schedule_unit`` = "step" (once per ``train_step``, by the trainer itself) or "epoch" (once per
pass over the data, in ``end_epoch()``, which the ``TrainingLoop`` calls after every epoch). No
example steps a schedule by hand. A plateau schedule is given the epoch's mean
generator loss.

Under ``mpiexec`` (docs/distributed.md) ``distribute(seed)``, which ``gans.cli.run`` calls, wraps
every trained network in ``DistributedDataParallel`` (its BatchNorm layers made ``SyncBatchNorm``)
and points the trainer's attribute at the wrapper (``self.G`` and so on), while ``nets`` keeps the
plain modules: checkpoints have the same keys as a single process's.

``load_state_dict`` checks everything before it assigns anything: a state that does not fit (a
foreign or damaged checkpoint) raises ValueError and leaves the trainer as it was.

The idioms:

    >>> with evaluating(G):            # eval mode inside, each module's mode restored after
    ...     images = G(z)
    >>> with frozen(D):                # D's parameters need no gradient inside (G's step)
    ...     g_loss = generator_loss(D(G(z)))
"""
import numpy as np

from .. import backend
from ..autograd import Tensor
from ..nn.utils.modes import evaluating, frozen  # noqa: F401  (the trainers' idioms, re-exported)
from .schedules import needs_metric


SCHEDULE_UNITS = ("step", "epoch")


class Trainer:
    """The base of every trainer; see the module docstring. Subclasses set, in ``__init__``:
    ``nets`` (name -> Module), ``optimizers`` (name -> Optimizer), ``schedulers`` (list) and
    ``schedule_unit``, then call ``_start()``; they implement ``train_step``."""

    nets = {}
    optimizers = {}
    schedulers = []
    schedule_unit = "step"
    generator_losses = ()          # the history keys whose sum the plateau policy watches

    def distribute(self, seed):
        """Data parallelism under a process group (``mpiexec``; docs/distributed.md): every net
        with trainable parameters becomes ``DistributedDataParallel(convert_sync_batchnorm(net))``
        (a no-op conversion for nets without BatchNorm), broadcasting rank 0's weights, and the
        attribute of the same name (``self.G``, ``self.D``, ...) is pointed at the wrapper; nets
        without trainable parameters (an EMA copy) stay as they are. ``nets`` keeps the plain
        modules, so ``state_dict()`` is a single process's. ``seed``: the run's seed (the same on
        every rank), for a subclass's shared random state (CycleGAN's pools). A collective: every
        rank calls it, after building the same models. Once; then a no-op."""
        from ..nn.parallel import DistributedDataParallel
        from ..nn.sync_batchnorm import convert_sync_batchnorm
        if getattr(self, "_distributed", False):
            return
        for name, net in list(self.nets.items()):
            if not any(p.requires_grad for p in net.parameters()):
                continue
            plain = convert_sync_batchnorm(net)
            self.nets[name] = plain
            if getattr(self, name, None) is net:
                setattr(self, name, DistributedDataParallel(plain))
        self._distributed = True

    def _start(self):
        if self.schedule_unit not in SCHEDULE_UNITS:
            raise ValueError(f"{type(self).__name__}: schedule_unit must be 'step' or 'epoch', "
                             f"got {self.schedule_unit!r}")
        self.device = next(iter(next(iter(self.nets.values())).parameters())).device
        self.step = 0

    # ------------------------------------------------------------ schedules
    def _finish_step(self):
        """After a train_step's updates: step-unit schedules advance, the counter goes up."""
        if self.schedule_unit == "step":
            for scheduler in self.schedulers:
                scheduler.step()
        self.step += 1

    def end_epoch(self, metric=None):
        """After each pass over the data (the TrainingLoop calls it): epoch-unit schedules
        advance, a plateau schedule with ``metric``. Returns the first optimizer's lr."""
        if self.schedule_unit == "epoch":
            for scheduler in self.schedulers:
                if not needs_metric(scheduler):
                    scheduler.step()
                elif metric is not None:
                    scheduler.step(metric)
        first = next(iter(self.optimizers.values()))
        return first.param_groups[0]["lr"]

    # ------------------------------------------------------------ state
    def extra_state(self):
        """What a subclass owns beside nets, optimizers and schedules (a dict)."""
        return {}

    def load_extra_state(self, state):
        """Restore ``extra_state()``'s entries from ``state``; called after the checks passed."""

    def check_extra_state(self, state):
        """Raise ValueError when ``state`` cannot hold this trainer's extra entries."""

    def state_dict(self):
        """Nets, optimizers, schedules, the step counter and ``extra_state()``."""
        state = {"step": self.step}
        state.update({name: net.state_dict() for name, net in self.nets.items()})
        state.update({name: opt.state_dict() for name, opt in self.optimizers.items()})
        state["schedulers"] = [s.state_dict() for s in self.schedulers]
        state.update(self.extra_state())
        return state

    def load_state_dict(self, state):
        """Restore ``state_dict()``; ValueError (and nothing changed) when the state does not fit.

        Schedules keep their position (epoch or step counter) from the state and take their
        settings from this trainer, so a run resumed with more epochs decays over the new total.
        """
        name = type(self).__name__
        self._check_state(state)
        before = _host_copy(self.state_dict())
        try:
            for key, net in self.nets.items():
                net.load_state_dict(state[key])
            for key, opt in self.optimizers.items():
                opt.load_state_dict(state[key])
            for scheduler, saved in zip(self.schedulers, state["schedulers"]):
                _load_schedule(scheduler, saved)
            self.load_extra_state(state)
            self.step = int(state["step"])
        except (KeyError, ValueError, TypeError, IndexError) as e:
            self._restore(before)
            raise ValueError(f"{name}.load_state_dict: the state does not fit this trainer "
                             f"({type(e).__name__}: {e}); nothing was changed") from e

    def _restore(self, state):
        for key, net in self.nets.items():
            net.load_state_dict(state[key])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state[key])
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        self.load_extra_state(state)
        self.step = int(state["step"])

    def _check_state(self, state):
        """Every key present, every net's arrays of the right names and shapes, the optimizers'
        parameter counts, the schedule count: ValueError naming the first misfit."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise ValueError(f"{name}.load_state_dict: expected a dict, got "
                             f"{type(state).__name__}")
        needed = ["step", "schedulers", *self.nets, *self.optimizers]
        missing = [k for k in needed if k not in state]
        if missing:
            raise ValueError(f"{name}.load_state_dict: the state has no {', '.join(missing)} "
                             f"(it holds {', '.join(sorted(map(str, state))) or 'nothing'}); "
                             f"a checkpoint of another model?")
        for key, net in self.nets.items():
            _check_net(f"{name}.load_state_dict: {key}", net.state_dict(), state[key])
        for key, opt in self.optimizers.items():
            _check_optimizer(f"{name}.load_state_dict: {key}", opt.state_dict(), state[key])
        if not isinstance(state["schedulers"], (list, tuple)) or \
                len(state["schedulers"]) != len(self.schedulers):
            count = len(state["schedulers"]) if isinstance(state["schedulers"], (list, tuple)) \
                else type(state["schedulers"]).__name__
            raise ValueError(f"{name}.load_state_dict: the state has {count} schedulers, this "
                             f"trainer has {len(self.schedulers)} (another --lr-policy?)")
        self.check_extra_state(state)


def _shape(value):
    """The shape without its 1s (a scalar buffer may come back from a file as (1,))."""
    array = value.array if isinstance(value, Tensor) else value
    return tuple(n for n in getattr(array, "shape", ()) if n != 1)


def _check_net(what, own, saved):
    if not isinstance(saved, dict):
        raise ValueError(f"{what}: expected a dict of arrays, got {type(saved).__name__}")
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:4])}" + (" ..." if len(missing) > 4 else "")]
                 if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:4])}" + (" ..." if len(unexpected) > 4
                                                                else "")] if unexpected else [])
        raise ValueError(f"{what}: the saved network has other layers ({'; '.join(parts)}): "
                         f"saved with other model settings?")
    for key, value in own.items():
        if _shape(value) != _shape(saved[key]):
            raise ValueError(f"{what}: {key} has shape {_shape(saved[key])} in the state, "
                             f"{_shape(value)} here: saved with other model settings?")


def _check_optimizer(what, own, saved):
    if not isinstance(saved, dict) or "param_groups" not in saved or "state" not in saved:
        raise ValueError(f"{what}: not an optimizer state")
    groups, saved_groups = own["param_groups"], saved["param_groups"]
    if len(groups) != len(saved_groups) or any(
            len(g["params"]) != len(s.get("params", ())) for g, s in zip(groups, saved_groups)):
        raise ValueError(f"{what}: the optimizer state is for other parameters")


def _load_schedule(scheduler, saved):
    """Position from ``saved``, settings from ``scheduler``: a closed-form schedule is
    re-evaluated at the saved counter (the same lr when the settings are the same)."""
    if not hasattr(scheduler, "lr_at"):
        scheduler.load_state_dict(saved)
        return
    settings = scheduler.state_dict()
    scheduler.load_state_dict({**settings, "last_epoch": saved["last_epoch"],
                               "base_lrs": saved["base_lrs"]})
    scheduler.step(int(saved["last_epoch"]))


def _host_copy(tree):
    """A deep copy of a state tree with every array (or Tensor) copied to a NumPy array."""
    if isinstance(tree, dict):
        return {k: _host_copy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_host_copy(v) for v in tree)
    if isinstance(tree, Tensor):
        return backend.to_device(tree.array, "cpu").copy()
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        return np.array(backend.to_device(tree, "cpu"))
    return tree


def non_finite_entries(tree, prefix=""):
    """The key paths of the arrays (and floats) in ``tree`` that hold a NaN or an infinity."""
    bad = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            bad += non_finite_entries(v, f"{prefix}{k}/")
        return bad
    if isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            bad += non_finite_entries(v, f"{prefix}{i}/")
        return bad
    name = prefix.rstrip("/")
    if isinstance(tree, float):
        return [] if np.isfinite(tree) else [name]
    array = tree.array if isinstance(tree, Tensor) else tree
    if hasattr(array, "dtype") and array.dtype.kind == "f":
        xp = backend.get_array_module(array)
        if not bool(xp.isfinite(array).all()):
            return [name]
    return []
