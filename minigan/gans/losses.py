"""Adversarial losses on discriminator logits, and the regularisers the later objectives add.

D outputs raw scores (logits) of any shape; each loss is a mean over all of them (a PatchGAN's
(B, 1, h, w) map as well as an MLP's (B, 1)). With s = sigmoid:

| name             | discriminator minimises                         | generator minimises        |
|------------------|-------------------------------------------------|----------------------------|
| "vanilla"        | -log s(D(x)) - log(1 - s(D(G(z))))              | log(1 - s(D(G(z))))        |
| "non_saturating" | same as vanilla                                 | -log s(D(G(z)))            |
| "lsgan"          | 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2                | 1/2 (D(G(z)) - 1)^2        |
| "hinge"          | relu(1 - D(x)) + relu(1 + D(G(z)))              | -D(G(z))                   |
| "wgan"           | D(G(z)) - D(x)       + weight clipping          | -D(G(z))                   |
| "wgan_gp"        | D(G(z)) - D(x)       + gradient penalty         | -D(G(z))                   |
| "dragan"         | as non_saturating    + DRAGAN penalty           | -log s(D(G(z)))            |
| "r1"             | as non_saturating    + R1 penalty               | -log s(D(G(z)))            |

"vanilla" is Goodfellow et al.'s minimax game, whose generator gradient vanishes while D wins;
"non_saturating" is the fix from the same paper and the usual default. LSGAN is Mao et al. (2017)
with targets a=0, b=c=1; hinge is the SAGAN / spectral-norm form. The discriminator's two terms are
summed (each a mean over its batch).

The last four need the trainer's help, which the functions below provide:

- "wgan" (Arjovsky et al. 2017): D is a critic with unbounded scores; after every critic step its
  weights are clipped to [-c, c], c = 0.01 (``clip_weights_``); RMSprop(5e-5), n_critic = 5.
- "wgan_gp" (Gulrajani et al. 2017): instead of clipping, ``wgan_gp_penalty``:
  lambda * mean((||grad_x D(x_hat)||_2 - 1)^2) at x_hat = eps real + (1 - eps) fake, eps ~ U[0, 1]
  per sample; lambda = 10, n_critic = 5, Adam(1e-4, betas (0, 0.9)).
- "dragan" (Kodali et al. 2017): the same penalty around the real data (``dragan_penalty``).
- "r1" (Mescheder et al. 2018): (gamma / 2) * mean(||grad_x D(x)||^2) on real data
  (``r1_penalty``).

All three penalties are ``gradient_penalty`` at different points; it differentiates D's scores with
respect to its input with ``autograd.grad(..., create_graph=True)``, so the penalty itself can be
back-propagated into D's weights. The norm is taken per critic decision: over each row of D's
batch (a packed PacGAN row holds ``pack`` samples; a PatchGAN image holds all its patches).

One-sided label smoothing (Salimans et al. 2016): ``real_label=0.9`` makes the discriminator's real
target 0.9 instead of 1 (vanilla, non_saturating, lsgan, dragan, r1); fake targets stay 0.

    >>> d_loss = discriminator_loss(D(x), D(G(z).detach()), "wgan_gp")
    >>> d_loss = d_loss + wgan_gp_penalty(D, x, G(z).detach(), weight=10.0)
    >>> g_loss = generator_loss(D(G(z)), "wgan_gp")
"""
from .. import autograd
from ..nn import functional as F

LOSSES = ("vanilla", "non_saturating", "lsgan", "hinge", "wgan", "wgan_gp", "dragan", "r1")
PLAIN_LOSSES = LOSSES[:4]                         # need nothing from the trainer beyond the loss
WASSERSTEIN = ("wgan", "wgan_gp")                 # critic scores, no sigmoid, no labels
PENALTIES = ("wgan_gp", "dragan", "r1")           # add a gradient penalty to D's loss
_ALIASES = {"wgangp": "wgan_gp"}                  # pytorch-CycleGAN-and-pix2pix's gan_mode name

_NORM_EPS = 1e-12   # sqrt(|g|^2 + eps): a finite derivative where a gradient is exactly zero


# The command-line options that belong to some losses only (examples/gan.py, examples/dcgan.py).
LOSS_OPTIONS = {"clip_value": ("wgan",), "gp_lambda": ("wgan_gp", "dragan"), "r1_gamma": ("r1",)}


def loss_option_error(args):
    """The one-line complaint about an option given for a loss that doesn't use it, or a negative
    one (args: an argparse namespace with `loss` and the LOSS_OPTIONS attributes); None when fine."""
    for name, losses_that_use_it in LOSS_OPTIONS.items():
        value, flag = getattr(args, name), "--" + name.replace("_", "-")
        if value is not None and args.loss not in losses_that_use_it:
            used_by = " and ".join(n.replace("_", "-") for n in losses_that_use_it)
            return f"{flag} applies to --loss {used_by}, not {args.loss}"
        if value is not None and not value >= 0:
            return f"{flag} must be >= 0, got {value}"
    if args.clip_value == 0:
        return "--clip-value must be > 0"
    return None


def check_loss(name, allowed=LOSSES):
    """The canonical loss name ("non-saturating" -> "non_saturating", "wgan-gp" and "wgangp" ->
    "wgan_gp"); ValueError if it is not one of ``allowed``."""
    canonical = str(name).lower().replace("-", "_") if isinstance(name, str) else name
    canonical = _ALIASES.get(canonical, canonical)
    if canonical not in allowed:
        names = ", ".join(repr(n) for n in allowed)
        raise ValueError(f"loss: expected one of {names}, got {name!r}")
    return canonical


def _full_like(logits, value):
    return autograd.full(logits.shape, value, dtype=logits.dtype, device=logits.device)


def criterion(logits, target, loss="non_saturating"):
    """The reference implementations' ``GANLoss``: how far D's raw scores are from a target, a
    scalar Tensor. target: 1.0 for "real" (or a smoothed 0.9), 0.0 for "fake".

    BCE with logits ("vanilla", "non_saturating", "dragan", "r1"), the plain MSE ("lsgan"), or,
    for the critics ("wgan", "wgan_gp"), -mean(s) toward real and mean(s) toward fake. Every
    adversarial loss below and in the translation trainers is built from it.
    """
    loss = check_loss(loss)
    if loss in WASSERSTEIN:
        return -logits.mean() if target else logits.mean()
    if loss == "lsgan":
        return F.mse_loss(logits, _full_like(logits, target))
    return F.binary_cross_entropy_with_logits(logits, _full_like(logits, target))


def discriminator_loss(real_logits, fake_logits, loss="non_saturating", real_label=1.0):
    """The discriminator's loss without any penalty: a scalar Tensor.

    Args:
        real_logits: D's raw outputs on real data, any shape, e.g. (B, 1).
        fake_logits: D's raw outputs on generated data (detached from G), any shape.
        loss: one of ``LOSSES``.
        real_label: the target for real data; below 1 is one-sided label smoothing (not for hinge,
            wgan or wgan_gp, which have no targets).
    """
    loss = check_loss(loss)
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"discriminator_loss: real_label must be in (0, 1], got {real_label!r}")
    if loss == "hinge" or loss in WASSERSTEIN:
        if real_label != 1.0:
            raise ValueError(f"discriminator_loss: label smoothing (real_label < 1) does not apply "
                             f"to the {loss} loss")
        if loss == "hinge":
            return (1 - real_logits).relu().mean() + (1 + fake_logits).relu().mean()
        return fake_logits.mean() - real_logits.mean()     # minus the Wasserstein estimate
    real, fake = criterion(real_logits, real_label, loss), criterion(fake_logits, 0.0, loss)
    if loss == "lsgan":
        return 0.5 * real + 0.5 * fake
    return real + fake


def generator_loss(fake_logits, loss="non_saturating"):
    """The generator's loss on D's raw outputs for generated data (not detached): scalar Tensor."""
    loss = check_loss(loss)
    if loss == "hinge" or loss in WASSERSTEIN:
        return -fake_logits.mean()
    if loss == "lsgan":
        return 0.5 * criterion(fake_logits, 1.0, loss)
    if loss == "vanilla":  # log(1 - sigmoid(l)) = -BCE(l, 0)
        return -criterion(fake_logits, 0.0, loss)
    return criterion(fake_logits, 1.0, loss)


# ---------------------------------------------------------------- regularisers
def gradient_penalty(critic, x, center=1.0, weight=1.0):
    """weight * mean((||grad_x critic(x)||_2 - center)^2) over the critic's batch: scalar Tensor.

    With ``center=0`` the squared norm is used as it is (no square root): weight * mean(||g||^2).

    Args:
        critic: a callable (B, ...) Tensor -> scores (n, ...), n dividing B (D itself, or D after
            packing); row i of the scores judges input rows i*B/n ... (i+1)*B/n - 1.
        x: the points, (B, ...) Tensor; detached here (the penalty reaches D's weights only).
        center: the target norm (1 for WGAN-GP and DRAGAN, 0 for R1).
        weight: lambda.

    The gradient comes from ``autograd.grad(critic(x).sum(), x, create_graph=True)``, so the
    result back-propagates into the critic's weights through a second backward pass.

    >>> D = nn.Linear(3, 1, bias=False)      # D(x) = w . x, whose input gradient is w
    >>> gradient_penalty(D, mg.randn(8, 3), center=1.0, weight=10.0)  # = 10 (|w| - 1)^2
    """
    x = x.detach()
    x.requires_grad_(True)
    scores = critic(x)
    (grad,) = autograd.grad(scores.sum(), x, create_graph=True)        # (B, ...) like x
    squared = (grad * grad).reshape(scores.shape[0], -1).sum(1)       # (n,) one per decision
    if center == 0:
        return weight * squared.mean()
    return weight * (((squared + _NORM_EPS).sqrt() - center) ** 2).mean()


def _per_sample_uniform(x):
    """U[0, 1) of shape (B, 1, ..., 1), broadcasting over one sample of x (B, ...)."""
    return autograd.rand(x.shape[0], *([1] * (x.ndim - 1)), dtype=x.dtype, device=x.device)


def wgan_gp_penalty(critic, real, fake, weight=10.0):
    """Gulrajani et al.'s penalty: ``gradient_penalty`` (center 1) at random interpolates
    x_hat = eps * real + (1 - eps) * fake, eps ~ U[0, 1] per sample, drawn from minigan's global
    generator (so a resumed run draws the same numbers). real, fake: (B, ...) Tensors."""
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"wgan_gp_penalty: real {real.shape} and fake {fake.shape} must have the "
                         f"same shape")
    eps = _per_sample_uniform(real)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return gradient_penalty(critic, x_hat, center=1.0, weight=weight)


def dragan_penalty(critic, real, weight=10.0, scale=0.5):
    """Kodali et al.'s penalty: ``gradient_penalty`` (center 1) at points near the real data.

    As in the authors' reference code (github.com/kodalinaveen3/DRAGAN, DRAGAN.ipynb): the
    perturbed batch is x_p = x + scale * std(x) * U[0, 1) noise per element, with std(x) the
    population standard deviation of the whole batch, and the penalty is taken at
    x + alpha * (x_p - x), alpha ~ U[0, 1] per sample; lambda = 10 there. real: (B, ...) Tensor.
    """
    x = real.detach()
    std = ((x - x.mean()) ** 2).mean().sqrt()                          # () over the whole batch
    noise = autograd.rand(*x.shape, dtype=x.dtype, device=x.device)
    alpha = _per_sample_uniform(x)
    return gradient_penalty(critic, x + alpha * (scale * std * noise), center=1.0, weight=weight)


def r1_penalty(critic, real, gamma=10.0):
    """Mescheder et al.'s R1: (gamma / 2) * mean(||grad_x D(x)||^2) on real data (B, ...)."""
    return gradient_penalty(critic, real, center=0.0, weight=0.5 * gamma)


def clip_weights_(module, value=0.01):
    """WGAN's Lipschitz constraint: clamp every parameter of ``module`` to [-value, value], in place
    on its array (outside the graph, like an optimizer step, and like one it bumps each
    parameter's version, so a graph that saved the old weights refuses to backward). Returns the
    module."""
    with autograd.no_grad():
        for p in module.parameters():
            p.array.clip(-value, value, out=p.array)
            p._version += 1
    return module
