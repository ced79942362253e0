"""torchvision.transforms' names and semantics, on Pillow images and minigan Tensors.

For porting PyTorch scripts: ``Compose([Resize(64), CenterCrop(64), ToTensor(),
Normalize((0.5,) * 3, (0.5,) * 3)])`` reads as in torchvision and gives the same numbers for a
Pillow image (Pillow does the resizing in both). Transforms are called with the image only.

Random transforms (``RandomCrop``, ``RandomHorizontalFlip``) draw from
``minigan.utils.data.current_rng()``: inside a ``DataLoader`` that is the sample's own generator,
derived from (seed, epoch, index), so augmented batches repeat exactly with the same seed and any
``num_workers``; outside one it is minigan's global generator (``mg.manual_seed``).

minigan's own pipelines use ``minigan.data.transforms`` (arrays, an explicit ``rng``); these
wrap its pieces where the semantics agree (``ToArray``, array ``Resize``/``Normalize``).
"""
import numpy as np
from PIL import Image

from ..autograd import Tensor, tensor
from ..data import transforms as array_transforms
from ..data.loader import current_rng


class InterpolationMode:
    """torchvision's interpolation names; Pillow's constants (``Image.BICUBIC``) work too."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    LANCZOS = "lanczos"


_PIL_NAMES = {Image.Resampling.NEAREST: "nearest", Image.Resampling.BILINEAR: "bilinear",
              Image.Resampling.BICUBIC: "bicubic", Image.Resampling.BOX: "box",
              Image.Resampling.LANCZOS: "lanczos"}


def _interpolation(mode):
    """A resampling name from a string or a Pillow constant (``Image.BICUBIC``)."""
    name = getattr(mode, "value", mode)
    if isinstance(mode, int) and not isinstance(mode, bool):
        try:
            name = _PIL_NAMES.get(Image.Resampling(mode))
        except ValueError:
            name = None
    if name not in array_transforms._RESAMPLE:
        raise ValueError(f"interpolation must be one of {sorted(array_transforms._RESAMPLE)} or "
                         f"a Pillow constant, got {mode!r}")
    return name


def _size_pair(size, name):
    """(height, width) from an int (a square) or a pair."""
    if isinstance(size, (list, tuple)) and len(size) == 1:
        size = size[0]
    return array_transforms._pair(size, name)


def _image_size(x):
    """(height, width) of a Pillow image or a (..., H, W) Tensor/array."""
    if isinstance(x, Image.Image):
        return x.size[1], x.size[0]
    return tuple(x.shape[-2:])


def _array(x, name):
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{name}: expected a Pillow image or a (C, H, W) Tensor, got "
                    f"{type(x).__name__}")


class Compose:
    """Apply transforms in order: ``Compose([Resize(64), ToTensor()])(image)``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: expected callables, got {t!r}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {fn!r}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class Resize:
    """Resize to ``size``: an int matches the shorter side (keeping the aspect ratio, the longer
    side ``int(size * long / short)``), a (height, width) pair sets both. Pillow image in, Pillow
    image out; a (C, H, W) Tensor is resized channel by channel."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR):
        if isinstance(size, (list, tuple)) and len(size) == 1:
            size = size[0]
        self.short = not isinstance(size, (list, tuple))
        pair = _size_pair(size, "Resize size")
        self.size = pair[0] if self.short else pair
        self.interpolation = _interpolation(interpolation)

    def target(self, height, width):
        """The output (height, width) for an input of (height, width)."""
        if not self.short:
            return self.size
        if height <= width:
            return self.size, int(self.size * width / height)
        return int(self.size * height / width), self.size

    def __call__(self, x):
        size = self.target(*_image_size(x))
        if isinstance(x, Image.Image):
            return array_transforms.Resize(size, self.interpolation)(x)
        return tensor(array_transforms.Resize(size, self.interpolation)(_array(x, "Resize")))

    def __repr__(self):
        return f"Resize({self.size}, interpolation={self.interpolation!r})"


Scale = Resize  # the old torchvision name


def _crop(x, top, left, height, width):
    if isinstance(x, Image.Image):
        return x.crop((left, top, left + width, top + height))
    return tensor(np.ascontiguousarray(_array(x, "crop")[..., top:top + height,
                                                         left:left + width]))


def _check_fits(x, size, name):
    height, width = _image_size(x)
    if size[0] > height or size[1] > width:
        raise ValueError(f"{name}: crop size {size} is larger than the image ({height}, {width})")
    return height, width


class CenterCrop:
    """Crop the central (height, width) window; torchvision's rounding of the offsets."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop size")

    def __call__(self, x):
        height, width = _check_fits(x, self.size, "CenterCrop")
        top = int(round((height - self.size[0]) / 2.0))
        left = int(round((width - self.size[1]) / 2.0))
        return _crop(x, top, left, *self.size)

    def __repr__(self):
        return f"CenterCrop({self.size})"


class RandomCrop:
    """Crop a (height, width) window at a uniformly random place (``current_rng()``)."""

    def __init__(self, size):
        self.size = _size_pair(size, "RandomCrop size")

    def __call__(self, x):
        height, width = _check_fits(x, self.size, "RandomCrop")
        rng = current_rng()
        top = int(rng.integers(0, height - self.size[0] + 1))
        left = int(rng.integers(0, width - self.size[1] + 1))
        return _crop(x, top, left, *self.size)

    def __repr__(self):
        return f"RandomCrop({self.size})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (``current_rng()``)."""

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, x):
        if current_rng().random() >= self.p:
            return x
        if isinstance(x, Image.Image):
            return x.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return tensor(np.ascontiguousarray(_array(x, "RandomHorizontalFlip")[..., ::-1]))

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Grayscale:
    """A Pillow image to grayscale, with 1 or 3 (equal) channels."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got "
                             f"{num_output_channels!r}")
        self.channels = num_output_channels

    def __call__(self, x):
        if not isinstance(x, Image.Image):
            raise TypeError(f"Grayscale: expected a Pillow image, got {type(x).__name__}")
        gray = x.convert("L")
        return gray if self.channels == 1 else gray.convert("RGB")


class ToTensor:
    """A Pillow image or (H, W[, C]) uint8 array -> (C, H, W) float32 Tensor in [0, 1]."""

    _to_array = array_transforms.ToArray()

    def __call__(self, x):
        return tensor(self._to_array(x))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel of a (C, H, W) Tensor: ``Normalize((0.5,) * 3, (0.5,) * 3)``
    maps [0, 1] to [-1, 1]."""

    def __init__(self, mean, std, inplace=False):
        self.normalize = array_transforms.Normalize(mean, std)

    def __call__(self, x):
        array = _array(x, "Normalize")
        if array.ndim != 3:
            raise ValueError(f"Normalize: expected a (C, H, W) image, got shape {array.shape}")
        channels = self.normalize.mean.shape[0]
        if channels not in (1, array.shape[0]):
            raise ValueError(f"Normalize: {channels} means for an image of {array.shape[0]} "
                             f"channels")
        return tensor(self.normalize(array.astype(np.float32, copy=False)))

    def __repr__(self):
        return repr(self.normalize)
