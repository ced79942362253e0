"""The translation examples' network choices, as the reference's ``--netG``, ``--norm``,
``--init_type`` and ``--init_gain``.

    >>> G = define_G("resnet_9blocks", 3, 3, ngf=64, norm="instance")
    >>> init_weights(G, "xavier", 0.02)
    >>> multiple, minimum = size_rule(G)         # 4, 8: what --preprocess none pads to

``norm="none"`` is no normalisation layer (with conv biases, which a norm's shift no longer
replaces; the reference drops them there as well, an accident of how it tests for instance norm).
"""
import math

import numpy as np

from .. import backend, nn
from .. import random as mg_random
from ..models.resnet import ResnetGenerator
from ..models.unet import UnetGenerator

NET_G = ("resnet_6blocks", "resnet_9blocks", "unet_64", "unet_128", "unet_256")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def define_G(name, in_channels, out_channels, ngf, norm, use_dropout=False):
    """One of ``NET_G``: a ResNet generator with 6 or 9 blocks, or a U-Net for 64/128/256."""
    if name.startswith("resnet_"):
        return ResnetGenerator(in_channels, out_channels, ngf, int(name[7]), norm=norm,
                               use_dropout=use_dropout)
    if name.startswith("unet_"):
        levels = int(math.log2(int(name[5:])))
        return UnetGenerator(in_channels, out_channels, levels, ngf, norm=norm,
                             use_dropout=use_dropout)
    raise ValueError(f"--netG must be one of {', '.join(NET_G)}, got {name!r}")


def size_rule(G):
    """(multiple, minimum) that the generator's input sides must meet."""
    if isinstance(G, UnetGenerator):
        return 2 ** G.num_downs, 2 ** G.num_downs
    return 4, 8


def init_weights(net, init_type="normal", gain=0.02):
    """The reference's ``init_weights``: conv and linear weights from N(0, gain) ("normal"),
    Glorot normal with ``gain`` ("xavier"), He normal, fan_in ("kaiming") or an orthogonal
    matrix times ``gain`` ("orthogonal"), biases 0; BatchNorm weights N(1, gain), biases 0.
    Draws from minigan's global generator. Returns ``net``."""
    if init_type not in INIT_TYPES:
        raise ValueError(f"--init-type must be one of {', '.join(INIT_TYPES)}, got {init_type!r}")
    rng = mg_random.generator()

    def init(m):
        weight = getattr(m, "weight", None)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if init_type == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(weight, gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            else:
                _orthogonal_(weight, gain, rng)
        elif isinstance(m, nn.BatchNorm2d) and weight is not None:
            nn.init.normal_(weight, 1.0, gain)
        else:
            return
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)

    return net.apply(init)


def _orthogonal_(weight, gain, rng):
    """torch's orthogonal_: the weight flattened to (rows, rest), Q of a QR of a normal matrix
    with its signs fixed by R's diagonal, transposed when rows < rest, times gain."""
    rows = weight.shape[0]
    cols = int(np.prod(weight.shape[1:]))
    flat = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)                                  # q (max, min) orthonormal columns
    q = q * np.sign(np.diag(r))                                # unique: R's diagonal positive
    if rows < cols:
        q = q.T                                                # (rows, cols)
    values = (gain * q).reshape(weight.shape).astype(weight.dtype)
    weight.array[...] = backend.to_device(values, weight.device)
