"""Materials of the procedural scenes: label class, colours per season, texture strength.

Internal to :mod:`minigan.data.scenes`. Every drawn part has a material. A pixel's colour is
``dark + s * (light - dark)`` where ``s`` in [0, 1] is the pixel's shade (tone, gradient and
texture; the same in both seasons) and ``dark``/``light`` are the material's colours in the season
(and in the part's colour variant: walls and roofs come in several). Snow caps are materials of
their own whose summer colours equal the part they sit on, so they only show in winter.
"""
import numpy as np

SEASONS = ("summer", "winter")

# Winter repaints painted surfaces (walls, roofs, doors) with this colder, darker tint.
_WINTER_TINT = np.array((0.78, 0.8, 0.88))

_WALLS = (((170, 165, 155), (245, 240, 230)),   # white
          ((150, 120, 85), (235, 205, 160)),    # beige
          ((100, 45, 35), (190, 90, 70)),       # brick
          ((80, 95, 115), (160, 175, 195)),     # blue-grey
          ((165, 130, 50), (245, 215, 120)))    # yellow
_ROOFS = (((95, 30, 25), (200, 70, 50)),        # red tiles
          ((65, 42, 30), (150, 100, 65)),       # brown
          ((45, 50, 60), (115, 120, 135)))      # slate
_SNOW = ((175, 186, 212), (250, 251, 254))
_ROUND = ((20, 70, 20), (120, 180, 60))
_PINE = ((12, 50, 28), (65, 125, 65))

# name: (label class, summer variants, winter variants or "tint", (coarse, fine) texture amplitude)
_TABLE = {
    "sky": ("sky", [((55, 110, 200), (170, 205, 238))], [((128, 136, 150), (208, 212, 218))],
            (0.03, 0.0)),
    "cloud": ("cloud", [((175, 182, 200), (255, 255, 255))], [((112, 116, 126), (180, 184, 192))],
              (0.12, 0.03)),
    "sun": ("sun", [((255, 170, 30), (255, 235, 120))], [((225, 222, 210), (255, 253, 245))],
            (0.0, 0.0)),
    "moon": ("moon", [((200, 200, 185), (250, 250, 235))], [((200, 200, 192), (245, 245, 238))],
             (0.08, 0.0)),
    "hill": ("hill", [((35, 85, 30), (150, 205, 85))], [((140, 158, 200), (246, 248, 252))],
             (0.22, 0.12)),
    "road": ("road", [((60, 60, 66), (135, 135, 140))], [((128, 134, 152), (205, 209, 220))],
             (0.05, 0.10)),
    "wall": ("wall", _WALLS, "tint", (0.03, 0.06)),
    "roof": ("roof", _ROOFS, "tint", (0.05, 0.10)),
    "roof_snow": ("roof", _ROOFS, [_SNOW], (0.05, 0.10)),
    "window": ("window", [((25, 40, 65), (110, 140, 180))], [((190, 130, 40), (255, 220, 120))],
               (0.0, 0.03)),
    "door": ("door", [((60, 35, 22), (130, 80, 50))], "tint", (0.02, 0.05)),
    "trunk": ("trunk", [((50, 33, 20), (115, 78, 48))], [((45, 36, 32), (100, 85, 75))],
              (0.05, 0.15)),
    "crown_round": ("tree", [_ROUND], [((60, 54, 52), (160, 150, 145))], (0.15, 0.35)),
    "crown_pine": ("tree", [_PINE], [((14, 38, 30), (62, 92, 78))], (0.10, 0.25)),
    "round_snow": ("tree", [_ROUND], [_SNOW], (0.10, 0.30)),
    "pine_snow": ("tree", [_PINE], [_SNOW], (0.10, 0.25)),
}

MATERIALS = tuple(_TABLE)
"""Material names; a part stores its material as an index into this tuple."""

MATERIAL_LABEL = tuple(row[0] for row in _TABLE.values())
"""Label class name of each material."""

NOISE = np.array([row[3] for row in _TABLE.values()], dtype=np.float32)
"""(coarse, fine) texture amplitude of each material: (M, 2) float32."""

_VARIANTS = max(len(row[1]) for row in _TABLE.values())


def _stack(variants):
    """A list of (dark, light) colours -> (V, 2, 3), padded to the longest list by repeating."""
    arr = np.array(variants, dtype=np.float32)                          # (v, 2, 3)
    return arr[np.arange(_VARIANTS) % len(arr)]


def _season_table(season):
    rows = []
    for _, summer, winter, _ in _TABLE.values():
        colours = _stack(summer)
        if season == "winter":
            colours = colours * _WINTER_TINT if winter == "tint" else _stack(winter)
        rows.append(colours)
    return np.stack(rows).astype(np.float32)                            # (M, V, 2, 3)


_COLOURS = {season: _season_table(season) for season in SEASONS}


def material_colours(season):
    """(dark, light, haze) for ``season``: (M, V, 3), (M, V, 3) float32 and the haze colour (3,).

    Haze (distance fading of far hills) blends toward the season's sky colour at the horizon.
    """
    table = _COLOURS[season]
    return table[:, :, 0], table[:, :, 1], table[MATERIALS.index("sky"), 0, 1]


# How each season lights the sky around the sun or moon: (strength, colour) per body.
GLOW = {
    "summer": {"sun": (0.4, (255, 245, 210)), "moon": (0.25, (215, 220, 240))},
    "winter": {"sun": (0.30, (250, 248, 240)), "moon": (0.20, (220, 224, 235))},
}
