"""The training loop every GAN family shares: steps over a DataLoader with checkpoints, exact
resume, a divergence guard, a clean Ctrl-C or SIGTERM, a tqdm bar with live losses, and a
loss-curve PNG.

The loop drives any *trainer* object (``gans.base.Trainer``) with three methods:

- ``train_step(*batch) -> dict[str, float]``: one optimisation step on one loader batch (a tuple of
  Tensors, splatted: ``train_step(images)``, ``train_step(images, labels)``, ``train_step(a, b)``),
  returning the step's losses as Python floats;
- ``state_dict()`` / ``load_state_dict(state)``: everything the trainer owns (models, optimizers,
  schedulers, pools, counters), in the nested form ``minigan.io.save_checkpoint`` stores.

and, when it has one, ``end_epoch(metric)``, which the loop calls after every pass over the data
(the trainer's epoch-unit learning-rate schedules advance there; ``metric`` is the epoch's mean
generator loss, for the plateau policy).

The checkpoint (``<out>/checkpoint.safetensors``, rewritten atomically) also holds minigan's global
random state, the loader's position (epoch and batch) and the loss history, so ``run(resume=True)``
continues with the very numbers an uninterrupted run would have produced. A run resumed with a
larger ``steps``/``epochs`` continues to the new total.

Divergence: a step's non-finite loss stops the run at once; before every checkpoint is written,
every array of the trainer's state (parameters, buffers such as BatchNorm's running statistics,
optimizer moments) is checked too, so a checkpoint on disk is always finite. Either way
``NonFiniteLossError`` names what went bad and the last good checkpoint.

    >>> loop = TrainingLoop(gan, loader, "out/gan", steps=3000, checkpoint_every=500)
    >>> history = loop.run(resume=args.resume)     # {"d_loss": [...], "g_loss": [...]}

Under a process group (``mpiexec -n N``, docs/distributed.md) every rank runs the loop: each
step's losses are averaged over the ranks before the NaN check, the history and the bar; a stop
signal is agreed on with ``any_rank`` so that every rank stops after the same step; a
``DistributedSampler`` gets ``set_epoch`` at each pass; the checkpoint holds every rank's random
state and the world size (rank 0 alone writes it, and the loss curve, and draws the bar); a resume
at another world size is refused unless ``allow_reshard``; ``on_epoch_end`` runs on rank 0 only
(it must make no collectives: evaluation in eval mode without a graph makes none). Without a
process group none of this changes anything.
"""
import math
import os
import signal
import threading

import numpy as np

from .. import distributed, io
from .. import random as mg_random
from .base import non_finite_entries


class NonFiniteLossError(RuntimeError):
    """Training diverged: a NaN or infinite loss, parameter, buffer or optimizer state. The last
    good checkpoint is kept."""


# Settings that may change on resume: the run's length (and what follows it, the schedules).
EXTENDABLE = ("steps", "epochs", "epochs_decay", "lr_decay_steps")
STOP_SIGNALS = ("SIGINT", "SIGTERM")


class TrainingLoop:
    """Run ``trainer.train_step`` over ``loader`` for a number of steps (or epochs).

    Args:
        trainer: an object with ``train_step(*batch)``, ``state_dict()``, ``load_state_dict()``.
        loader: a ``minigan.data.DataLoader`` (anything iterable with ``len()``, ``epoch``,
            ``state_dict()`` and ``load_state_dict()`` in its style).
        out_dir: folder for the checkpoint and the loss curve (created if missing).
        steps: total training steps; or ``epochs``: total passes over the loader (give one).
        checkpoint_every: steps between checkpoints (default: one epoch, ``len(loader)``); a final
            checkpoint is always written. 0 turns periodic checkpoints off.
        config: a dict of JSON-able settings stored in the checkpoint; resuming with a different
            config raises ValueError (resuming a batch-512 run at batch 64 would not be a resume).
            The keys in ``EXTENDABLE`` (the run's length) may change.
        on_epoch_end: ``fn(epoch)`` called after each finished pass (e.g. to save a sample grid),
            after the trainer's ``end_epoch``.
        progress: show a tqdm bar with the latest losses.
        desc: the bar's label.
        save_epoch_freq: also keep ``checkpoint_epoch<NNN>.safetensors`` every this many epochs (0:
            off), to test any of them later (the reference's ``--save_epoch_freq``).
        allow_reshard: resume a checkpoint written by another number of ranks (``--allow-reshard``).
    Attributes after ``run``: ``step``, ``history`` (dict name -> list of floats, one per step),
    ``interrupted`` (True when Ctrl-C or SIGTERM stopped the run), ``checkpoint_path``,
    ``loss_curve_path``, ``saved_step`` (the step of the last checkpoint written or loaded).
    """

    def __init__(self, trainer, loader, out_dir, steps=None, epochs=None, checkpoint_every=None,
                 config=None, on_epoch_end=None, progress=True, desc="train", save_epoch_freq=0,
                 allow_reshard=False):
        if (steps is None) == (epochs is None):
            raise ValueError(f"TrainingLoop: give exactly one of steps or epochs, got "
                             f"steps={steps!r}, epochs={epochs!r}")
        if len(loader) == 0:
            raise ValueError("TrainingLoop: the loader yields no batches (dataset smaller than one "
                             "batch with drop_last=True?)")
        total = steps if steps is not None else epochs * len(loader)
        if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
            raise ValueError(f"TrainingLoop: steps/epochs must be non-negative ints, got "
                             f"steps={steps!r}, epochs={epochs!r}")
        every = len(loader) if checkpoint_every is None else checkpoint_every
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 0:
            raise ValueError(f"TrainingLoop: checkpoint_every must be a non-negative int, got "
                             f"{checkpoint_every!r}")
        if isinstance(save_epoch_freq, bool) or not isinstance(save_epoch_freq, (int, np.integer)) \
                or save_epoch_freq < 0:
            raise ValueError(f"TrainingLoop: save_epoch_freq must be a non-negative int, got "
                             f"{save_epoch_freq!r}")
        self.save_epoch_freq = int(save_epoch_freq)
        self.trainer, self.loader = trainer, loader
        self.total_steps, self.checkpoint_every = int(total), int(every)
        self.config = dict(config or {})
        self.on_epoch_end, self.progress, self.desc = on_epoch_end, progress, desc
        self.out_dir = os.fspath(out_dir)
        self.checkpoint_path = os.path.join(self.out_dir, io.CHECKPOINT_NAME)
        self.loss_curve_path = os.path.join(self.out_dir, "losses.png")
        self.step, self.batch_in_epoch = 0, 0
        self.history = {}
        self.interrupted = False
        self.saved_step = None
        self._stop_requested = False
        self._signalled = False       # under a process group: this rank got a stop signal
        self.allow_reshard = bool(allow_reshard)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self):
        """The trainer's state plus the loop's: step, data position, history, random state."""
        loader_state = self.loader.state_dict()
        history = {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}
        if self.batch_in_epoch == len(self.loader):  # an epoch's last batch: resume at the next
            loader_state = {**loader_state, "epoch": self.loader.epoch + 1}
            position = 0
        else:
            position = self.batch_in_epoch
        state = {
            "trainer": self.trainer.state_dict(),
            "loop": {"step": self.step, "batch_in_epoch": position, "loader": loader_state,
                     "history": history,
                     "config": self.config},
            "rng": mg_random.get_state(),
        }
        if distributed.is_initialized():    # every rank's stream (a collective), and how many
            state["rng"] = distributed.rng_state()
            state["world_size"] = distributed.get_world_size()
        return state

    def epoch_checkpoint_path(self, epoch):
        """Where the snapshot after ``epoch`` (1-based) goes:
        ``checkpoint_epoch<NNN>.safetensors``."""
        return os.path.join(self.out_dir, f"checkpoint_epoch{epoch:03d}.safetensors")

    def load_state_dict(self, state):
        # a run of N ranks wrote "world_size"; a single process did not (one rank)
        distributed.check_world_size(state.get("world_size", 1), self.allow_reshard)
        loop = state["loop"]
        changed = sorted(k for k in set(loop["config"]) | set(self.config)
                         if loop["config"].get(k) != self.config.get(k) and k not in EXTENDABLE)
        if changed:
            details = ", ".join(f"{k}: {loop['config'].get(k)!r} -> {self.config.get(k)!r}"
                                for k in changed)
            raise ValueError(f"resume: the checkpoint {self.checkpoint_path!r} was written with "
                             f"other settings ({details}); use the same settings or another --out")
        position = int(loop["batch_in_epoch"])
        if position >= len(self.loader):
            raise ValueError(f"resume: the checkpoint {self.checkpoint_path!r} stopped at batch "
                             f"{position} of an epoch, but the data now gives {len(self.loader)} "
                             f"batches per epoch: the dataset changed; resume with the same data "
                             f"or train into another --out")
        self.trainer.load_state_dict(state["trainer"])
        self.loader.load_state_dict(loop["loader"])
        self.step, self.batch_in_epoch = int(loop["step"]), position
        self.history = {k: [float(x) for x in v] for k, v in loop["history"].items()}
        if "world_size" in state:
            distributed.set_rng_state(state["rng"], self.allow_reshard)
        elif distributed.is_initialized():  # a single process's checkpoint, resharded
            distributed.set_rng_state({"world_size": 1, "ranks": {"0": state["rng"]}},
                                      self.allow_reshard)
        else:
            mg_random.set_state(state["rng"])
        self.saved_step = self.step

    def save(self, path=None):
        """Check that the state is finite, write the checkpoint (atomically) and return its path.
        NonFiniteLossError, with nothing written, when any array of the state is not finite.
        Under a process group every rank calls it (the state gathers every rank's random state);
        rank 0 writes."""
        state = self.state_dict()
        bad = non_finite_entries({k: v for k, v in state["trainer"].items()
                                  if k != "schedulers"})      # a plateau's best starts at inf
        if bad:
            shown = ", ".join(bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
            raise NonFiniteLossError(f"step {self.step}: training diverged: non-finite values in "
                                     f"{shown}; stopped without saving, and {self._kept()}. Try "
                                     f"a lower learning rate.")
        path = path or self.checkpoint_path
        if distributed.is_main_process():
            io.save_checkpoint(path, state)
        if path == self.checkpoint_path:
            self.saved_step = self.step
        return path

    def _kept(self):
        if self.saved_step is not None and os.path.isfile(self.checkpoint_path):
            return f"the last good checkpoint is {self.checkpoint_path!r} (step {self.saved_step})"
        if os.path.isfile(self.checkpoint_path):
            return f"the last good checkpoint is {self.checkpoint_path!r}"
        return "no checkpoint was written yet"

    def resume(self):
        """Load ``<out>/checkpoint.safetensors`` (or a minigan 0.1 run's ``checkpoint.npz``);
        FileNotFoundError when there is none."""
        path = io.checkpoint_path(self.out_dir)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"resume: no checkpoint at {self.checkpoint_path!r} (train "
                                    f"without --resume first, or point --out at the run's folder)")
        self.load_state_dict(io.load_checkpoint(path))

    def save_loss_curve(self):
        if any(self.history.values()) and distributed.is_main_process():
            io.plot_losses(self.loss_curve_path, self.history, title=f"{self.desc}: losses")

    # ------------------------------------------------------------ the loop
    def run(self, resume=False):
        """Train up to ``total_steps``; returns ``history``.

        Raises ``NonFiniteLossError`` on a NaN/inf loss, or a non-finite state at a checkpoint
        (the checkpoint on disk stays the last good one). The first Ctrl-C (or SIGTERM) finishes
        the current step, saves a checkpoint and returns with ``interrupted = True``; a second one
        aborts at once.
        """
        if resume:
            self.resume()
        main = distributed.is_main_process()
        if main:
            os.makedirs(self.out_dir, exist_ok=True)
        previous_handlers = self._install_stop_handlers()
        bar = self._progress_bar()
        try:
            while self.step < self.total_steps and not self._stop_requested:
                self._run_epoch(bar)
            if self._stop_requested:
                self.interrupted = True
                if main:
                    bar.write(f"interrupted at step {self.step}; checkpoint saved to "
                              f"{self.checkpoint_path} (continue with --resume)")
            self.save()
        finally:
            bar.close()
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            self.save_loss_curve()
        return self.history

    def _run_epoch(self, bar):
        """One pass over the loader from the saved position, stopping early at the step budget."""
        epoch, skip = self.loader.epoch, self.batch_in_epoch
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, distributed.DistributedSampler):
            sampler.set_epoch(epoch)              # this pass's shard of this epoch's order
        group = distributed.is_initialized()
        batches = iter(self.loader)
        for _ in range(skip):  # resume mid-epoch: replay the order, drop what was already used
            next(batches)
        for batch in batches:
            losses = self.trainer.train_step(*(batch if isinstance(batch, tuple) else (batch,)))
            if group:                             # the same numbers on every rank
                losses = distributed.average_losses(losses)
            self._check_finite(losses)
            self.step += 1
            self.batch_in_epoch += 1
            for name, value in losses.items():
                self.history.setdefault(name, []).append(value)
            if group:                             # every rank stops after the same step
                self._stop_requested = distributed.any_rank(self._signalled)
            bar.update(1)
            if self.step % 10 == 0 or self.step == self.total_steps:
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            epoch_done = self.batch_in_epoch == len(self.loader)
            if epoch_done:
                self._end_epoch(epoch)
            if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                self.save()
            if epoch_done and self.save_epoch_freq and (epoch + 1) % self.save_epoch_freq == 0:
                self.save(self.epoch_checkpoint_path(epoch + 1))
            if self.step >= self.total_steps or self._stop_requested:
                return
        self.batch_in_epoch = 0

    def _end_epoch(self, epoch):
        """The trainer's epoch-end (its schedules, given the epoch's mean generator loss), then
        the caller's ``on_epoch_end``."""
        end_epoch = getattr(self.trainer, "end_epoch", None)
        if end_epoch is not None:
            names = getattr(self.trainer, "generator_losses", ())
            n = len(self.loader)
            values = [float(np.mean(self.history[k][-n:])) for k in names if self.history.get(k)]
            end_epoch(sum(values) if values else None)
        if self.on_epoch_end is not None and distributed.is_main_process():
            self.on_epoch_end(epoch)

    def _check_finite(self, losses):
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            raise NonFiniteLossError(f"step {self.step + 1}: non-finite loss "
                                     f"({', '.join(f'{k}={v}' for k, v in bad.items())}); training "
                                     f"stopped and {self._kept()}. Try a lower learning rate.")

    def _install_stop_handlers(self):
        """First Ctrl-C or SIGTERM: stop after the current step (and save). Second: the usual
        KeyboardInterrupt. Returns the handlers replaced, to put back."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            if self._stop_requested or self._signalled:
                raise KeyboardInterrupt
            if distributed.is_initialized():
                self._signalled = True            # the ranks agree after the step (any_rank)
            else:
                self._stop_requested = True
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            print(f"\n{name}: stopping after step {self.step + 1} and saving a checkpoint "
                  f"(again to abort without saving)", flush=True)

        previous = {}
        for name in STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, handler)
        return previous

    def _progress_bar(self):
        from tqdm import tqdm
        return tqdm(total=self.total_steps, initial=self.step, desc=self.desc,
                    disable=not self.progress or not distributed.is_main_process(),
                    dynamic_ncols=True, leave=True)
