"""The CycleGAN trainer (Zhu et al. 2017): unpaired translation between domains X and Y.

Two generators, G: X -> Y and F: Y -> X, and two discriminators, D_Y (real Y vs G(x)) and D_X
(real X vs F(y)). One ``train_step(x, y)`` follows the reference implementation:

    fake_y = G(x), rec_x = F(fake_y), fake_x = F(y), rec_y = G(fake_x)
    G and F (D frozen), one Adam for both:
        crit(D_Y(fake_y), 1) + crit(D_X(fake_x), 1)                         adversarial
      + lambda_cycle * (|rec_x - x|_1 + |rec_y - y|_1)                       cycle consistency
      + lambda_identity * lambda_cycle * (|G(y) - y|_1 + |F(x) - x|_1)      identity
    D_Y and D_X, one Adam for both, each on a fake drawn through its image pool (50 earlier fakes):
        (crit(D_Y(y), 1) + crit(D_Y(pool_Y(fake_y)), 0)) / 2 + the same for D_X

with crit = MSE (LSGAN, the default) or BCE with logits, or the reference's ``gan_mode="wgangp"``
(``loss="wgangp"``: crit(s, 1) = -mean(s), crit(s, 0) = mean(s), and each D's loss gains the
gradient penalty ``lambda_gp`` (10) mean((|grad D(x_hat)|_2 - 1)^2) at random interpolates of
its real images and its pool's fakes); Adam(lr 2e-4, betas (0.5, 0.999)); the learning rate
constant for ``epochs`` epochs, then decaying linearly to zero over ``epochs_decay`` (or another
``lr_policy``, see ``gans.schedules``), advanced by ``end_epoch()``, which the ``TrainingLoop``
calls after each epoch.

    >>> trainer = CycleGAN(ResnetGenerator(3, 3, 32, 6), ResnetGenerator(3, 3, 32, 6),
    ...                    PatchDiscriminator(3, 32, norm="instance"),
    ...                    PatchDiscriminator(3, 32, norm="instance"), epochs=5, epochs_decay=5)
    >>> losses = trainer.train_step(summer, winter)      # (1, 3, 64, 64) each, unpaired
    >>> winter_hat = trainer.translate(summer)           # G(x); direction="YtoX" gives F(y)
"""
import itertools

import numpy as np

from .. import distributed
from ..autograd import no_grad, stack
from ..nn.functional import l1_loss
from ..optim import Adam
from .base import Trainer, evaluating, frozen
from .image_pool import ImagePool
from .schedules import make_schedulers
from .translation import (as_rgb, check_lambda_gp, check_translation_loss, discriminator_term,
                          generator_term, penalty_term)

DIRECTIONS = ("XtoY", "YtoX")


class CycleGAN(Trainer):
    """Trains G: X -> Y and F: Y -> X against D_X and D_Y; see the module docstring.

    Args:
        G, F: generators X -> Y and Y -> X (e.g. ``ResnetGenerator``).
        D_X, D_Y: discriminators of domain X and Y images (e.g. ``PatchDiscriminator``).
        lr, betas: Adam's settings (one optimizer for G and F, one for D_X and D_Y).
        lambda_cycle: weight of both cycle-consistency terms (10 in the paper).
        lambda_identity: identity weight relative to lambda_cycle (0.5; 0 turns it off).
        pool_size: fakes kept per domain for the discriminators (50; 0 = no pool).
        loss: "lsgan" (the paper's), "non_saturating" or "wgangp".
        lambda_gp: "wgangp" only: the gradient penalty's weight (None: 10, the reference's).
        epochs, epochs_decay: the LR schedule's lengths, stepped by ``end_epoch``.
        lr_policy: "linear" (the paper's), "step", "plateau" or "cosine" (``gans.schedules``).
        decay_epochs: "step" only: epochs between the x0.1 decays (the reference's 50).
    """

    schedule_unit = "epoch"
    generator_losses = ("g_gan", "cycle", "idt")

    def __init__(self, G, F, D_X, D_Y, lr=2e-4, betas=(0.5, 0.999), lambda_cycle=10.0,
                 lambda_identity=0.5, pool_size=50, loss="lsgan", epochs=100, epochs_decay=100,
                 lambda_gp=None, lr_policy="linear", decay_epochs=50):
        for name, value in (("lambda_cycle", lambda_cycle), ("lambda_identity", lambda_identity)):
            if not value >= 0:
                raise ValueError(f"CycleGAN: {name} must be >= 0, got {value!r}")
        self.G, self.F, self.D_X, self.D_Y = G, F, D_X, D_Y
        self.loss = check_translation_loss(loss)
        self.lambda_gp = check_lambda_gp(lambda_gp, self.loss, "CycleGAN")
        self.lambda_cycle, self.lambda_identity = float(lambda_cycle), float(lambda_identity)
        self.opt_G = Adam(itertools.chain(G.parameters(), F.parameters()), lr=lr, betas=betas)
        self.opt_D = Adam(itertools.chain(D_X.parameters(), D_Y.parameters()), lr=lr, betas=betas)
        self.schedulers = make_schedulers((self.opt_G, self.opt_D), lr_policy, epochs,
                                          epochs_decay, decay_epochs)
        self.pool_X, self.pool_Y = ImagePool(pool_size), ImagePool(pool_size)
        self.nets = {"G": G, "F": F, "D_X": D_X, "D_Y": D_Y}
        self.optimizers = {"opt_G": self.opt_G, "opt_D": self.opt_D}
        self._start()

    def distribute(self, seed):
        """``Trainer.distribute`` (the four networks in DistributedDataParallel), and each image
        pool made a ``DistributedImagePool`` over the global batch, with its own generator seeded
        from ``seed`` (the same on every rank): N ranks at batch B draw what one process at batch
        N * B draws. A pool of size 0 stays as it is (it returns its input)."""
        if getattr(self, "_distributed", False):
            return
        super().distribute(seed)
        for offset, name in ((1, "pool_X"), (2, "pool_Y")):
            size = getattr(self, name).pool_size
            if size:
                setattr(self, name, distributed.DistributedImagePool(
                    ImagePool(size, rng=np.random.default_rng(seed + offset))))

    def _models(self):
        return (self.G, self.F, self.D_X, self.D_Y)

    def train_step(self, x, y):
        """One iteration on a batch of X images and a batch of (unrelated) Y images, each
        (N, C, H, W) in [-1, 1]. Returns the losses: {"d_x", "d_y", "g_gan", "cycle", "idt"}
        (g_gan: both adversarial terms; cycle and idt: weighted, as they enter G's loss), and "gp"
        (both discriminators' gradient penalties, already inside d_x and d_y) for "wgangp"."""
        if self.lambda_identity > 0 and x.shape[1] != y.shape[1]:
            raise ValueError(f"CycleGAN.train_step: the identity loss compares G(y) with y, so X "
                             f"and Y need the same channels, got {x.shape[1]} and {y.shape[1]}; "
                             f"use lambda_identity=0")
        x, y = x.to(self.device), y.to(self.device)
        for model in self._models():
            model.train()
        fake_y = self.G(x)
        rec_x = self.F(fake_y)
        fake_x = self.F(y)
        rec_y = self.G(fake_x)

        with frozen(self.D_X, self.D_Y):
            g_gan = generator_term(self.D_Y(fake_y), self.loss) + \
                generator_term(self.D_X(fake_x), self.loss)
            cycle = self.lambda_cycle * (l1_loss(rec_x, x) + l1_loss(rec_y, y))
            g_loss = g_gan + cycle
            idt = None
            if self.lambda_identity > 0:
                weight = self.lambda_cycle * self.lambda_identity
                idt = weight * (l1_loss(self.G(y), y) + l1_loss(self.F(x), x))
                g_loss = g_loss + idt
            self.opt_G.zero_grad()
            g_loss.backward()
            self.opt_G.step()

        real_y_scores = self.D_Y(y)
        pooled_y = self.pool_Y.query(fake_y.detach())
        d_y = discriminator_term(real_y_scores, self.D_Y(pooled_y), self.loss)
        real_x_scores = self.D_X(x)
        pooled_x = self.pool_X.query(fake_x.detach())
        d_x = discriminator_term(real_x_scores, self.D_X(pooled_x), self.loss)
        gp = None
        if self.lambda_gp:
            gp_y = penalty_term(self.D_Y, y, pooled_y, self.lambda_gp)
            gp_x = penalty_term(self.D_X, x, pooled_x, self.lambda_gp)
            d_y, d_x, gp = d_y + gp_y, d_x + gp_x, gp_y + gp_x
        self.opt_D.zero_grad()
        (d_x + d_y).backward()
        self.opt_D.step()
        self._finish_step()
        losses = {"d_x": d_x, "d_y": d_y, "g_gan": g_gan, "cycle": cycle, "idt": idt, "gp": gp}
        losses = {name: t for name, t in losses.items() if t is not None}
        values = stack([t.detach() for t in losses.values()]).numpy()  # one device sync
        return {name: float(v) for name, v in zip(losses, values)}

    def translate(self, images, direction="XtoY"):
        """G(images) ("XtoY") or F(images) ("YtoX") in eval mode without a graph:
        (N, C, H, W) -> (N, C, H, W)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"translate: direction must be 'XtoY' or 'YtoX', got {direction!r}")
        model = self.G if direction == "XtoY" else self.F
        with evaluating(model), no_grad():
            return model(images.to(self.device))

    def sample_grid(self, x, y):
        """Rows of real x | G(x) | F(G(x)) | real y | F(y) | G(F(y)) for x, y (N, C, H, W):
        (6N, 3, H, W), to save with ``io.save_image_grid(path, grid, nrow=6)``."""
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"sample_grid: x and y need as many images, got {x.shape} and "
                             f"{y.shape}")
        fake_y = self.translate(x, "XtoY")
        fake_x = self.translate(y, "YtoX")
        columns = [x.to(self.device), fake_y, self.translate(fake_y, "YtoX"),
                   y.to(self.device), fake_x, self.translate(fake_x, "XtoY")]
        rows = stack([as_rgb(c) for c in columns], 1)                   # (N, 6, 3, H, W)
        return rows.reshape(-1, 3, *x.shape[2:])                         # (6N, 3, H, W)

    def extra_state(self):
        """Both image pools ({"images": ...}; under mpiexec also "rng", the pool's generator)."""
        return {"pool_X": _pool_state(self.pool_X), "pool_Y": _pool_state(self.pool_Y)}

    def check_extra_state(self, state):
        for name in ("pool_X", "pool_Y"):
            pool = getattr(self, name)
            pool = getattr(pool, "pool", pool)           # inside a DistributedImagePool
            images = state.get(name, {}).get("images") if isinstance(state.get(name), dict) \
                else None
            if images is None or getattr(images, "ndim", 0) != 4 or len(images) > pool.pool_size:
                raise ValueError(f"CycleGAN.load_state_dict: {name} is missing or does not fit a "
                                 f"pool of {pool.pool_size}")

    def load_extra_state(self, state):
        _load_pool(self.pool_X, state["pool_X"], self.device)
        _load_pool(self.pool_Y, state["pool_Y"], self.device)


def _pool_state(pool):
    """An ImagePool's state; a DistributedImagePool's in the same form plus its generator."""
    if isinstance(pool, distributed.DistributedImagePool):
        state = pool.state_dict()
        return {**state["pool"], "rng": state["rng"]}
    return pool.state_dict()


def _load_pool(pool, state, device):
    if isinstance(pool, distributed.DistributedImagePool):
        pool.pool.load_state_dict(state, device)
        if "rng" in state and state["rng"]:   # absent in a single process's checkpoint
            pool.pool.rng.bit_generator.state = state["rng"]
    else:
        pool.load_state_dict(state, device)
