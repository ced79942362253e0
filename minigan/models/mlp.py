"""Multilayer perceptrons for 2-D GANs: the generator and discriminator of the ring benchmark.

The defaults are PacGAN's ring networks (Lin et al. 2018), as calibrated in CALIBRATION.md: G with
4 hidden layers of 400 ReLU units, D with 3 hidden layers of 200 ReLU units. Both are plain
``nn.Sequential``\\ s, so ``state_dict()`` keys (``"0.weight"``, ``"2.bias"``...) are those of the
same ``torch.nn.Sequential`` and weights move between the two.

    >>> G = mlp_generator(latent_dim=2)          # (B, 2) noise -> (B, 2) points
    >>> D = mlp_discriminator(pack=2)            # (B/2, 4) packed points -> (B/2, 1) logits
"""
from minigan import nn

ACTIVATIONS = ("relu", "leaky_relu")


def _activation(name):
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {name!r}")


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def mlp(in_features, hidden, layers, out_features, activation="relu"):
    """``layers`` hidden Linear+activation blocks of width ``hidden``, then a Linear to the output.

    (B, in_features) -> (B, out_features). Modules are numbered like torch's Sequential:
    Linear at 0, 2, 4, ..., activations between, the output Linear last.
    """
    for value, name in ((in_features, "in_features"), (hidden, "hidden"),
                        (out_features, "out_features")):
        _check_positive(value, f"mlp: {name}")
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
        raise ValueError(f"mlp: layers must be a non-negative int, got {layers!r}")
    modules, width = [], in_features
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), _activation(activation)]
        width = hidden
    modules.append(nn.Linear(width, out_features))
    return nn.Sequential(*modules)


def mlp_generator(latent_dim=2, out_features=2, hidden=400, layers=4, activation="relu"):
    """G: (B, latent_dim) noise -> (B, out_features) samples (no output activation)."""
    return mlp(latent_dim, hidden, layers, out_features, activation)


def mlp_discriminator(in_features=2, hidden=200, layers=3, pack=1, activation="relu"):
    """D: (B/pack, pack*in_features) packed samples -> (B/pack, 1) logits (PacGAN when pack > 1)."""
    _check_positive(pack, "mlp_discriminator: pack")
    return mlp(in_features * pack, hidden, layers, 1, activation)
