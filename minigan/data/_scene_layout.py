"""Random scene descriptions and how their parts are drawn: internal to :mod:`minigan.data.scenes`.

Everything here is geometry in normalised coordinates (x right, y down, both over [0, 1]); colours
live in :mod:`minigan.data._scene_style`. ``random_scene(seed)`` samples a :class:`Scene`;
``draw_scene(scene, canvas)`` draws its parts back to front onto a canvas that records, for each
part, its material and shading (``canvas.part(material, variant, tone, slope, y_ref, haze)``).
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Body:
    """The sun or the moon: ``kind`` in {"sun", "moon"}, centre (x, y), radius r."""

    kind: str
    x: float
    y: float
    r: float


@dataclass(frozen=True)
class Hill:
    """One layer of hills: ridge(x) = base - sum of amp * sin(2 pi (freq x + phase)) over waves."""

    base: float
    waves: tuple
    tone: float
    haze: float

    def ridge(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.base - sum(a * np.sin(2 * np.pi * (f * x + p)) for a, f, p in self.waves)


@dataclass(frozen=True)
class House:
    """A house standing on hill ``layer``: a front (gable-end) wall from ``x0`` to ``x1``, a side
    wall of length ``side`` (negative: to the left), walls from ``ground`` up to ``eave``, ridge at
    ``top``; windows and door as (x0, y0, x1, y1) boxes; ``chimney`` a box or None."""

    layer: int
    x0: float
    x1: float
    side: float
    ground: float
    eave: float
    top: float
    wall_variant: int
    roof_variant: int
    windows: tuple
    door: tuple
    chimney: tuple


@dataclass(frozen=True)
class Tree:
    """A ``kind`` in {"round", "pine"} tree on hill ``layer``: foot at (x, ground), crown size."""

    layer: int
    kind: str
    x: float
    ground: float
    height: float
    width: float


@dataclass(frozen=True)
class Scene:
    """A whole scene. ``clouds``: tuples of puffs (cx, cy, rx, ry); ``hills`` back to front;
    ``road``: centreline points (x, y, half_width) from the bottom edge up, or ``()``;
    ``light``: RGB multiplier (dusk under a moon); ``texture_seed`` seeds the shared noise."""

    horizon: float
    body: Body
    light: tuple
    clouds: tuple
    hills: tuple
    road: tuple
    houses: tuple
    trees: tuple
    texture_seed: int


def random_scene(seed):
    """Sample the scene of ``seed`` (a non-negative int): same seed, same scene."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"random_scene: seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    horizon = rng.uniform(0.38, 0.55)
    kind = "moon" if rng.random() < 0.25 else "sun"
    body = Body(kind, rng.uniform(0.1, 0.9), rng.uniform(0.1, horizon - 0.14),
                rng.uniform(0.05, 0.08))
    light = np.ones(3) if kind == "sun" else rng.uniform(0.85, 1.0) * np.array((0.72, 0.76, 0.9))
    clouds = tuple(_random_cloud(rng, horizon) for _ in range(rng.integers(0, 4)))
    hills = _random_hills(rng, horizon)
    road = _random_road(rng, hills[-1]) if rng.random() < 0.6 else ()
    houses, trees = _random_objects(rng, hills, road)
    return Scene(horizon, body, tuple(float(c) for c in light), clouds, hills, road, houses, trees,
                 int(rng.integers(0, 2**31)))


def _random_cloud(rng, horizon):
    cx, cy, width = rng.uniform(0.0, 1.0), rng.uniform(0.06, horizon - 0.12), rng.uniform(0.12, 0.3)
    puffs = []
    for _ in range(rng.integers(3, 6)):
        px = cx + rng.uniform(-0.5, 0.5) * width
        rx = rng.uniform(0.25, 0.45) * width
        ry = rx * rng.uniform(0.35, 0.6)
        puffs.append((px, cy - rng.uniform(0, 0.4) * ry, rx, ry))
    return tuple(puffs)


def _random_hills(rng, horizon):
    n = int(rng.integers(2, 4))
    front = rng.uniform(0.72, 0.84)
    hills = []
    for i in range(n):
        depth = i / (n - 1)                                  # 0 = farthest, 1 = nearest
        waves = ((rng.uniform(0.02, 0.08), rng.uniform(0.5, 1.6), rng.uniform(0, 1)),
                 (rng.uniform(0.005, 0.02), rng.uniform(2.0, 4.0), rng.uniform(0, 1)))
        hills.append(Hill(horizon + depth * (front - horizon), waves, 0.72 - 0.12 * depth,
                          0.45 * (1 - depth) ** 1.5))
    return tuple(hills)


def _random_road(rng, hill):
    """A road winding from the bottom edge up to the front ridge: points (x, y, half_width)."""
    xb, xt = rng.uniform(0.25, 0.75), rng.uniform(0.15, 0.85)
    yt = float(hill.ridge(xt)) + 0.01
    xc, yc = rng.uniform(0.1, 0.9), (1.0 + yt) / 2
    wb, wt = rng.uniform(0.1, 0.18), rng.uniform(0.006, 0.014)
    t = np.linspace(0.0, 1.0, 16)
    xs = (1 - t) ** 2 * xb + 2 * t * (1 - t) * xc + t ** 2 * xt       # quadratic Bezier
    ys = (1 - t) ** 2 * 1.02 + 2 * t * (1 - t) * yc + t ** 2 * yt
    half_widths = wb + (wt - wb) * t ** 0.7                          # narrower with distance
    return tuple((float(x), float(y), float(hw)) for x, y, hw in zip(xs, ys, half_widths))


def _road_span(road, y):
    """(x_left, x_right) of the road at height y, or None where there is no road."""
    if not road or y < road[-1][1]:
        return None
    xs, ys, hws = (np.array(c)[::-1] for c in zip(*road))          # increasing y for np.interp
    x, hw = np.interp(y, ys, xs), np.interp(y, ys, hws)
    return x - hw, x + hw


_GRID = 200                               # ridges are sampled at x = k / _GRID for placement


def _random_objects(rng, hills, road):
    """Houses and trees placed on visible ground, not on the road nor on each other."""
    xs = np.linspace(0, 1, _GRID + 1)
    ridges = np.stack([h.ridge(xs) for h in hills])                # (layers, _GRID + 1)
    ridges = np.vstack([ridges, np.ones(_GRID + 1)])               # + the bottom edge
    weights = np.arange(1, len(hills) + 1) ** 2                    # nearer layers get more objects
    layer_cdf = np.cumsum(weights) / weights.sum()
    taken = [[] for _ in hills]                                    # per layer: occupied x intervals
    houses, trees = [], []
    for make, count, out in ((_random_house, rng.integers(0, 4), houses),
                             (_random_tree, rng.integers(1, 8), trees)):
        for _ in range(int(count)):
            thing = _try_place(rng, ridges, layer_cdf, road, taken, make)
            if thing is not None:
                out.append(thing)
    return tuple(houses), tuple(trees)


def _try_place(rng, ridges, layer_cdf, road, taken, make, attempts=8):
    """One object from ``make`` on free, visible ground, or None after ``attempts`` misses."""
    n = len(layer_cdf)
    for _ in range(attempts):
        layer = min(int(np.searchsorted(layer_cdf, rng.random())), n - 1)
        scale = 0.4 + 0.6 * layer / (n - 1)
        half = (0.11 if make is _random_house else 0.05) * scale
        x = rng.uniform(half, 1 - half)
        cols = slice(int((x - half) * _GRID), int(np.ceil((x + half) * _GRID)) + 1)
        ridge = ridges[layer, cols].max()
        band = ridges[layer + 1, cols].min() - ridge          # visible ground below this ridge
        if band < 0.04 * scale + 0.02:
            continue
        ground = ridge + rng.uniform(0.015, 0.55) * band
        span = _road_span(road, ground) if layer == n - 1 else None
        if span is not None and x + half > span[0] - 0.01 and x - half < span[1] + 0.01:
            continue
        if any(x + half > a and x - half < b for a, b in taken[layer]):
            continue
        taken[layer].append((x - half, x + half))
        return make(rng, layer, x, ground, scale)
    return None


def _random_house(rng, layer, x, ground, scale):
    front = rng.uniform(0.065, 0.095) * scale
    side = rng.uniform(0.08, 0.125) * scale * (1 if rng.random() < 0.5 else -1)
    x0 = x - (front + abs(side)) / 2 + (abs(side) if side < 0 else 0)   # front wall's left edge
    eave = ground - rng.uniform(0.065, 0.1) * scale
    top = eave - rng.uniform(0.045, 0.075) * scale
    wh = ground - eave                                      # wall height
    side_x0, side_x1 = (x0 + front, x0 + front + side) if side > 0 else (x0 + side, x0)
    n_win = int(rng.integers(1, 4))
    win_w, win_h = min(0.2 * abs(side), 0.035 * scale), 0.35 * wh
    gaps = np.linspace(side_x0, side_x1, n_win + 2)[1:-1]
    win_top = eave + 0.22 * wh
    windows = tuple((g - win_w / 2, win_top, g + win_w / 2, win_top + win_h) for g in gaps)
    dw = 0.28 * front
    door = (x0 + front / 2 - dw / 2, ground - 0.6 * wh, x0 + front / 2 + dw / 2, ground)
    chimney = ()
    if rng.random() < 0.5:
        cx = (side_x0 + side_x1) / 2 + rng.uniform(-0.25, 0.25) * abs(side)
        cw = 0.012 * scale
        chimney = (cx - cw / 2, top - 0.012 * scale, cx + cw / 2, (top + eave) / 2)
    return House(layer, x0, x0 + front, side, ground, eave, top, int(rng.integers(0, 5)),
                 int(rng.integers(0, 3)), windows, door, chimney)


def _random_tree(rng, layer, x, ground, scale):
    kind = "pine" if rng.random() < 0.5 else "round"
    height = rng.uniform(0.13, 0.24) * scale
    width = height * (rng.uniform(0.45, 0.6) if kind == "pine" else rng.uniform(0.55, 0.8))
    return Tree(layer, kind, x, ground, height, width)


def draw_scene(scene, canvas):
    """Draw every part of ``scene`` back to front onto ``canvas`` (see :class:`scenes._Canvas`)."""
    sky = canvas.part("sky", tone=0.0, slope=1.0 / (scene.horizon + 0.1))
    canvas.rect(sky, -0.01, -0.01, 1.01, 1.01)
    _draw_body(scene.body, canvas, sky)
    for puffs in scene.clouds:
        cloud = canvas.part("cloud", tone=0.95, slope=-6.0, y_ref=np.mean([p[1] for p in puffs]))
        for cx, cy, rx, ry in puffs:
            canvas.ellipse(cloud, cx, cy, rx, ry)
    lit_side = 1.0 if scene.body.x > 0.5 else -1.0               # highlights face the sun
    for i, hill in enumerate(scene.hills):
        xs = np.linspace(-0.02, 1.02, 41)
        outline = list(zip(xs, hill.ridge(xs))) + [(1.02, 1.02), (-0.02, 1.02)]
        canvas.polygon(canvas.part("hill", tone=hill.tone, slope=-0.8, y_ref=hill.base,
                                   haze=hill.haze), outline)
        if i == len(scene.hills) - 1 and scene.road:
            _draw_road(scene.road, canvas)
        things = [t for t in scene.houses + scene.trees if t.layer == i]
        for thing in sorted(things, key=lambda t: t.ground):
            if isinstance(thing, House):
                _draw_house(thing, canvas)
            else:
                _draw_tree(thing, canvas, lit_side)


def _draw_body(body, canvas, sky):
    part = canvas.part(body.kind, tone=0.9, slope=-2.5, y_ref=body.y)
    canvas.circle(part, body.x, body.y, body.r)
    if body.kind == "moon":                                     # a crescent: bite with the sky
        side = 1.0 if body.x < 0.5 else -1.0
        canvas.circle(sky, body.x + 0.45 * side * body.r, body.y - 0.2 * body.r, 0.85 * body.r)


def _draw_road(road, canvas):
    part = canvas.part("road", tone=0.45, slope=0.5, y_ref=road[-1][1])
    left = [(x - hw, y) for x, y, hw in road]
    right = [(x + hw, y) for x, y, hw in reversed(road)]
    canvas.polygon(part, left + right)


def _draw_house(h, canvas):
    apex = (h.x0 + h.x1) / 2
    over, drop = 0.15 * (h.x1 - h.x0), 0.12 * (h.ground - h.eave)   # roof overhang
    if h.chimney:
        canvas.rect(canvas.part("wall", variant=2, tone=0.45), *h.chimney)
    sx0, sx1 = (h.x1, h.x1 + h.side) if h.side > 0 else (h.x0 + h.side, h.x0)
    canvas.rect(canvas.part("wall", h.wall_variant, tone=0.42), sx0, h.eave, sx1, h.ground)
    window = canvas.part("window", tone=0.55, slope=-4.0, y_ref=h.eave)
    for box in h.windows:
        canvas.rect(window, *box)
    edge = canvas.part("roof_snow", h.roof_variant, tone=0.5)       # the gable's roof edge
    canvas.polygon(edge, [(h.x0 - over, h.eave + drop), (apex, h.top - drop),
                          (h.x1 + over, h.eave + drop)])
    front = canvas.part("wall", h.wall_variant, tone=0.78)
    canvas.polygon(front, [(h.x0, h.ground), (h.x0, h.eave), (apex, h.top), (h.x1, h.eave),
                           (h.x1, h.ground)])
    canvas.rect(canvas.part("door", tone=0.45), *h.door)
    corner = (h.x1 + over, h.eave + drop) if h.side > 0 else (h.x0 - over, h.eave + drop)
    roof = [(apex, h.top), (apex + h.side, h.top), (corner[0] + h.side, corner[1]), corner]
    canvas.polygon(canvas.part("roof", h.roof_variant, tone=0.55, slope=2.0, y_ref=h.top), roof)
    snow_line = (apex + 0.7 * (corner[0] - apex), h.top + 0.7 * (corner[1] - h.top))
    snow = [(apex, h.top), (apex + h.side, h.top), (snow_line[0] + h.side, snow_line[1]), snow_line]
    canvas.polygon(canvas.part("roof_snow", h.roof_variant, tone=0.6, slope=2.0, y_ref=h.top), snow)


def _draw_tree(t, canvas, lit_side):
    trunk_w = max(0.1 * t.width, 0.006)
    if t.kind == "round":
        crown_h = 0.72 * t.height
        cy = t.ground - t.height + crown_h / 2
        canvas.rect(canvas.part("trunk", tone=0.45), t.x - trunk_w / 2, cy, t.x + trunk_w / 2,
                    t.ground)
        crown = canvas.part("crown_round", tone=0.5, slope=-2.5, y_ref=cy)
        canvas.ellipse(crown, t.x, cy, t.width / 2, crown_h / 2)
        for dx in (-0.25, 0.25):
            canvas.ellipse(crown, t.x + dx * t.width, cy + 0.12 * crown_h, 0.3 * t.width,
                           0.32 * crown_h)
        cap = canvas.part("round_snow", tone=0.72, slope=-2.0, y_ref=cy)
        canvas.ellipse(cap, t.x + 0.12 * lit_side * t.width, cy - 0.22 * crown_h,
                       0.32 * t.width, 0.22 * crown_h)
        return
    canvas.rect(canvas.part("trunk", tone=0.4), t.x - trunk_w / 2, t.ground - 0.25 * t.height,
                t.x + trunk_w / 2, t.ground)
    crown = canvas.part("crown_pine", tone=0.45, slope=-1.5, y_ref=t.ground - t.height / 2)
    snow = canvas.part("pine_snow", tone=0.65)
    tier_h, step = 0.45 * t.height, 0.25 * t.height
    tiers = []
    for k in range(3):
        bottom = t.ground - 0.15 * t.height - k * step
        tiers.append((bottom, bottom - tier_h, t.width / 2 * (1 - 0.25 * k)))
    for bottom, top, half in tiers:
        canvas.polygon(crown, [(t.x - half, bottom), (t.x, top), (t.x + half, bottom)])
    for (bottom, top, half), above in zip(tiers, tiers[1:] + [None]):
        width_at = lambda y: half * (y - top) / (bottom - top)      # noqa: E731  (tier half width)
        y0 = above[0] if above else top
        y1 = y0 + (0.09 * t.height if above else 0.3 * tier_h)
        canvas.polygon(snow, [(t.x - width_at(y0), y0), (t.x + width_at(y0), y0),
                              (t.x + width_at(y1), y1), (t.x - width_at(y1), y1)])
