"""The Pix2Pix trainer (Isola et al. 2017): paired image-to-image translation A -> B.

A generator G (a U-Net) maps A to B; a conditional PatchGAN D judges concat(A, B) pairs, real
(A, B) against fake (A, G(A)). One ``train_step(a, b)`` follows the reference implementation:

    fake_b = G(a)
    D: loss_D = (crit(D([a, b]), 1) + crit(D([a, fake_b]), 0)) / 2       (fake_b detached)
    G: loss_G = crit(D([a, fake_b]), 1) + lambda_l1 * |fake_b - b|_1      (D frozen)

with crit = BCE with logits (``loss="non_saturating"``, the reference's "vanilla") or MSE
(``"lsgan"``), or the reference's ``gan_mode="wgangp"`` (``loss="wgangp"``): crit(s, 1) = -mean(s),
crit(s, 0) = mean(s), and D's loss gains the gradient penalty ``lambda_gp`` (10) mean((|grad
D(x_hat)|_2 - 1)^2) at random interpolates of the real and fake pairs. Adam(lr 2e-4, betas
(0.5, 0.999)) for each network; the learning rate constant for ``epochs`` epochs, then decaying
linearly over ``epochs_decay`` (or another ``lr_policy``, see ``gans.schedules``), advanced by
``end_epoch()``, which the ``TrainingLoop`` calls after each epoch.

    >>> trainer = Pix2Pix(unet_64(3, 3, ngf=32), PatchDiscriminator(6, ndf=32), epochs=5)
    >>> losses = trainer.train_step(labels, photos)     # (B, 3, 64, 64) each
    >>> photos_hat = trainer.translate(labels)          # eval mode, no graph
"""
from ..autograd import cat, no_grad, stack
from ..nn.functional import l1_loss
from ..nn import BatchNorm2d, Dropout, SyncBatchNorm
from ..nn.parallel import unwrap
from ..optim import Adam
from .base import Trainer, evaluating, frozen
from .schedules import make_schedulers
from .translation import (as_rgb, check_lambda_gp, check_translation_loss, discriminator_term,
                          generator_term, penalty_term)

NORM_STATS = ("running", "batch")


class Pix2Pix(Trainer):
    """Trains G: A -> B against a conditional PatchGAN D; see the module docstring.

    Args:
        generator: (N, C_A, H, W) -> (N, C_B, H, W), e.g. ``unet_64``.
        discriminator: (N, C_A + C_B, H, W) -> patch scores, e.g. ``PatchDiscriminator``.
        lr, betas: Adam's settings for both networks.
        lambda_l1: weight of the L1 term (100 in the paper).
        loss: "non_saturating" (BCE, the paper's), "lsgan" or "wgangp".
        lambda_gp: "wgangp" only: the gradient penalty's weight (None: 10, the reference's).
        epochs, epochs_decay: the LR schedule's lengths, stepped by ``end_epoch``.
        lr_policy: "linear" (the paper's), "step", "plateau" or "cosine" (``gans.schedules``).
        decay_epochs: "step" only: epochs between the x0.1 decays (the reference's 50).
    """

    schedule_unit = "epoch"
    generator_losses = ("g_gan", "g_l1")

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lambda_l1=100.0,
                 loss="non_saturating", epochs=100, epochs_decay=100, lambda_gp=None,
                 lr_policy="linear", decay_epochs=50):
        if not lambda_l1 >= 0:
            raise ValueError(f"Pix2Pix: lambda_l1 must be >= 0, got {lambda_l1!r}")
        self.G, self.D = generator, discriminator
        self.loss, self.lambda_l1 = check_translation_loss(loss), float(lambda_l1)
        self.lambda_gp = check_lambda_gp(lambda_gp, self.loss, "Pix2Pix")
        self.opt_G = Adam(generator.parameters(), lr=lr, betas=betas)
        self.opt_D = Adam(discriminator.parameters(), lr=lr, betas=betas)
        self.nets = {"G": self.G, "D": self.D}
        self.optimizers = {"opt_G": self.opt_G, "opt_D": self.opt_D}
        self.schedulers = make_schedulers((self.opt_G, self.opt_D), lr_policy, epochs,
                                          epochs_decay, decay_epochs)
        self._start()

    def train_step(self, a, b):
        """One iteration on a batch of pairs, a (N, C_A, H, W) and b (N, C_B, H, W) in [-1, 1].

        Returns {"d": D's loss, "g_gan": G's adversarial term, "g_l1": the unweighted L1}, and
        "gp" (the gradient penalty, already inside "d") for "wgangp".
        """
        if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
            raise ValueError(f"Pix2Pix.train_step: a {a.shape} and b {b.shape} must share batch "
                             f"size and image size")
        a, b = a.to(self.device), b.to(self.device)
        self.G.train()
        self.D.train()
        fake_b = self.G(a)

        fake_ab = cat([a, fake_b.detach()], 1)                   # D sees (N, C_A + C_B, H, W)
        fake_scores = self.D(fake_ab)
        real_ab = cat([a, b], 1)
        d_loss = discriminator_term(self.D(real_ab), fake_scores, self.loss)
        gp = penalty_term(self.D, real_ab, fake_ab, self.lambda_gp)
        if gp is not None:
            d_loss = d_loss + gp
        self.opt_D.zero_grad()
        d_loss.backward()
        self.opt_D.step()

        with frozen(self.D):
            g_gan = generator_term(self.D(cat([a, fake_b], 1)), self.loss)
            g_l1 = l1_loss(fake_b, b)
            self.opt_G.zero_grad()
            (g_gan + self.lambda_l1 * g_l1).backward()
            self.opt_G.step()
        self._finish_step()
        terms = [d_loss, g_gan, g_l1] + ([gp] if gp is not None else [])
        values = stack([t.detach() for t in terms]).numpy()           # one device sync
        return dict(zip(("d", "g_gan", "g_l1", "gp"), map(float, values)))

    def translate(self, a, norm_stats="running"):
        """G(a) without a graph and without dropout: (N, C_A, H, W) -> (N, C_B, H, W).

        norm_stats: "running" (eval mode: BatchNorm uses its running statistics) or "batch" (each
        image normalised by its own statistics, as the reference's test at batch size 1; the
        running statistics are left as they were).
        """
        if norm_stats not in NORM_STATS:
            raise ValueError(f"translate: norm_stats must be 'running' or 'batch', got "
                             f"{norm_stats!r}")
        a = a.to(self.device)
        G = unwrap(self.G)               # under mpiexec rank 0 translates alone: no collectives
        with evaluating(G), no_grad():
            if norm_stats == "running":
                return G(a)
            return _per_image_batch_stats(G, a)

    def sample_grid(self, a, b, norm_stats="running"):
        """Rows of input a | output G(a) | target b for a (N, C_A, H, W), b (N, C_B, H, W):
        (3N, 3, H, W), to save with ``io.save_image_grid(path, grid, nrow=3)``."""
        columns = [a.to(self.device), self.translate(a, norm_stats), b.to(self.device)]
        rows = stack([as_rgb(c) for c in columns], 1)                   # (N, 3, 3, H, W)
        return rows.reshape(-1, 3, *a.shape[2:])                         # (3N, 3, H, W)


def _per_image_batch_stats(G, a):
    """G on each image alone, BatchNorm in train mode (statistics of that image), dropout off;
    the running statistics are restored afterwards."""
    syncs = [m for m in G.modules() if isinstance(m, SyncBatchNorm)]
    for m in syncs:          # under mpiexec: this image's own statistics, not the job's
        m.__class__ = BatchNorm2d
    try:
        return _per_image(G, a)
    finally:
        for m in syncs:
            m.__class__ = SyncBatchNorm


def _per_image(G, a):
    norms = [m for m in G.modules() if isinstance(m, BatchNorm2d) and m.track_running_stats]
    buffers = [(m.running_mean, m.running_var, m.num_batches_tracked) for m in norms]
    saved = [[b.array.copy() for b in group] for group in buffers]
    G.train()
    for m in G.modules():
        if isinstance(m, Dropout):
            m.eval()
    try:
        return cat([G(a[i:i + 1]) for i in range(a.shape[0])], 0)
    finally:
        for group, arrays in zip(buffers, saved):
            for buffer, array in zip(group, arrays):
                buffer.array[...] = array
