"""Generators and discriminators: MLPs for points (``mlp``), and the image models (DCGAN, U-Net,
PatchGAN, ResNet) in their own modules; Inception-v3 as FID uses it (``inception``)."""
from .inception import FIDInceptionV3, load_fid_inception
from .mlp import mlp, mlp_discriminator, mlp_generator
from .patchgan import PatchDiscriminator
from .resnet import ResnetGenerator
from .unet import UnetGenerator, unet_64, unet_128, unet_256

__all__ = ["mlp", "mlp_generator", "mlp_discriminator", "UnetGenerator", "unet_64", "unet_128",
           "unet_256", "PatchDiscriminator", "ResnetGenerator", "FIDInceptionV3",
           "load_fid_inception"]
