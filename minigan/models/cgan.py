"""The MLP conditional GAN (Mirza and Osindero 2014), in PyTorch-GAN's form.

G: [embed(label), z] -> Linear 128 -> LeakyReLU(0.2) -> (Linear -> BatchNorm1d -> LeakyReLU(0.2))
for 256, 512, 1024 -> Linear to C*H*W -> Tanh -> (B, C, H, W).
D: [flatten(image), embed(label)] -> Linear 512 -> LeakyReLU(0.2) -> two (Linear 512 -> Dropout(0.4)
-> LeakyReLU(0.2)) -> Linear 1: one logit per image (the LSGAN loss reads it as a score).

Each network has its own label embedding, ``nn.Embedding(n_classes, n_classes)``. The state_dict
keys are ``label_emb.weight`` and ``model.<i>.*``: those of the same torch module.

    >>> G = CGANGenerator(latent_dim=100, n_classes=10, image_shape=(1, 32, 32))
    >>> D = CGANDiscriminator(n_classes=10, image_shape=(1, 32, 32))
    >>> labels = mg.tensor([3, 7])
    >>> D(G(mg.randn(2, 100), labels), labels).shape      # G: (2, 1, 32, 32); D: (2, 1)
    (2, 1)
"""
import numpy as np

from minigan import autograd, nn


def _check_shape(image_shape, name):
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
        raise ValueError(f"{name}: image_shape must be (channels, height, width) of positive ints, "
                         f"got {image_shape!r}")
    return tuple(int(n) for n in shape)


def _check_labels(labels, batch, n_classes, name):
    """labels: an int Tensor of shape (batch,) with values in [0, n_classes).

    The range is checked only for labels on the host: on the GPU it would cost a device-to-host
    sync in every forward. Labels there come from a host batch (checked before it moved) or from
    randint, and an index out of range would not raise anyway: CuPy wraps it around.
    """
    data = labels.array if isinstance(labels, autograd.Tensor) else None
    if data is None or data.dtype.kind not in "iu" or tuple(data.shape) != (batch,):
        got = f"{labels.dtype} of shape {labels.shape}" if data is not None else type(labels).__name__
        raise ValueError(f"{name}: labels must be an int Tensor of shape ({batch},), got {got}")
    if labels.device == "cpu" and batch and (int(data.min()) < 0 or int(data.max()) >= n_classes):
        raise ValueError(f"{name}: labels must lie in [0, {n_classes}), got values in "
                         f"[{int(data.min())}, {int(data.max())}]")


class CGANGenerator(nn.Module):
    """(z (B, latent_dim), labels (B,) int) -> images (B, *image_shape) in [-1, 1].

    Args:
        latent_dim: noise length.
        n_classes: number of labels (also the embedding width).
        image_shape: (channels, height, width) of the output.
        hidden: widths of the hidden layers; all but the first are batch-normalised.
        bn_eps: BatchNorm1d's eps. PyTorch-GAN passes 0.8 (as the second positional argument,
            meaning momentum but landing in eps); it works, and is kept as the default.
    """

    def __init__(self, latent_dim=100, n_classes=10, image_shape=(1, 32, 32),
                 hidden=(128, 256, 512, 1024), bn_eps=0.8):
        super().__init__()
        self.image_shape = _check_shape(image_shape, "CGANGenerator")
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.label_emb = nn.Embedding(n_classes, n_classes)
        layers, width = [], latent_dim + n_classes
        for i, out in enumerate(hidden):
            layers.append(nn.Linear(width, out))
            if i > 0:
                layers.append(nn.BatchNorm1d(out, eps=bn_eps))
            layers.append(nn.LeakyReLU(0.2))
            width = out
        layers += [nn.Linear(width, int(np.prod(self.image_shape))), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z, labels):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"CGANGenerator: expected noise of shape (B, {self.latent_dim}), got "
                             f"{z.shape}")
        _check_labels(labels, z.shape[0], self.n_classes, "CGANGenerator")
        x = autograd.cat([self.label_emb(labels), z], dim=1)   # (B, n_classes + latent_dim)
        return self.model(x).reshape(z.shape[0], *self.image_shape)  # (B, C*H*W) -> (B, C, H, W)


class CGANDiscriminator(nn.Module):
    """(images (B, *image_shape), labels (B,) int) -> (B, 1) scores.

    Args:
        n_classes: number of labels (also the embedding width).
        image_shape: (channels, height, width) of the input.
        hidden: width of the three hidden layers.
        dropout: drop probability after the second and third hidden Linear layers.
    """

    def __init__(self, n_classes=10, image_shape=(1, 32, 32), hidden=512, dropout=0.4):
        super().__init__()
        self.image_shape = _check_shape(image_shape, "CGANDiscriminator")
        self.n_classes = n_classes
        self.label_emb = nn.Embedding(n_classes, n_classes)
        self.model = nn.Sequential(
            nn.Linear(n_classes + int(np.prod(self.image_shape)), hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.Dropout(dropout), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.Dropout(dropout), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1))

    def forward(self, images, labels):
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(f"CGANDiscriminator: expected images of shape (B, "
                             f"{', '.join(map(str, self.image_shape))}), got {images.shape}")
        _check_labels(labels, images.shape[0], self.n_classes, "CGANDiscriminator")
        flat = images.reshape(images.shape[0], -1)              # (B, C, H, W) -> (B, C*H*W)
        return self.model(autograd.cat([flat, self.label_emb(labels)], dim=1))
