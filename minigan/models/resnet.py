"""ResNet generator of CycleGAN (Zhu et al. 2017, after Johnson et al. 2016), as the reference code.

    ReflectionPad(3), conv 7x7 -> ngf, norm, ReLU                       (N, ngf, S, S)
    2 x [conv 3x3 stride 2, norm, ReLU]                                 (N, 4 ngf, S/4, S/4)
    n_blocks x ResnetBlock: x + [pad 1, conv 3x3, norm, ReLU, pad 1, conv 3x3, norm](x)
    2 x [transposed conv 3x3 stride 2, output_padding 1, norm, ReLU]   (N, ngf, S, S)
    ReflectionPad(3), conv 7x7 -> out_channels, Tanh

Padding is by reflection, norm is instance norm for CycleGAN (no affine, no running statistics).
6 blocks for 128x128 images and 9 for 256x256 in the paper. ``state_dict()`` keys are the
reference's (``model.1.weight``, ``model.10.conv_block.1.weight``...).

    >>> G = ResnetGenerator(3, 3, ngf=32, n_blocks=6, norm="instance")
    >>> G(mg.randn(1, 3, 64, 64)).shape
    (1, 3, 64, 64)
"""
from minigan import nn

from .common import check_image_input, norm_layer, uses_bias


class ResnetBlock(nn.Module):
    """x + conv_block(x), conv_block = [ReflectionPad(1), conv 3x3, norm, ReLU, (Dropout),
    ReflectionPad(1), conv 3x3, norm]: (N, dim, H, W) -> (N, dim, H, W)."""

    def __init__(self, dim, norm="instance", use_dropout=False):
        super().__init__()
        bias = uses_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias),
                  norm_layer(norm, dim), nn.ReLU()]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=bias),
                   norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """(N, in_channels, H, W) -> (N, out_channels, H, W); H and W multiples of 4, at least 8.

    Args:
        in_channels, out_channels: image channels.
        ngf: channels after the first conv (2 ngf and 4 ngf after the two downsamplings).
        n_blocks: residual blocks at 1/4 resolution (6 or 9 in the paper).
        norm: "instance" (CycleGAN) or "batch".
        use_dropout: Dropout(0.5) inside each residual block (off in CycleGAN).
    """

    def __init__(self, in_channels=3, out_channels=3, ngf=64, n_blocks=9, norm="instance",
                 use_dropout=False):
        super().__init__()
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"ResnetGenerator: n_blocks must be a non-negative int, got "
                             f"{n_blocks!r}")
        self.in_channels, self.n_blocks = in_channels, n_blocks
        bias = uses_bias(norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias),
                  norm_layer(norm, ngf), nn.ReLU()]
        for mult in (1, 2):                        # ngf -> 2 ngf -> 4 ngf, halving the size
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1,
                                 bias=bias),
                       norm_layer(norm, ngf * mult * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout) for _ in range(n_blocks)]
        for mult in (4, 2):                        # 4 ngf -> 2 ngf -> ngf, doubling the size
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2,
                                          padding=1, output_padding=1, bias=bias),
                       norm_layer(norm, ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        nn.init.dcgan_init_(self)

    def forward(self, x):
        check_image_input(x, self.in_channels, f"ResnetGenerator(n_blocks={self.n_blocks})",
                          multiple=4, minimum=8,
                          note="two stride-2 downsamplings and reflection padding at 1/4 size")
        return self.model(x)
