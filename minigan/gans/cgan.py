"""The conditional GAN trainer (Mirza and Osindero 2014): G and D both see a class label.

``CGAN`` is ``GAN`` with labels: ``train_step(real, labels)`` makes ``d_steps`` discriminator updates
on (real, its labels) and (G(z, y), y) for labels y drawn uniformly, then one generator update on
the last fakes. Every option of ``GAN`` carries over except packing and the regularised losses:
``loss`` ("lsgan" by default, as PyTorch-GAN's cGAN; "vanilla", "non_saturating", "hinge"),
``real_label`` < 1 (one-sided label smoothing), ``instance_noise`` (annealed over
``instance_noise_steps``), ``d_steps``, ``ema_decay``.

``matching_aware=True`` is Reed et al.'s (2016) matching-aware discriminator: real images paired
with a wrong label count as fakes too, beside the generated ones (D's fake term is the mean over
both), so D learns early that image and label must agree, and G with it. On synthetic digits it
about halves the steps the samples need to be read as their label.

G is called as ``G(z, labels)`` with z (B, latent_dim) and labels (B,) int64; D as
``D(images, labels)`` -> scores with batch first (``minigan.models.cgan`` has both).

    >>> cgan = CGAN(G, D, optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
    ...             optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)), latent_dim=100)
    >>> cgan.train_step(images, labels)           # -> {"d_loss": 0.25, "g_loss": 0.14}
    >>> grid = cgan.sample(class_rows(10, 8))     # (80, 1, 32, 32): row k holds 8 samples of class k

Sample with BatchNorm in eval mode (``sample`` does): in train mode a batch of one class is
normalised by its own statistics, which wipes out the label, and the classifier reads chance.
"""
import numpy as np

from .. import autograd
from ..autograd import no_grad
from . import losses
from .base import evaluating
from .gan import GAN


def class_rows(n_classes, per_class):
    """Labels for a grid with one row per class: (n_classes * per_class,) int64, [0]*k + [1]*k..."""
    return np.repeat(np.arange(n_classes, dtype=np.int64), per_class)


class CGAN(GAN):
    """Trains a label-conditioned G against a label-conditioned D; see the module docstring.

    Args:
        generator, discriminator: modules called as ``G(z, labels)`` and ``D(images, labels)``.
        g_optimizer, d_optimizer: their optimizers.
        latent_dim: length of the noise vector z.
        n_classes: labels are 0 .. n_classes - 1.
        loss, d_steps, real_label, instance_noise, instance_noise_steps, schedulers, ema_decay:
            as in ``GAN``.
        matching_aware: also show D real images with wrong labels as fakes (Reed et al. 2016).
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, latent_dim=100,
                 n_classes=10, loss="lsgan", d_steps=1, real_label=1.0, instance_noise=0.0,
                 instance_noise_steps=None, schedulers=(), ema_decay=None, matching_aware=False):
        if losses.check_loss(loss) not in losses.PLAIN_LOSSES:
            names = ", ".join(repr(n) for n in losses.PLAIN_LOSSES)
            raise ValueError(f"CGAN: loss {loss!r} needs weight clipping or a gradient penalty, "
                             f"which only the unconditional GAN trainer applies; use one of "
                             f"{names}")
        super().__init__(generator, discriminator, g_optimizer, d_optimizer, (latent_dim,),
                         loss=loss, d_steps=d_steps, pack=1, real_label=real_label,
                         instance_noise=instance_noise, instance_noise_steps=instance_noise_steps,
                         schedulers=schedulers, ema_decay=ema_decay)
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
                or n_classes < 2:
            raise ValueError(f"CGAN: n_classes must be an int >= 2, got {n_classes!r}")
        self.n_classes = int(n_classes)
        self.matching_aware = bool(matching_aware)

    def random_labels(self, n):
        """n labels drawn uniformly from minigan's global generator: (n,) int64 Tensor."""
        return autograd.randint(0, self.n_classes, (n,), device=self.device)

    def wrong_labels(self, labels):
        """A different label for every entry of ``labels`` (B,), uniformly among the others."""
        shift = autograd.randint(1, self.n_classes, (labels.shape[0],), device=self.device)
        return autograd.Tensor((labels.array + shift.array) % self.n_classes)

    def discriminate(self, x, labels):
        """D's scores for samples x (B, ...) with their labels (B,), after instance noise."""
        std = self._noise_std()
        if std > 0:
            x = x + std * autograd.randn(*x.shape, dtype=x.dtype, device=x.device)
        return self.D(x, labels)

    def _check_labels(self, labels, batch):
        """Shape and dtype; the range too while the labels are on the host (a loader's batch), once
        before they move: on the GPU, reading min and max would sync in every step."""
        if labels.ndim != 1 or labels.shape[0] != batch or labels.dtype.kind not in "iu":
            raise ValueError(f"CGAN: labels must be an int Tensor of shape ({batch},), got "
                             f"{labels.dtype} of shape {labels.shape}")
        if labels.device == "cpu" and batch:
            lo, hi = int(labels.array.min()), int(labels.array.max())
            if lo < 0 or hi >= self.n_classes:
                raise ValueError(f"CGAN: labels must lie in [0, {self.n_classes}), got values in "
                                 f"[{lo}, {hi}]")

    def train_step(self, real, labels):
        """One cGAN iteration on real images (B, ...) and their labels (B,) ->
        {"d_loss": float, "g_loss": float}: ``GAN.train_step`` with labels (the hooks below)."""
        return super().train_step(real, labels)

    def _prepare(self, real, conditions):
        (labels,) = conditions
        self._check_labels(labels, real.shape[0])
        if real.device != self.device:
            real, labels = real.to(self.device), labels.to(self.device)
        return real, (labels,)

    def _generate(self, batch):
        """Fakes for labels drawn uniformly (the labels first, then the noise)."""
        fake_labels = self.random_labels(batch)
        return self.G(self.noise(batch), fake_labels), (fake_labels,)

    def _judge(self, x, conditions):
        return self.discriminate(x, *conditions)

    def _d_logits(self, real, conditions, fake, fake_conditions):
        """The fakes first, then (matching-aware) real images with wrong labels, which count as
        fakes too, then the real pairs."""
        fake_logits = self._judge(fake, fake_conditions)
        if self.matching_aware:
            (labels,) = conditions
            mismatched = self.discriminate(real, self.wrong_labels(labels))
            fake_logits = autograd.cat([fake_logits, mismatched], dim=0)
        return self._judge(real, conditions), fake_logits

    def sample(self, labels, z=None, ema=False, batch_size=1024):
        """Images of the requested ``labels`` ((n,) ints: array, list or Tensor), G in eval mode,
        without a graph: (n, C, H, W) Tensor. ``z`` (n, latent_dim) fixes the noise."""
        data = labels.numpy() if isinstance(labels, autograd.Tensor) else np.asarray(labels)
        if data.ndim != 1 or data.dtype.kind not in "iu":
            raise ValueError(f"CGAN.sample: labels must be a 1-D sequence of ints, got "
                             f"{data.dtype} of shape {data.shape}")
        n = len(data)
        labels = autograd.tensor(data.astype(np.int64), device=self.device)
        if ema and self.G_ema is None:
            raise ValueError("CGAN.sample: ema=True needs a CGAN built with ema_decay")
        G = self.G_ema if ema else self.G
        z = self.noise(n) if z is None else autograd.tensor(z, device=self.device)
        if tuple(z.shape) != (n, *self.latent_shape):
            raise ValueError(f"CGAN.sample: z must have shape {(n, *self.latent_shape)}, got "
                             f"{z.shape}")
        with evaluating(G), no_grad():
            parts = [G(z[i:i + batch_size], labels[i:i + batch_size])
                     for i in range(0, n, batch_size)]
        return parts[0] if len(parts) == 1 else autograd.cat(parts, 0)
