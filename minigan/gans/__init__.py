"""GAN trainers, one per family, and what they share: the trainer base (``base``), adversarial
losses, the training loop, and the examples' command-line path (``cli``) and results pages
(``report``).

    >>> from minigan.gans import GAN, TrainingLoop
    >>> gan = GAN(G, D, g_opt, d_opt, latent_shape=(2,), pack=2)
    >>> TrainingLoop(gan, loader, "out/gan", steps=3000).run()
"""
from .cyclegan import CycleGAN
from .gan import GAN, pack_samples
from .image_pool import ImagePool
from .losses import (LOSSES, PLAIN_LOSSES, clip_weights_, discriminator_loss, dragan_penalty,
                     generator_loss, gradient_penalty, r1_penalty, wgan_gp_penalty)
from .base import Trainer, evaluating, frozen
from .pix2pix import Pix2Pix
from .trainer import NonFiniteLossError, TrainingLoop

__all__ = ["GAN", "pack_samples", "LOSSES", "PLAIN_LOSSES", "discriminator_loss", "generator_loss",
           "gradient_penalty", "wgan_gp_penalty", "dragan_penalty", "r1_penalty", "clip_weights_",
           "TrainingLoop", "NonFiniteLossError", "Trainer", "evaluating", "frozen", "Pix2Pix",
           "CycleGAN", "ImagePool"]
