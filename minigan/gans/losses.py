"""Adversarial losses on discriminator logits.

D outputs raw scores (logits) of any shape; each loss is a mean over all of them (a PatchGAN's
(B, 1, h, w) map as well as an MLP's (B, 1)). With s = sigmoid:

| name             | discriminator minimises                         | generator minimises        |
|------------------|-------------------------------------------------|----------------------------|
| "vanilla"        | -log s(D(x)) - log(1 - s(D(G(z))))              | log(1 - s(D(G(z))))        |
| "non_saturating" | same as vanilla                                 | -log s(D(G(z)))            |
| "lsgan"          | 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2                | 1/2 (D(G(z)) - 1)^2        |
| "hinge"          | relu(1 - D(x)) + relu(1 + D(G(z)))              | -D(G(z))                   |

"vanilla" is Goodfellow et al.'s minimax game, whose generator gradient vanishes while D wins;
"non_saturating" is the fix from the same paper and the usual default. LSGAN is Mao et al. (2017)
with targets a=0, b=c=1; hinge is the SAGAN / spectral-norm form. The discriminator's two terms are
summed (each a mean over its batch).

One-sided label smoothing (Salimans et al. 2016): ``real_label=0.9`` makes the discriminator's real
target 0.9 instead of 1 (vanilla, non_saturating, lsgan); fake targets stay 0.

    >>> d_loss = discriminator_loss(D(x), D(G(z).detach()), "non_saturating")
    >>> g_loss = generator_loss(D(G(z)), "non_saturating")
"""
from .. import autograd
from ..nn import functional as F

LOSSES = ("vanilla", "non_saturating", "lsgan", "hinge")


def check_loss(name):
    """The canonical loss name ("non-saturating" -> "non_saturating"); ValueError if unknown."""
    canonical = str(name).lower().replace("-", "_") if isinstance(name, str) else name
    if canonical not in LOSSES:
        names = ", ".join(repr(n) for n in LOSSES)
        raise ValueError(f"loss: expected one of {names}, got {name!r}")
    return canonical


def _full_like(logits, value):
    return autograd.full(logits.shape, value, dtype=logits.dtype, device=logits.device)


def discriminator_loss(real_logits, fake_logits, loss="non_saturating", real_label=1.0):
    """The discriminator's loss: a scalar Tensor.

    Args:
        real_logits: D's raw outputs on real data, any shape, e.g. (B, 1).
        fake_logits: D's raw outputs on generated data (detached from G), any shape.
        loss: one of ``LOSSES``.
        real_label: the target for real data; below 1 is one-sided label smoothing (not for hinge).
    """
    loss = check_loss(loss)
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"discriminator_loss: real_label must be in (0, 1], got {real_label!r}")
    if loss == "hinge":
        if real_label != 1.0:
            raise ValueError("discriminator_loss: label smoothing (real_label < 1) does not apply "
                             "to the hinge loss")
        return (1 - real_logits).relu().mean() + (1 + fake_logits).relu().mean()
    if loss == "lsgan":
        return 0.5 * F.mse_loss(real_logits, _full_like(real_logits, real_label)) + \
            0.5 * F.mse_loss(fake_logits, _full_like(fake_logits, 0.0))
    real = F.binary_cross_entropy_with_logits(real_logits, _full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 0.0))
    return real + fake


def generator_loss(fake_logits, loss="non_saturating"):
    """The generator's loss on D's raw outputs for generated data (not detached): scalar Tensor."""
    loss = check_loss(loss)
    if loss == "hinge":
        return -fake_logits.mean()
    if loss == "lsgan":
        return 0.5 * F.mse_loss(fake_logits, _full_like(fake_logits, 1.0))
    if loss == "vanilla":  # log(1 - sigmoid(l)) = -BCE(l, 0)
        return -F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 0.0))
    return F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 1.0))
