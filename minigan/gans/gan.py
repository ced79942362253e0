"""The unconditional GAN trainer (Goodfellow et al. 2014): MLP GANs on points, DCGANs on images.

One ``train_step(real)`` makes ``d_steps`` discriminator updates, each on the real batch and a fresh
batch of fakes, then one generator update. Options:

- ``loss``: "vanilla", "non_saturating" (default), "lsgan", "hinge", or one of the objectives that
  regularise D (see ``gans.losses``):
  "wgan" (Arjovsky et al. 2017): D's weights clipped to [-``clip_value``, ``clip_value``] after
  every critic step (0.01);
  "wgan_gp" (Gulrajani et al. 2017): ``gp_lambda`` (10) times the gradient penalty at random
  interpolates of real and fake samples, added to D's loss;
  "dragan" (Kodali et al. 2017): the non-saturating loss plus ``gp_lambda`` (10) times the same
  penalty at perturbed real samples;
  "r1" (Mescheder et al. 2018): the non-saturating loss plus (``r1_gamma`` / 2) mean |grad D(x)|^2
  on real samples (gamma 10).
  ``d_steps`` (n_critic in the WGAN papers) defaults to 5 for "wgan" and "wgan_gp", 1 otherwise.
  The random numbers a penalty needs come from minigan's global generator, which the training
  loop's checkpoint holds, so a resumed run continues with the very same draws;
- ``real_label`` < 1: one-sided label smoothing;
- ``pack`` > 1: PacGAN (Lin et al. 2018). D judges ``pack`` samples at once, all real or all fake,
  which penalises a generator that covers few modes. Samples are joined along dim 1: points
  (B, d) -> (B/pack, pack*d), images (B, C, H, W) -> (B/pack, pack*C, H, W), so D must be built
  for ``pack`` times the input features/channels;
- ``instance_noise`` = sigma: Gaussian noise added to every D input (real and fake), annealed
  linearly to 0 over ``instance_noise_steps`` steps when given (Sønderby et al. 2017);
- ``ema_decay``: keep an exponential moving average of G's weights; ``sample(ema=True)`` uses it.

The generator maps noise of shape (B, *latent_shape) to samples: (B, d) points for an MLP with
``latent_shape=(nz,)``, (B, C, H, W) images for a DCGAN with ``latent_shape=(nz, 1, 1)``. D maps
samples to logits of any shape with batch first ((B, 1), or (B, 1, 1, 1)).

    >>> gan = GAN(G, D, optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999)),
    ...           optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999)), latent_shape=(2,), pack=2)
    >>> losses = gan.train_step(real)      # real: (B, 2) Tensor -> {"d_loss": 1.31, "g_loss": 0.74}
    >>> points = gan.sample(2500)          # (2500, 2) Tensor
    >>> wgan_gp = GAN(G, D, optim.Adam(G.parameters(), 1e-4, betas=(0.0, 0.9)),
    ...               optim.Adam(D.parameters(), 1e-4, betas=(0.0, 0.9)), (2,), loss="wgan_gp")
    >>> wgan_gp.train_step(real)           # {"d_loss": -0.42, "g_loss": 0.31, "penalty": 0.05}
"""
import contextlib
import copy

import numpy as np

from .. import autograd
from ..autograd import no_grad
from ..nn.parallel import unwrap
from . import losses
from .base import Trainer, evaluating, frozen


def pack_samples(x, pack):
    """Join each ``pack`` consecutive samples along dim 1: (B, n, ...) -> (B/pack, pack*n, ...)."""
    if pack == 1:
        return x
    if x.shape[0] % pack:
        raise ValueError(f"pack_samples: batch size {x.shape[0]} is not a multiple of pack={pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])  # sample-major order


def _option(value, default, name, loss, losses_that_use_it, positive=False):
    """A loss-specific hyperparameter: its default for those losses, None for the others (where
    giving it is an error, so a mistyped combination does not go unnoticed)."""
    if loss not in losses_that_use_it:
        if value is not None:
            used_by = " and ".join(repr(n) for n in losses_that_use_it)
            raise ValueError(f"GAN: {name} applies to the {used_by} loss"
                             f"{'es' if len(losses_that_use_it) > 1 else ''}, not {loss!r}")
        return None
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (value > 0 if positive else value >= 0):
        raise ValueError(f"GAN: {name} must be a number {'> 0' if positive else '>= 0'}, got "
                         f"{value!r}")
    return float(value)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"GAN: {name} must be a positive int, got {value!r}")
    return int(value)


class GAN(Trainer):
    """Trains a generator G against a discriminator D; see the module docstring.

    Args:
        generator, discriminator: ``nn.Module``\\ s (already on the training device).
        g_optimizer, d_optimizer: optimizers over G's and D's parameters.
        latent_shape: int or tuple, the shape of one noise vector (``(nz,)`` or ``(nz, 1, 1)``).
        loss: a name in ``losses.LOSSES``.
        d_steps: discriminator updates per generator update (k in Goodfellow et al., n_critic in
            the WGAN papers); None: 5 for "wgan" and "wgan_gp", else 1.
        pack: PacGAN packing degree (1 = a plain discriminator).
        real_label: the discriminator's target for real data (0.9 = one-sided label smoothing).
        instance_noise: std of the Gaussian noise added to D's inputs (0 = off).
        instance_noise_steps: anneal that std linearly to 0 over this many steps (None = constant).
        schedulers: LR schedulers stepped once per ``train_step`` (saved with the trainer).
        ema_decay: decay of an exponential moving average of G's weights (None = off).
        clip_value: "wgan" only: D's weights are clipped to [-clip_value, clip_value] (None: 0.01).
        gp_lambda: "wgan_gp" and "dragan" only: the penalty's weight lambda (None: 10).
        r1_gamma: "r1" only: gamma, the penalty being (gamma / 2) mean |grad D(x)|^2 (None: 10).
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, latent_shape,
                 loss="non_saturating", d_steps=None, pack=1, real_label=1.0, instance_noise=0.0,
                 instance_noise_steps=None, schedulers=(), ema_decay=None, clip_value=None,
                 gp_lambda=None, r1_gamma=None):
        self.G, self.D = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        shape = (latent_shape,) if isinstance(latent_shape, (int, np.integer)) else latent_shape
        self.latent_shape = tuple(_positive_int(n, "latent_shape entries") for n in shape)
        self.loss = losses.check_loss(loss)
        if d_steps is None:
            d_steps = 5 if self.loss in losses.WASSERSTEIN else 1
        self.d_steps = _positive_int(d_steps, "d_steps")
        self.clip_value = _option(clip_value, 0.01, "clip_value", self.loss, ("wgan",),
                                  positive=True)
        self.gp_lambda = _option(gp_lambda, 10.0, "gp_lambda", self.loss, ("wgan_gp", "dragan"))
        self.r1_gamma = _option(r1_gamma, 10.0, "r1_gamma", self.loss, ("r1",))
        self.pack = _positive_int(pack, "pack")
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"GAN: real_label must be in (0, 1], got {real_label!r}")
        if real_label != 1.0 and (self.loss == "hinge" or self.loss in losses.WASSERSTEIN):
            raise ValueError(f"GAN: label smoothing (real_label < 1) does not apply to the "
                             f"{self.loss} loss")
        self.real_label = float(real_label)
        if not instance_noise >= 0:
            raise ValueError(f"GAN: instance_noise must be >= 0, got {instance_noise!r}")
        self.instance_noise, self.instance_noise_steps = float(instance_noise), instance_noise_steps
        self.schedulers = list(schedulers)
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"GAN: ema_decay must be in (0, 1) or None, got {ema_decay!r}")
        self.ema_decay = ema_decay
        self.G_ema = None
        if ema_decay is not None:
            self.G_ema = copy.deepcopy(generator)
            self.G_ema.eval()
            for p in self.G_ema.parameters():
                p.requires_grad_(False)
        self.nets = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            self.nets["G_ema"] = self.G_ema
        self.optimizers = {"g_optimizer": g_optimizer, "d_optimizer": d_optimizer}
        self._start()

    # ------------------------------------------------------------ pieces
    def noise(self, n):
        """n latent vectors from minigan's global generator: (n, *latent_shape) Tensor."""
        return autograd.randn(n, *self.latent_shape, device=self.device)

    def _noise_std(self):
        if self.instance_noise_steps is None:
            return self.instance_noise
        return self.instance_noise * max(0.0, 1.0 - self.step / self.instance_noise_steps)

    def discriminate(self, x):
        """D's logits for samples x (B, ...): instance noise, packing, then D -> (B/pack, ...)."""
        std = self._noise_std()
        if std > 0:
            x = x + std * autograd.randn(*x.shape, dtype=x.dtype, device=x.device)
        return self.D(pack_samples(x, self.pack))

    def penalty(self, real, fake):
        """The gradient penalty the loss adds to D's loss, at D's inputs as ``discriminate`` sees
        them (after packing): a scalar Tensor, or None ("wgan_gp", "dragan", "r1" with a
        positive weight only). real, fake: (B, ...) batches; fake detached from G."""
        if self.loss == "wgan_gp" and self.gp_lambda:
            return losses.wgan_gp_penalty(self.discriminate, real, fake, self.gp_lambda)
        if self.loss == "dragan" and self.gp_lambda:
            return losses.dragan_penalty(self.discriminate, real, self.gp_lambda)
        if self.loss == "r1" and self.r1_gamma:
            return losses.r1_penalty(self.discriminate, real, self.r1_gamma)
        return None

    # ------------------------------------------------------------ training
    def train_step(self, real, *conditions):
        """One GAN iteration on a real batch (B, ...) -> {"d_loss": float, "g_loss": float}, plus
        "penalty" (the last D step's, already inside d_loss) for the penalised losses.

        B must be a multiple of ``pack``. Further batch fields (labels of a labelled dataset) are
        ignored here; ``CGAN`` uses them through the hooks below. The fakes of the last D step are
        reused for the G step (as in the DCGAN reference), so G runs forward once per step when
        ``d_steps`` is 1.
        """
        real, conditions = self._prepare(real, conditions)
        self.G.train()
        self.D.train()
        batch = real.shape[0]
        for i in range(self.d_steps):
            last = i == self.d_steps - 1          # its fakes keep their graph for the G step
            with (contextlib.nullcontext() if last else no_grad()):
                fake, fake_conditions = self._generate(batch)
            real_logits, fake_logits = self._d_logits(real, conditions, fake.detach(),
                                                      fake_conditions)
            d_loss = losses.discriminator_loss(real_logits, fake_logits, self.loss,
                                               self.real_label)
            penalty = self.penalty(real, fake.detach())
            if penalty is not None:
                d_loss = d_loss + penalty
            self.d_optimizer.zero_grad()
            d_loss.backward()
            self.d_optimizer.step()
            if self.clip_value is not None:
                losses.clip_weights_(self.D, self.clip_value)

        with frozen(self.D):                      # G's step needs no gradients for D's weights
            g_loss = losses.generator_loss(self._judge(fake, fake_conditions), self.loss)
            self.g_optimizer.zero_grad()
            g_loss.backward()
            self.g_optimizer.step()
        if self.G_ema is not None:
            self._update_ema()
        self._finish_step()
        terms = [d_loss, g_loss] + ([penalty] if penalty is not None else [])
        values = autograd.stack([t.detach() for t in terms]).numpy()  # one device sync
        return dict(zip(("d_loss", "g_loss", "penalty"), map(float, values)))

    # The hooks CGAN overrides: what G is given, and how D judges.
    def _prepare(self, real, conditions):
        """Check the batch and move it to the device; unconditional: the extra fields dropped."""
        if real.shape[0] % self.pack:
            raise ValueError(f"GAN.train_step: batch size {real.shape[0]} must be a multiple of "
                             f"pack={self.pack}")
        return (real if real.device == self.device else real.to(self.device)), ()

    def _generate(self, batch):
        """A batch of fakes and the conditions they were drawn for (none here)."""
        return self.G(self.noise(batch)), ()

    def _judge(self, x, conditions):
        return self.discriminate(x)

    def _d_logits(self, real, conditions, fake, fake_conditions):
        """D's logits on the real batch and on the (detached) fakes, in that order."""
        return self._judge(real, conditions), self._judge(fake, fake_conditions)

    def _update_ema(self):
        """ema <- decay * ema + (1 - decay) * G, for parameters; buffers (BN statistics) copied."""
        G = unwrap(self.G)                        # the plain model's keys under mpiexec
        with no_grad():
            for ema, p in zip(self.G_ema.parameters(), G.parameters()):
                ema.array *= self.ema_decay
                ema.array += (1.0 - self.ema_decay) * p.array
            ema_state = self.G_ema.state_dict()
            params = {name for name, _ in self.G_ema.named_parameters()}
            buffers = {k: v for k, v in G.state_dict().items() if k not in params}
            if buffers:
                self.G_ema.load_state_dict({**ema_state, **buffers})

    # ------------------------------------------------------------ sampling
    def sample(self, n, z=None, ema=False, batch_size=1024):
        """n generated samples (n, ...) as a Tensor, G in eval mode, without a graph.

        ``z`` (n, *latent_shape) fixes the noise; ``ema=True`` samples from the averaged G.
        G's train/eval mode is restored afterwards (its BN statistics are left untouched).
        """
        if ema and self.G_ema is None:
            raise ValueError("GAN.sample: ema=True needs a GAN built with ema_decay")
        G = self.G_ema if ema else self.G
        z = self.noise(n) if z is None else z
        if tuple(z.shape) != (n, *self.latent_shape):
            raise ValueError(f"GAN.sample: z must have shape {(n, *self.latent_shape)}, got "
                             f"{z.shape}")
        with evaluating(G), no_grad():
            parts = [G(z[i:i + batch_size]) for i in range(0, n, batch_size)]
        return parts[0] if len(parts) == 1 else autograd.cat(parts, 0)
