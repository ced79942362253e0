"""A small digit classifier: the judge of cGAN samples and the feature extractor of the Fréchet
distance (``minigan.gans.evaluation``).

Stride-2 4x4 convolutions halve the side until it is 4 or less (two for 16x16, three for 28x28 and
32x32, four for 64x64), doubling the channels, with LeakyReLU(0.2) and BatchNorm2d after all but the
first; then Linear -> ReLU to ``feature_dim`` features (the "penultimate" layer) and a Linear head
to the class logits.

    >>> model = DigitClassifier(image_size=32, channels=1)
    >>> model.features(mg.randn(4, 1, 32, 32)).shape, model(mg.randn(4, 1, 32, 32)).shape
    ((4, 128), (4, 10))
"""
from minigan import nn


class DigitClassifier(nn.Module):
    """(B, channels, image_size, image_size) -> (B, n_classes) logits; ``features`` gives
    (B, feature_dim).

    Args:
        image_size: side of the (square) input images, >= 8.
        channels: input channels.
        n_classes: number of classes.
        width: channels of the first convolution (doubled by each later one).
        feature_dim: size of the penultimate layer.
    """

    def __init__(self, image_size=32, channels=1, n_classes=10, width=32, feature_dim=128):
        super().__init__()
        for value, what in ((image_size, "image_size"), (channels, "channels"),
                            (n_classes, "n_classes"), (width, "width"),
                            (feature_dim, "feature_dim")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DigitClassifier: {what} must be a positive int, got {value!r}")
        if image_size < 8:
            raise ValueError(f"DigitClassifier: image_size must be >= 8, got {image_size}")
        self.image_size, self.channels, self.n_classes = image_size, channels, n_classes
        layers, side, in_ch, out_ch = [], image_size, channels, width
        while side > 4:                                    # side -> side // 2 per block
            first = not layers
            layers.append(nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=first))
            if not first:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.LeakyReLU(0.2))
            side, in_ch, out_ch = side // 2, out_ch, out_ch * 2
        layers += [nn.Flatten(), nn.Linear(in_ch * side * side, feature_dim), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(feature_dim, n_classes)

    def _check(self, x):
        side = self.image_size
        if x.ndim != 4 or x.shape[1:] != (self.channels, side, side):
            raise ValueError(f"DigitClassifier: expected images of shape (B, {self.channels}, {side}, "
                             f"{side}), got {x.shape}")

    def features(self, x):
        """The penultimate activations: (B, C, H, W) -> (B, feature_dim)."""
        self._check(x)
        return self.body(x)

    def forward(self, x):
        return self.head(self.features(x))
