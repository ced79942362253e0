"""Synthetic digits: 0-9 drawn with Pillow's built-in scalable font, generated on the fly.

Each digit gets a random font size (0.5-0.81 of the image side), rotation (+-15 degrees), stroke width
(0-2 pixels at 32x32, scaled with the image side) and shift (+-10% of the side), all drawn from
``default_rng([seed, index])``: sample ``index`` of a dataset is the same image on every run.

Rendering is done at twice the output size and box-averaged down (anti-aliasing). Glyphs are drawn once
per (digit, font size, stroke) and cached; a sample is then one affine warp (rotate + shift) of its
glyph, about 40 us at 32x32. ``SyntheticDigits`` also memoises rendered samples, so later epochs cost
only a copy.
"""
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .loader import Dataset, _check_seed
from .transforms import is_random

_SUPERSAMPLE = 2
_glyphs = {}  # (digit, font_px, stroke_px) -> Pillow "L" image, tightly cropped


def _glyph(digit, font_px, stroke_px):
    """The white-on-black glyph of ``digit`` at font size ``font_px`` with a 1-pixel border."""
    key = (digit, font_px, stroke_px)
    glyph = _glyphs.get(key)
    if glyph is None:
        font = ImageFont.load_default(size=font_px)
        left, top, right, bottom = font.getbbox(str(digit), stroke_width=stroke_px)
        glyph = Image.new("L", (right - left + 2, bottom - top + 2))
        ImageDraw.Draw(glyph).text((1 - left, 1 - top), str(digit), font=font, fill=255,
                                   stroke_width=stroke_px, stroke_fill=255)
        _glyphs[key] = glyph
    return glyph


def _check_font():
    """Fail early, and clearly, when this Pillow has no scalable default font (needs >= 10.1)."""
    font = ImageFont.load_default(size=20)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("synthetic digits need Pillow >= 10.1 built with FreeType "
                           "(ImageFont.load_default(size=...) returned a bitmap font)")


def render_digit(digit, size, rng):
    """Draw one digit with random style; returns a (size, size) uint8 image, white on black.

    Args:
        digit: 0-9.
        size: output side in pixels.
        rng: numpy Generator; five draws decide font size, rotation, stroke width and shift.
    """
    side = size * _SUPERSAMPLE
    font_size = rng.uniform(0.5, 0.81) * size
    angle = rng.uniform(-15.0, 15.0)
    stroke = int(rng.integers(0, 3))
    shift_x, shift_y = rng.uniform(-0.1, 0.1, size=2) * size
    stroke_px = round(stroke * size / 32 * _SUPERSAMPLE)
    glyph = _glyph(int(digit), max(1, round(font_size * _SUPERSAMPLE)), stroke_px)
    # Affine map from output pixel (x, y) to glyph pixel: rotate by `angle` about the target
    # centre (counter-clockwise on screen, like Image.rotate), then move that centre to the glyph's.
    centre_x = side / 2 + shift_x * _SUPERSAMPLE
    centre_y = side / 2 + shift_y * _SUPERSAMPLE
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    width, height = glyph.size
    matrix = (cos, -sin, width / 2 - cos * centre_x + sin * centre_y,
              sin, cos, height / 2 - sin * centre_x - cos * centre_y)
    image = glyph.transform((side, side), Image.Transform.AFFINE, matrix,
                            resample=Image.Resampling.BILINEAR)
    return np.asarray(image.reduce(_SUPERSAMPLE))


class SyntheticDigits(Dataset):
    """``n`` labelled synthetic digits; samples are ``(image, label)``.

    image: (1, size, size) float32 in [-1, 1] (digit white, ground black); label: int, ``index % 10``
    (classes balanced). Sample ``index`` depends only on ``(seed, index, size)``; use another seed for
    a held-out set.

    Args:
        n: number of samples.
        size: image side, e.g. 28, 32 or 64.
        seed: non-negative int.
        cache: keep rendered images (n * size * size bytes, filled as samples are first asked for).
        transform: optional ``transform(x, rng)`` applied to the (1, size, size) image (see transforms).

    Example::

        digits = SyntheticDigits(60000, size=32, seed=0)
        image, label = digits[7]          # (1, 32, 32) float32, 7
    """

    def __init__(self, n=60000, size=32, seed=0, cache=True, transform=None):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"SyntheticDigits: n must be a positive int, got {n!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
            raise ValueError(f"SyntheticDigits: size must be an int >= 8, got {size!r}")
        _check_font()
        self.n, self.size = int(n), int(size)
        self.seed = _check_seed(seed, "SyntheticDigits: seed")
        self.transform = transform
        self.needs_rng = is_random(transform)
        self._images = np.zeros((self.n, self.size, self.size), np.uint8) if cache else None
        self._rendered = np.zeros(self.n, bool) if cache else None

    def __len__(self):
        return self.n

    def label(self, index):
        """The digit drawn at ``index``."""
        return index % 10

    def image_uint8(self, index):
        """Sample ``index`` as a (size, size) uint8 image (rendered, or taken from the cache)."""
        if self._images is None:
            return self._render(index)
        if not self._rendered[index]:
            self._images[index] = self._render(index)
            self._rendered[index] = True
        return self._images[index]

    def _render(self, index):
        return render_digit(self.label(index), self.size, np.random.default_rng([self.seed, index]))

    def get(self, index, rng):
        image = self.image_uint8(index)[None]  # (size, size) -> (1, size, size)
        image = image.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        if self.transform is not None:
            image = self.transform(image, rng)
        return image, self.label(index)
