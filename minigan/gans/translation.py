"""What Pix2Pix and CycleGAN share: the reference code's adversarial terms (and its WGAN-GP
penalty), scoring a translation against ground truth, and running a generator over a dataset or a
folder of images (at the training size, or at each image's own size).

Scores are on the [0, 1] pixel scale (images travel in [-1, 1] and are mapped back):

- ``l1``: mean absolute error per pixel and channel;
- ``psnr``: 10 log10(1 / MSE) per image, in dB, averaged over the images (higher is better;
  identical images would give infinity, so each MSE is floored at 1e-10, i.e. 100 dB).

    >>> scores = translation_scores(G_outputs, targets)      # {"l1": 0.06, "psnr": 21.3}
"""
import os
from pathlib import Path

import numpy as np

from .. import backend
from ..autograd import Tensor, cat, no_grad, tensor
from ..data.folder import list_images, load_image, read_image, scan_images
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
    """D's loss as in the reference code: (crit(D(real), 1) + crit(D(fake), 0)) / 2, crit being
    ``gans.losses.criterion`` (BCE with logits, MSE, or for "wgan_gp" -mean / +mean)."""
    return 0.5 * (losses.criterion(real_scores, 1.0, loss)
                  + losses.criterion(fake_scores, 0.0, loss))


def generator_term(fake_scores, loss):
    """G's adversarial loss as in the reference code: crit(D(G(x)), 1)."""
    return losses.criterion(fake_scores, 1.0, loss)


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


def output_name(path, suffix="_fake"):
    """The file a translated image goes to: the input's stem and extension, ``a.jpg`` ->
    ``a_fake.jpg``, so ``a.jpg`` and ``a.png`` give two files."""
    path = Path(path)
    return path.stem + suffix + path.suffix


def translate_folder(translate, in_dir, out_dir, size, channels, device="cpu", preprocess="resize",
                     multiple=1, minimum=1, skip_bad=False):
    """Translate every image in ``in_dir`` into ``out_dir``: ``a.png`` -> ``a_fake.png`` (each
    output in its input's format). Returns [(input path, output path), ...].

    preprocess: "resize" (to ``size``, an int or (height, width), as in training) or "none" (the
    image at its own size: padded by reflection to a multiple of ``multiple`` and at least
    ``minimum`` on each side, translated, and cropped back, so a 80x48 image gives a 80x48 one).
    Images are read with ``channels`` (1 or 3). Every unreadable file is named in one
    ImageReadError, unless ``skip_bad`` (they are left out, and named on stderr). ValueError
    when ``out_dir`` is ``in_dir`` (the inputs would sit beside, or under, their outputs).
    """
    if os.path.abspath(out_dir) == os.path.abspath(in_dir):
        raise ValueError(f"--results {out_dir} is the input folder; the translations would be "
                         f"mixed with the inputs: choose another folder")
    paths, _ = scan_images(list_images(in_dir), skip_bad=skip_bad)
    if preprocess not in ("resize", "none"):
        raise ValueError(f"preprocess must be 'resize' or 'none', got {preprocess!r}")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    with no_grad():
        for path in paths:
            if preprocess == "none":
                image = read_image_array(path, channels)                     # (C, H, W)
                padded, (height, width) = pad_to_multiple(image, multiple, minimum)
                out = translate(tensor(padded[None], device=device))
                out = backend.to_device(out.array, "cpu")[0, :, :height, :width]  # crop back
            else:
                out = translate(tensor(load_image(path, size, channels)[None], device=device))
                out = backend.to_device(out.array, "cpu")[0]                 # (C', H, W)
            target = os.path.join(out_dir, output_name(path))
            save_image_as(target, out)
            written.append((str(path), target))
    return written


def pad_to_multiple(image, multiple, minimum=1):
    """(C, H, W) -> (C, H', W') with H', W' the next multiples of ``multiple`` (at least
    ``minimum``), padded at the bottom and right by reflection (by repeating the edge where the
    image is too small to reflect); also returns the original (H, W)."""
    _, height, width = image.shape
    target = [max(-(-side // multiple) * multiple, -(-minimum // multiple) * multiple)
              for side in (height, width)]
    pads = ((0, 0), (0, target[0] - height), (0, target[1] - width))
    mode = "reflect" if target[0] - height < height and target[1] - width < width else "edge"
    return np.pad(image, pads, mode=mode), (height, width)


def read_image_array(path, channels):
    """An image at its own size: (channels, H, W) float32 in [-1, 1]."""
    from ..data.folder import MODES
    from ..data.transforms import Normalize, ToArray
    return Normalize()(ToArray()(read_image(path, MODES[channels])))


def save_image_as(path, image):
    """Write one (C, H, W) image in [-1, 1] in the format ``path``'s extension names (PNG when
    Pillow does not know it), atomically."""
    from PIL import Image

    from ..io import atomic_write
    pixels = np.round(np.clip((np.asarray(image, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0) * 255)
    pixels = pixels.astype(np.uint8).transpose(1, 2, 0)                      # (H, W, C)
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    options = {"quality": 95} if fmt == "JPEG" else {}
    with atomic_write(path) as f:
        picture.save(f, format=fmt, **options)
