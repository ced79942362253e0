"""What Pix2Pix and CycleGAN share: the reference code's adversarial terms (and its WGAN-GP
penalty), scoring a translation
against ground truth, running a generator over a dataset or a folder of images, and switching
gradients off for a discriminator.

Scores are on the [0, 1] pixel scale (images travel in [-1, 1] and are mapped back):

- ``l1``: mean absolute error per pixel and channel;
- ``psnr``: 10 log10(1 / MSE) per image, in dB, averaged over the images (higher is better;
  identical images would give infinity, so each MSE is floored at 1e-10, i.e. 100 dB).

    >>> scores = translation_scores(G_outputs, targets)      # {"l1": 0.06, "psnr": 21.3}
"""
import contextlib
import os

import numpy as np

from .. import backend
from ..autograd import Tensor, cat, no_grad, tensor
from ..data.folder import list_images, load_image
from . import losses

TRANSLATION_LOSSES = ("non_saturating", "lsgan", "wgan_gp")

_MIN_MSE = 1e-10


def check_translation_loss(loss):
    """"non_saturating" (what the reference code calls "vanilla": BCE with logits, G's target 1),
    "lsgan", or "wgan_gp" (the reference's gan_mode "wgangp"; either name is accepted); ValueError
    otherwise."""
    try:
        return losses.check_loss(loss, TRANSLATION_LOSSES)
    except ValueError:
        raise ValueError(f"loss: Pix2Pix and CycleGAN take 'non_saturating', 'lsgan' or 'wgangp', "
                         f"got {loss!r}") from None


def check_lambda_gp(lambda_gp, loss, trainer):
    """The gradient penalty's weight: 10 (the reference's) for "wgan_gp" unless given, None for the
    other losses, where giving one is an error."""
    if loss != "wgan_gp":
        if lambda_gp is not None:
            raise ValueError(f"{trainer}: lambda_gp applies to the 'wgangp' loss only, not "
                             f"{loss!r}")
        return None
    lambda_gp = 10.0 if lambda_gp is None else lambda_gp
    if not lambda_gp >= 0:
        raise ValueError(f"{trainer}: lambda_gp must be >= 0, got {lambda_gp!r}")
    return float(lambda_gp)


def discriminator_term(real_scores, fake_scores, loss):
    """D's loss as in the reference code, halved: (crit(D(real), 1) + crit(D(fake), 0)) / 2 with
    crit = BCE-with-logits or MSE (``gans.losses``' lsgan form already carries the 1/2), or, for
    "wgan_gp", crit(D(real), 1) = -mean D(real) and crit(D(fake), 0) = mean D(fake)."""
    d_loss = losses.discriminator_loss(real_scores, fake_scores, loss)
    return d_loss if loss == "lsgan" else 0.5 * d_loss


def generator_term(fake_scores, loss):
    """G's adversarial loss as in the reference code: crit(D(G(x)), 1) (for lsgan the plain MSE,
    twice ``gans.losses.generator_loss``, which halves it; for "wgan_gp" -mean D(G(x)))."""
    g_loss = losses.generator_loss(fake_scores, loss)
    return 2.0 * g_loss if loss == "lsgan" else g_loss


def penalty_term(D, real, fake, lambda_gp):
    """The reference's ``cal_gradient_penalty(netD, real, fake, type="mixed", constant=1.0,
    lambda_gp)`` (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py): lambda_gp times
    mean((|grad D(x_hat)|_2 - 1)^2) over the images, x_hat = alpha real + (1 - alpha) fake, alpha
    ~ U[0, 1] per image, the norm over all of an image's pixels (the gradient of the sum of its
    patch scores). None when lambda_gp is None or 0. The reference's own Pix2Pix and CycleGAN
    models never call that function (their "wgangp" trains the critic loss alone); here the trainers
    add it to D's loss at full weight, beside the halved adversarial terms."""
    if not lambda_gp:
        return None
    return losses.wgan_gp_penalty(D, real, fake, weight=lambda_gp)


def _host(images):
    """Tensor or array in [-1, 1] -> float64 NumPy array on the [0, 1] scale."""
    data = images.array if isinstance(images, Tensor) else images
    return (backend.to_device(data, "cpu").astype(np.float64) + 1.0) / 2.0


def translation_scores(outputs, targets):
    """Mean L1 and mean per-image PSNR of ``outputs`` against ``targets``, both (N, C, H, W) in
    [-1, 1] (Tensors or arrays): {"l1": float, "psnr": float}."""
    out, tgt = _host(outputs), _host(targets)
    if out.shape != tgt.shape:
        raise ValueError(f"translation_scores: outputs {out.shape} and targets {tgt.shape} differ")
    mse = ((out - tgt) ** 2).reshape(len(out), -1).mean(axis=1)       # (N,)
    psnr = 10.0 * np.log10(1.0 / np.maximum(mse, _MIN_MSE))
    return {"l1": float(np.abs(out - tgt).mean()), "psnr": float(psnr.mean())}


def translate_batches(translate, inputs, batch_size=16):
    """``translate`` ((B, C, H, W) Tensor -> Tensor) over ``inputs`` (N, C, H, W) array in
    batches, without a graph: (N, C', H, W) NumPy array."""
    outs = []
    with no_grad():
        for i in range(0, len(inputs), batch_size):
            outs.append(backend.to_device(translate(tensor(inputs[i:i + batch_size])).array, "cpu"))
    return np.concatenate(outs)


def score_translation(translate, inputs, targets, batch_size=16):
    """Scores of ``translate(inputs)`` against ``targets`` and of the identity baseline
    (output = input), inputs and targets (N, C, H, W) arrays in [-1, 1]:
    {"l1", "psnr", "identity_l1", "identity_psnr"}."""
    outputs = translate_batches(translate, inputs, batch_size)
    scores = translation_scores(outputs, targets)
    if inputs.shape == targets.shape:
        identity = translation_scores(inputs, targets)
        scores.update(identity_l1=identity["l1"], identity_psnr=identity["psnr"])
    return scores


def as_rgb(images):
    """(N, 1 or 3, H, W) Tensor -> (N, 3, H, W) (grayscale repeated), to tile with colour images."""
    return images if images.shape[1] == 3 else cat([images] * 3, 1)


def stack_field(dataset, field):
    """Field ``field`` of every sample of ``dataset`` stacked: (N, ...) float32 NumPy array."""
    return np.stack([dataset[i][field] for i in range(len(dataset))]).astype(np.float32)


def translate_folder(translate, in_dir, out_dir, size, channels, device="cpu"):
    """Translate every image in ``in_dir`` and write PNGs with the same names to ``out_dir``.

    Images are resized to ``size`` (int or (height, width)) and read with ``channels`` (1 or 3).
    Returns the list of written paths.
    """
    from ..io import save_image_grid
    paths = list_images(in_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    with no_grad():
        for path in paths:
            image = load_image(path, size, channels)[None]                   # (1, C, H, W)
            out = translate(tensor(image, device=device))
            target = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + ".png")
            save_image_grid(target, out, nrow=1, padding=0)
            written.append(target)
    return written


@contextlib.contextmanager
def frozen(*modules):
    """Turn off ``requires_grad`` on the modules' parameters inside the block (a generator step
    needs no gradients for the discriminator's weights, which saves their computation)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
