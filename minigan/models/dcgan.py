"""DCGAN generator and discriminator (Radford, Metz and Chintala 2016), for 32x32 and 64x64 images.

G: noise (B, nz, 1, 1) -> ConvTranspose2d(nz, ngf*2^(n-1), 4, 1, 0) to 4x4, then n-1 transposed convs
(4, 2, 1) that double the side and halve the channels, each followed by BatchNorm2d and ReLU, and a
last transposed conv to ``channels`` with Tanh: (B, channels, size, size) in [-1, 1].
D: the mirror image, strided convs (4, 2, 1) with LeakyReLU(0.2) and BatchNorm2d (none after the
first conv), then Conv2d(ndf*2^(n-1), 1, 4, 1, 0) on the 4x4 map -> (B, 1) logits. ``norm="none"``
drops D's BatchNorm (its convs get biases instead): a gradient penalty (WGAN-GP, DRAGAN, R1) is
a per-sample quantity, which BatchNorm's mixing of a batch breaks (Gulrajani et al. 2017, sec. 4);
``norm="instance"`` uses per-sample InstanceNorm2d (affine) instead.
Here n = log2(size) - 2: 3 blocks for 32x32, 4 for 64x64 (the paper's network).

Both are ``nn.Sequential`` subclasses, so their state_dict keys ("0.weight", "1.running_mean", ...)
are those of the same layers in a ``torch.nn.Sequential``. Weights start as the paper says:
N(0, 0.02) for convolutions, N(1, 0.02) for BatchNorm scales (``nn.init.dcgan_init_``).

    >>> G = DCGANGenerator(image_size=32, latent_dim=100, channels=1, ngf=64)
    >>> D = DCGANDiscriminator(image_size=32, channels=1, ndf=64)
    >>> D(G(mg.randn(8, 100, 1, 1))).shape        # G: (8, 1, 32, 32); D: (8, 1)
    (8, 1)
"""
from minigan import nn

D_NORMS = ("batch", "instance", "none")


def _blocks(image_size, name):
    """n = log2(image_size) - 2 stride-2 stages between 4x4 and image_size."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16 \
            or image_size & (image_size - 1):
        raise ValueError(f"{name}: image_size must be a power of two >= 16 (32 and 64 are the usual "
                         f"ones), got {image_size!r}")
    return image_size.bit_length() - 3


def _check_positive(value, what, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")


class DCGANGenerator(nn.Sequential):
    """(B, latent_dim, 1, 1) noise -> (B, channels, image_size, image_size) images in [-1, 1].

    Args:
        image_size: a power of two >= 16 (32 or 64).
        latent_dim: nz, the noise length.
        channels: output channels (1 grey, 3 RGB).
        ngf: width of the last hidden layer; the first has ngf * 2^(n-1) channels.
    """

    def __init__(self, image_size=32, latent_dim=100, channels=1, ngf=64):
        n = _blocks(image_size, "DCGANGenerator")
        for value, what in ((latent_dim, "latent_dim"), (channels, "channels"), (ngf, "ngf")):
            _check_positive(value, what, "DCGANGenerator")
        width = ngf * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),   # 1x1 -> 4x4
                  nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(n - 1):                                                  # side x2 per block
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        super().__init__(*layers)
        self.image_size, self.latent_dim, self.channels = image_size, latent_dim, channels
        nn.init.dcgan_init_(self)

    def forward(self, z):
        if z.ndim == 2:  # (B, nz) -> (B, nz, 1, 1)
            z = z.reshape(z.shape[0], z.shape[1], 1, 1)
        if z.ndim != 4 or z.shape[1:] != (self.latent_dim, 1, 1):
            raise ValueError(f"DCGANGenerator: expected noise of shape (B, {self.latent_dim}, 1, 1) "
                             f"or (B, {self.latent_dim}), got {z.shape}")
        return super().forward(z)


class DCGANDiscriminator(nn.Sequential):
    """(B, channels, image_size, image_size) images -> (B, 1) logits (no sigmoid: the losses take
    logits).

    Args:
        image_size: a power of two >= 16 (32 or 64).
        channels: input channels.
        ndf: width of the first layer; the last hidden one has ndf * 2^(n-1) channels.
        norm: "batch" (the paper's), "instance" (InstanceNorm2d with affine) or "none" (hidden
            convs with a bias instead); the first and last convs have none in every case.
    """

    def __init__(self, image_size=32, channels=1, ndf=64, norm="batch"):
        n = _blocks(image_size, "DCGANDiscriminator")
        for value, what in ((channels, "channels"), (ndf, "ndf")):
            _check_positive(value, what, "DCGANDiscriminator")
        if norm not in D_NORMS:
            raise ValueError(f"DCGANDiscriminator: norm must be 'batch', 'instance' or 'none', got "
                             f"{norm!r}")
        layers = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]  # no norm here
        width = ndf
        for _ in range(n - 1):                                                       # side /2
            layers.append(nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(width * 2))
            elif norm == "instance":
                layers.append(nn.InstanceNorm2d(width * 2, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten()]          # 4x4 -> (B, 1)
        super().__init__(*layers)
        self.image_size, self.channels, self.norm = image_size, channels, norm
        nn.init.dcgan_init_(self)

    def forward(self, x):
        side = self.image_size
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2:] != (side, side):
            raise ValueError(f"DCGANDiscriminator: expected images of shape (B, {self.channels}, "
                             f"{side}, {side}) (the size it was built for), got {x.shape}")
        return super().forward(x)
