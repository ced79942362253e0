"""U-Net generator of Pix2Pix (Isola et al. 2017), laid out as the reference implementation.

The U is built from the inside out: each :class:`UnetSkipBlock` wraps the smaller U below it
(``submodule``) between a 4x4 stride-2 convolution down and a 4x4 stride-2 transposed convolution
up, and concatenates its input to its output (the skip connection), so every up path sees the
features of the matching down path::

    x (C_in, S) -down-> (ngf, S/2) -down-> ... -> (8 ngf, 1) -up-> ... -up-> (C_out, S) = tanh(...)

Down blocks: LeakyReLU(0.2), conv, norm (none on the outermost and the innermost). Up blocks: ReLU,
transposed conv, norm, and Dropout(0.5) in the ngf*8 blocks between the innermost and the first
channel reduction (three of them in unet_256, as in the reference code). The outermost ends in Tanh.

``state_dict()`` keys are the reference's (``model.model.0.weight``, ``model.model.1.model.3...``),
so weights trained with the reference PyTorch code load here and the other way round.

    >>> G = unet_64(3, 3, ngf=32)                    # 6 downsamplings: sides multiple of 64
    >>> G(mg.randn(4, 3, 64, 64)).shape
    (4, 3, 64, 64)
"""
import minigan as mg
from minigan import nn

from .common import check_image_input, norm_layer, uses_bias


class UnetSkipBlock(nn.Module):
    """One level of the U: down conv, the inner U (``submodule``), up conv, then concat(x, out).

    Args:
        outer_nc: channels of this level's input (and of its up conv's output).
        inner_nc: channels after the down conv (and coming back from the inner U).
        input_nc: channels of the input if not ``outer_nc`` (the outermost block's image channels).
        submodule: the inner U (None for the innermost block).
        outermost, innermost: position in the U.
        norm: "batch" or "instance".
        use_dropout: Dropout(0.5) after this level's up block.

    Shapes: (N, input_nc, H, W) -> (N, input_nc + outer_nc, H, W) (outermost: (N, outer_nc, H, W)).
    """

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        bias = uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        down_conv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [down_conv, submodule, nn.ReLU(), up_conv, nn.Tanh()]
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                         bias=bias)
            layers = [nn.LeakyReLU(0.2), down_conv, nn.ReLU(), up_conv, norm_layer(norm, outer_nc)]
        else:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1,
                                         bias=bias)
            layers = [nn.LeakyReLU(0.2), down_conv, norm_layer(norm, inner_nc), submodule,
                      nn.ReLU(), up_conv, norm_layer(norm, outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return mg.cat([x, self.model(x)], 1)      # skip: (N, C_x + outer_nc, H, W)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` stride-2 levels: (N, in_channels, H, W) -> (N, out_channels, H, W).

    H and W must be multiples of 2 ** num_downs (the innermost level is then (H, W) / 2 **
    num_downs; at exactly 2 ** num_downs it is 1x1, as in the paper). Weights start at N(0, 0.02),
    norm scales at N(1, 0.02).

    Args:
        in_channels, out_channels: image channels (3 for RGB, 1 for grayscale).
        num_downs: levels (>= 5): 6 = unet_64, 7 = unet_128, 8 = unet_256.
        ngf: channels after the first down conv; deeper levels have 2, 4, then 8 times as many.
        norm: "batch" (Pix2Pix) or "instance".
        use_dropout: Dropout(0.5) in the ngf*8 up blocks (``num_downs - 5`` of them).
    """

    def __init__(self, in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch",
                 use_dropout=True):
        super().__init__()
        if isinstance(num_downs, bool) or not isinstance(num_downs, int) or num_downs < 5:
            raise ValueError(f"UnetGenerator: num_downs must be an int >= 5, got {num_downs!r}")
        self.in_channels, self.num_downs = in_channels, num_downs
        block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, norm=norm,
                                  use_dropout=use_dropout)
        block = UnetSkipBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipBlock(out_channels, ngf, input_nc=in_channels, submodule=block,
                                   outermost=True, norm=norm)
        nn.init.dcgan_init_(self)

    @property
    def name(self):
        return f"unet_{2 ** self.num_downs}"

    def forward(self, x):
        multiple = 2 ** self.num_downs
        check_image_input(x, self.in_channels, self.name, multiple=multiple, minimum=multiple,
                          note=f"{self.num_downs} stride-2 downsamplings")
        return self.model(x)


def unet_64(in_channels=3, out_channels=3, ngf=64, norm="batch", use_dropout=True):
    """U-Net with 6 levels, for 64x64 images (sides multiple of 64)."""
    return UnetGenerator(in_channels, out_channels, 6, ngf, norm, use_dropout)


def unet_128(in_channels=3, out_channels=3, ngf=64, norm="batch", use_dropout=True):
    """U-Net with 7 levels, for 128x128 images (sides multiple of 128)."""
    return UnetGenerator(in_channels, out_channels, 7, ngf, norm, use_dropout)


def unet_256(in_channels=3, out_channels=3, ngf=64, norm="batch", use_dropout=True):
    """U-Net with 8 levels, for 256x256 images (the paper's generator; sides multiple of 256)."""
    return UnetGenerator(in_channels, out_channels, 8, ngf, norm, use_dropout)
