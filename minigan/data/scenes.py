"""Procedural landscape scenes, drawn three ways: a label map, a summer photo and a winter photo.

A scene is a small random description (:class:`Scene`) in normalised coordinates: x runs left
to right and y top to bottom, both over [0, 1]. It holds a sky with a sun or a moon, maybe clouds,
two or three layers of hills, maybe a road, houses (wall, roof, windows, door) and trees (round or
pine).
The renderer rasterises it once, at any size, into a map of *parts* (every drawn piece: a hill
layer, a roof, the snow cap on that roof...), then colours that map three ways:

* ``labels``: flat class colours (:data:`CLASSES`, :data:`PALETTE`), one class per pixel;
* ``summer``: blue sky gradient, green textured hills, leafy trees, tiled roofs;
* ``winter``: grey sky, white hills with blue shadows, snow on roofs and pines, bare round trees,
  lit windows, darker tones.

Both photos shade every pixel with the same value ``s`` (per-part tone and vertical gradient plus
a noise texture shared by both seasons) and differ only in the colours ``s`` runs between. So
summer -> winter is the same colour change everywhere a class appears, on identical geometry: what
a small CycleGAN can learn and what a test can score against ground truth.

    >>> scene = random_scene(seed=3)
    >>> images = render(scene, size=64)        # SceneImages
    >>> images.summer.shape, images.labels.shape, images.classes.shape
    ((64, 64, 3), (64, 64, 3), (64, 64))

Photos are drawn at ``supersample`` times the size and box-filtered down (antialiased edges); the
label map takes the majority class of the same sub-pixels, so labels and photos line up.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ._scene_layout import Scene, draw_scene, random_scene
from ._scene_style import GLOW, MATERIAL_LABEL, MATERIALS, NOISE, SEASONS, material_colours
from .loader import Dataset

CLASSES = ("sky", "cloud", "sun", "moon", "hill", "road", "wall", "roof", "window", "door",
           "trunk", "tree")
"""Label classes, in the order of their ids in ``SceneImages.classes``."""

PALETTE = np.array([
    (70, 130, 180),    # sky: steel blue
    (210, 210, 230),   # cloud: pale lavender
    (255, 200, 0),     # sun: amber
    (250, 245, 160),   # moon: pale yellow
    (110, 160, 40),    # hill: olive green
    (128, 64, 128),    # road: purple
    (230, 150, 140),   # wall: salmon
    (160, 30, 30),     # roof: dark red
    (0, 0, 142),       # window: navy
    (255, 120, 0),     # door: orange
    (100, 60, 20),     # trunk: brown
    (0, 100, 0),       # tree (crown): dark green
], dtype=np.uint8)
"""Flat label colour of each class in :data:`CLASSES`, (12, 3) uint8."""

_MATERIAL_CLASS = np.array([CLASSES.index(name) for name in MATERIAL_LABEL], np.uint8)
_GLOWING = [MATERIALS.index("sky"), MATERIALS.index("cloud")]

__all__ = ["CLASSES", "PALETTE", "Scene", "SceneImages", "random_scene", "render",
           "render_scene", "colorize", "scene_seeds", "render_set", "to_chw",
           "SceneLabelsToPhoto", "UnpairedScenes", "PairedSceneTest"]


@dataclass(frozen=True)
class SceneImages:
    """One scene drawn three ways, all (H, W[, 3]) uint8: ``classes`` holds class ids."""

    labels: np.ndarray
    summer: np.ndarray
    winter: np.ndarray
    classes: np.ndarray


def colorize(classes):
    """Class-id map (H, W) -> label image (H, W, 3) uint8 in the :data:`PALETTE` colours."""
    classes = np.asarray(classes)
    if classes.size and (classes.min() < 0 or classes.max() >= len(CLASSES)):
        raise ValueError(f"colorize: class ids must be in [0, {len(CLASSES)}), "
                         f"got range [{classes.min()}, {classes.max()}]")
    return PALETTE[classes]


def render_scene(seed, size=64, supersample=2):
    """Draw the scene of ``seed``: ``render(random_scene(seed), size, supersample)``."""
    return render(random_scene(seed), size, supersample)


def render(scene, size=64, supersample=2):
    """Draw ``scene`` as a label map and a summer and a winter photo.

    Args:
        scene: a :class:`Scene` (from :func:`random_scene`).
        size: output side in pixels (int, square) or ``(height, width)``; 8 to 1024.
        supersample: 2 draws at twice the size and averages 2 x 2 blocks (antialiased edges);
            1 draws at the size itself (hard edges, faster).
    Returns:
        :class:`SceneImages` with ``labels``, ``summer``, ``winter`` of shape (H, W, 3) uint8 and
        ``classes`` of shape (H, W) uint8.
    """
    height, width = _size_hw(size)
    if supersample not in (1, 2) or isinstance(supersample, bool):
        raise ValueError(f"render: supersample must be 1 or 2, got {supersample!r}")
    canvas = _Canvas(height * supersample, width * supersample)
    draw_scene(scene, canvas)
    inst = np.asarray(canvas.image)                          # (h, w) = (H*ss, W*ss) part ids
    table, labels = _part_table(scene, canvas.parts)
    h, w = inst.shape
    per_pixel = np.take(table.T, inst, axis=1)              # (_COLUMNS, h, w)
    y = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / h   # (h, 1) normalised row centres
    coarse, fine = _texture(scene.texture_seed, h, w)
    shade = (per_pixel[_OFFSET] + per_pixel[_SLOPE] * y
             + per_pixel[_COARSE_AMP] * coarse + per_pixel[_FINE_AMP] * fine)
    np.clip(shade, 0.0, 1.0, out=shade)
    rgb = per_pixel[_BASE] + shade * per_pixel[_RANGE]     # (season * 3, h, w)
    _add_glow(rgb, scene, per_pixel[_GLOWS])
    photos = _downsample(rgb, supersample)                   # (season * 3, H, W) uint8
    photos = photos.reshape(len(SEASONS), 3, height, width)       # (season, 3, H, W)
    photos = photos.transpose(0, 2, 3, 1)                          # (season, H, W, 3)
    classes = _majority(labels[inst], supersample)
    summer, winter = (np.ascontiguousarray(p) for p in photos)
    return SceneImages(colorize(classes), summer, winter, classes)


def _size_hw(size):
    """``size`` as (height, width), each in [8, 1024]."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and 8 <= s <= 1024 for s in size)):
        raise ValueError(f"scene size: expected an int or a (height, width) pair in [8, 1024], "
                         f"got {size!r}")
    return int(size[0]), int(size[1])


class _Canvas:
    """A part-id raster (Pillow mode "L") plus the list of the parts drawn on it.

    Shapes are given in normalised coordinates. Each part gets an id (1..255) and carries its
    material, colour variant, shading s(y) = tone + slope * (y - y_ref) (y normalised) and haze.
    Id 0 (nothing drawn) never shows: the sky covers the whole canvas first.
    """

    def __init__(self, height, width):
        self.height, self.width = height, width
        self.image = Image.new("L", (width, height), 0)
        self._draw = ImageDraw.Draw(self.image)
        self.parts = [("sky", 0, 0.0, 0.0, 0.0, 0.0)]

    def part(self, material, variant=0, tone=0.5, slope=0.0, y_ref=0.0, haze=0.0):
        """Register a part; returns its id for the drawing calls."""
        if len(self.parts) > 255:
            raise RuntimeError("scene has more than 255 parts")
        self.parts.append((material, variant, tone, slope, y_ref, haze))
        return len(self.parts) - 1

    def _xy(self, points):
        return [(x * self.width, y * self.height) for x, y in points]

    def polygon(self, part, points):
        self._draw.polygon(self._xy(points), fill=part)

    def ellipse(self, part, cx, cy, rx, ry):
        self._draw.ellipse(self._xy([(cx - rx, cy - ry), (cx + rx, cy + ry)]), fill=part)

    def circle(self, part, cx, cy, r):
        """A disc of radius ``r`` in units of the image height (round on non-square images)."""
        self.ellipse(part, cx, cy, r * self.height / self.width, r)

    def rect(self, part, x0, y0, x1, y1):
        self.polygon(part, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


# Columns of the per-part table: shading terms, glow mask, then per season a base colour and the
# colour range that the shade runs over (haze and the scene's light folded in).
_OFFSET, _SLOPE, _COARSE_AMP, _FINE_AMP, _GLOWS = 0, 1, 2, 3, 4
_BASE, _RANGE = slice(5, 11), slice(11, 17)
_COLUMNS = 17


def _part_table(scene, parts):
    """Per-part rendering constants: ((P, _COLUMNS) float32, (P,) uint8 label class ids)."""
    names, variant, tone, slope, y_ref, haze = zip(*parts)
    mat = np.array([MATERIALS.index(n) for n in names])                  # (P,)
    variant = np.array(variant)
    haze = np.array(haze, np.float32)[:, None]                           # (P, 1)
    light = np.asarray(scene.light, np.float32)
    table = np.empty((len(parts), _COLUMNS), np.float32)
    table[:, _OFFSET] = np.array(tone) - np.array(slope) * np.array(y_ref)
    table[:, _SLOPE] = slope
    table[:, [_COARSE_AMP, _FINE_AMP]] = NOISE[mat]
    table[:, _GLOWS] = np.isin(mat, _GLOWING)
    for i, season in enumerate(SEASONS):
        dark, bright, haze_colour = material_colours(season)             # (M, V, 3) x2, (3,)
        c0, c1 = dark[mat, variant], bright[mat, variant]                 # (P, 3)
        table[:, _BASE][:, 3 * i: 3 * i + 3] = (c0 + haze * (haze_colour - c0)) * light
        table[:, _RANGE][:, 3 * i: 3 * i + 3] = (1 - haze) * (c1 - c0) * light
    return table, _MATERIAL_CLASS[mat]


# Value-noise octaves: (cells per unit length, weight). Coarse ones shape hills and clouds, fine
# ones make grass, leaves and twigs. The grids depend on the seed only, so the texture scales
# with the image and is the same in both seasons.
_COARSE = ((3, 0.8), (7, 0.5))
_FINE = ((20, 0.5), (45, 0.6), (90, 0.5))


def _texture(seed, h, w):
    """(coarse, fine) noise fields for an (h, w) raster, each (h, w) float32, roughly unit std.

    The octaves of a field are summed on the grid of its finest octave, then resized once.
    """
    rng = np.random.default_rng(seed)
    fields = []
    for octaves in (_COARSE, _FINE):
        side = octaves[-1][0] + 1
        total = np.zeros((side, side), np.float32)
        for cells, weight in octaves:
            grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
            total += weight * _resize(grid, side, side)
        fields.append(_resize(total, h, w))
    return fields


def _resize(field, h, w):
    """Bilinear resize of a float32 field to (h, w)."""
    if field.shape == (h, w):
        return field
    return np.asarray(Image.fromarray(field, mode="F").resize((w, h), Image.Resampling.BILINEAR))


def _add_glow(rgb, scene, mask):
    """Brighten sky and clouds (``mask`` (h, w)) around the sun or moon, in place on rgb
    (season * 3, h, w)."""
    body = scene.body
    h, w = mask.shape
    two_var = 2 * (2.2 * body.r) ** 2
    y = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / h - body.y               # (h, 1)
    x = ((np.arange(w, dtype=np.float32)[None, :] + 0.5) / w - body.x) * (w / h)   # (1, w)
    glow = mask * np.exp(-y * y / two_var) * np.exp(-x * x / two_var)              # (h, w)
    strength = np.repeat([GLOW[season][body.kind][0] for season in SEASONS], 3)    # (season * 3,)
    target = np.concatenate([GLOW[season][body.kind][1] for season in SEASONS])    # (season * 3,)
    target = target * np.tile(scene.light, len(SEASONS))
    strength = strength.astype(np.float32)[:, None, None]                   # (season * 3, 1, 1)
    target = target.astype(np.float32)[:, None, None]
    rgb += glow * strength * (target - rgb)


def _downsample(rgb, ss):
    """(C, h, w) float colours -> (C, h/ss, w/ss) uint8, averaging ss x ss blocks (ss 1 or 2)."""
    if ss == 2:
        rgb = 0.25 * (rgb[:, 0::2, 0::2] + rgb[:, 1::2, 0::2]
                      + rgb[:, 0::2, 1::2] + rgb[:, 1::2, 1::2])
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _majority(sub, ss):
    """(h, w) sub-pixel class ids -> (h/ss, w/ss): each 2 x 2 block's most frequent class.

    Ties go to the block's bottom-right sub-pixel ``d``: it wins unless it is alone and two of
    the other three agree.
    """
    if ss == 1:
        return sub
    a, b, c, d = sub[0::2, 0::2], sub[0::2, 1::2], sub[1::2, 0::2], sub[1::2, 1::2]
    pair = np.where((a == b) | (a == c), a, np.where(b == c, b, d))  # twice among a, b, c
    return np.where((d == a) | (d == b) | (d == c), d, pair)


# ---------------------------------------------------------------------------------------------
# Datasets. Scene seeds come from disjoint streams: (seed, split, stream, index) -> one integer,
# so train and test scenes never coincide, nor the summer and the winter sets of CycleGAN.

SPLITS = ("train", "test")
STREAMS = ("paired", "summer", "winter")
_MAX_SCENES = 2**32
_CACHE = {}           # (stream, split, seed, n, size) -> {kind: (n, H, W, 3) uint8}
_CACHE_ENTRIES = 8


def scene_seeds(n, seed=0, split="train", stream="paired"):
    """The scene seeds of a dataset: (n,) list of ints, disjoint across splits and streams.

    ``scene_seeds(n, seed, split, stream)[i] = ((seed * 2 + split_id) * 3 + stream_id) * 2**32 + i``
    where ``split`` is "train" or "test" and ``stream`` is "paired" (label maps and both photos of
    one scene), "summer" or "winter" (CycleGAN's two unpaired sets).
    """
    _check_int(n, "n", 1, _MAX_SCENES)
    _check_int(seed, "seed", 0, None)
    seed = int(seed)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
    base = ((seed * len(SPLITS) + SPLITS.index(split)) * len(STREAMS) + STREAMS.index(stream))
    return [base * _MAX_SCENES + i for i in range(n)]


def render_set(n, size=64, seed=0, split="train", stream="paired"):
    """Render the scenes of ``scene_seeds(n, seed, split, stream)``, or fetch them from the cache.

    Returns {kind: (n, H, W, 3) uint8}: kinds "labels", "summer", "winter" for the paired stream,
    only "summer" or "winter" for the others. About 2 ms a scene at 64 x 64; memory n * H * W * 3
    bytes per kind. The last few sets rendered stay cached, so building a dataset twice is free.
    """
    seeds = scene_seeds(n, seed, split, stream)               # validates n, seed, split, stream
    height, width = _size_hw(size)
    key = (stream, split, seed, n, (height, width))
    if key not in _CACHE:
        kinds = ("labels", "summer", "winter") if stream == "paired" else (stream,)
        arrays = {kind: np.empty((n, height, width, 3), np.uint8) for kind in kinds}
        for i, scene_seed in enumerate(seeds):
            images = render_scene(scene_seed, (height, width))
            for kind in kinds:
                arrays[kind][i] = getattr(images, kind)
        if len(_CACHE) >= _CACHE_ENTRIES:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = arrays
    return _CACHE[key]


def to_chw(image):
    """(H, W, 3) uint8 image -> (3, H, W) float32 in [-1, 1]."""
    return image.transpose(2, 0, 1).astype(np.float32) / np.float32(127.5) - np.float32(1.0)


class SceneLabelsToPhoto(Dataset):
    """Pix2Pix pairs: (label map, summer photo) of the same scene, each (3, size, size) float32 in
    [-1, 1]. ``flip=True`` mirrors both at random (the pair stays aligned).

    Example: ``a, b = SceneLabelsToPhoto(1000, size=64)[0]``; ``a.shape == b.shape == (3, 64, 64)``.
    """

    def __init__(self, n, size=64, seed=0, split="train", flip=False):
        arrays = render_set(n, size, seed, split, "paired")
        self.labels, self.photos = arrays["labels"], arrays["summer"]
        self.flip = self.needs_rng = bool(flip)

    def __len__(self):
        return len(self.labels)

    def get(self, index, rng):
        a, b = to_chw(self.labels[index]), to_chw(self.photos[index])
        if self.flip and rng.random() < 0.5:
            a, b = a[:, :, ::-1].copy(), b[:, :, ::-1].copy()
        return a, b


class UnpairedScenes(Dataset):
    """CycleGAN's unpaired sets: samples (x_summer, y_winter), each (3, size, size) float32 in
    [-1, 1], drawn from disjoint scene seeds, so no winter photo shows a summer scene of the set.

    As in the reference implementation, the winter image of sample i is a random one (from the
    sample's rng) unless ``serial=True`` (then winter i). ``flip=True`` mirrors each at random.
    """

    def __init__(self, n, size=64, seed=0, split="train", flip=False, serial=False):
        self.summer = render_set(n, size, seed, split, "summer")["summer"]
        self.winter = render_set(n, size, seed, split, "winter")["winter"]
        self.flip, self.serial = bool(flip), bool(serial)
        self.needs_rng = self.flip or not self.serial

    def __len__(self):
        return len(self.summer)

    def get(self, index, rng):
        j = index if self.serial else int(rng.integers(len(self.winter)))
        x, y = to_chw(self.summer[index]), to_chw(self.winter[j])
        if self.flip:
            x = x[:, :, ::-1].copy() if rng.random() < 0.5 else x
            y = y[:, :, ::-1].copy() if rng.random() < 0.5 else y
        return x, y


class PairedSceneTest(Dataset):
    """The ground-truth test set: (summer, winter, labels) of the same held-out scene, each
    (3, size, size) float32 in [-1, 1], so a translation is scored against the true other season.

    Its scenes are those of ``SceneLabelsToPhoto(n, size, seed, split="test")``, disjoint from every
    training set.
    """

    def __init__(self, n, size=64, seed=0):
        arrays = render_set(n, size, seed, "test", "paired")
        self.summer, self.winter, self.labels = arrays["summer"], arrays["winter"], arrays["labels"]

    def __len__(self):
        return len(self.summer)

    def get(self, index, rng):
        return to_chw(self.summer[index]), to_chw(self.winter[index]), to_chw(self.labels[index])


def _check_int(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
