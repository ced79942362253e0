"""PatchGAN discriminator (Isola et al. 2017): a map of real/fake scores, one per image patch.

``n_layers`` stride-2 4x4 convolutions (channels ndf, 2 ndf, 4 ndf, 8 ndf at most), one stride-1
4x4 convolution, and a final stride-1 4x4 convolution to one channel; LeakyReLU(0.2) after each but
the last, norm after each but the first and the last. No sigmoid: the scores are logits (vanilla GAN
loss) or raw values (LSGAN). With n_layers = 3 each score sees a 70x70 patch of the input.

Pix2Pix feeds it concat(A, B) (in_channels = C_A + C_B); CycleGAN one image. ``state_dict()`` keys
are the reference implementation's (``model.0.weight``, ``model.2.weight``, ``model.3.weight``...).

    >>> D = PatchDiscriminator(6, ndf=32, n_layers=3)
    >>> D(mg.randn(4, 6, 64, 64)).shape          # 64 -> 32 -> 16 -> 8 -> 7 -> 6
    (4, 1, 6, 6)
"""
from minigan import nn

from .common import check_image_input, norm_layer, uses_bias


def receptive_field(n_layers):
    """Side of the input patch one output score sees: 70 for n_layers = 3 (16, 34, 70, 142...)."""
    field = 4                                     # the last conv: k4, s1
    for stride in [1] + [2] * n_layers:           # walk back through the k4 convs
        field = field * stride + (4 - stride)
    return field


class PatchDiscriminator(nn.Module):
    """(N, in_channels, H, W) -> (N, 1, H', W') patch scores, H' = H / 2 ** n_layers - 2.

    Args:
        in_channels: input channels (Pix2Pix: input + output image channels).
        ndf: channels of the first conv.
        n_layers: stride-2 convs (3 = the 70x70 PatchGAN, 1 = 16x16 patches, 5 = 286x286).
        norm: "batch" or "instance".
    """

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"PatchDiscriminator: n_layers must be an int >= 1, got {n_layers!r}")
        self.in_channels, self.n_layers = in_channels, n_layers
        bias = uses_bias(norm)
        layers = [nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
                  nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):          # n_layers - 1 more stride-2 convs, then stride 1
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1,
                                 bias=bias),
                       norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        nn.init.dcgan_init_(self)

    def min_size(self):
        """Smallest input side giving at least a 1x1 score map: 2 ** n_layers * 3."""
        return 3 * 2 ** self.n_layers

    def forward(self, x):
        check_image_input(x, self.in_channels, f"PatchDiscriminator(n_layers={self.n_layers})",
                          minimum=self.min_size(), note="each stride-2 conv halves the size")
        return self.model(x)
