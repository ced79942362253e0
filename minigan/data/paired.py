"""Real image-translation data in the two layouts of the reference implementations.

* Aligned (pix2pix, e.g. facades): ``<root>/<phase>/*.jpg``, each file the pair side by side,
  ``[A | B]``: A is the left half, B the right half. ``direction="BtoA"`` swaps them.
* Unpaired (CycleGAN, e.g. summer2winter): ``<root>/trainA``, ``<root>/trainB`` (and ``testA``,
  ``testB``), one folder of images per domain. Sample i takes A image i and a random B image
  (drawn from the sample's rng), unless ``serial=True``.

Every file's header is read up front: the unreadable ones are all named in one
``folder.ImageReadError`` (or left out with ``skip_bad``). Samples are ``(A, B)``: (C, crop, crop)
float32 in [-1, 1], C = 3 when any image of the domain is colour, else 1 (or set with
``channels``). Preprocessing as the reference's ``--preprocess``: "resize_and_crop" (resize to
``load_size`` square, bicubic, then a random ``crop_size`` crop), "crop" (a random crop of the
image as it is), "scale_width" (width resized to ``load_size``, aspect kept, height at least
``crop_size``; no crop) or "none"; then a random horizontal flip when ``flip``. An aligned pair
shares one crop and one flip; unpaired images each draw their own. Random choices come from the per-sample rng the ``DataLoader`` passes.

    >>> data = AlignedFolder("facades", "train", direction="BtoA", load_size=286, crop_size=256)
    >>> labels, photo = data[0]            # (3, 256, 256) each
"""
from pathlib import Path

import numpy as np

from .folder import list_images, read_image, scan_domains, scan_images
from .loader import Dataset
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Resize, ToArray

__all__ = ["AlignedFolder", "UnpairedFolder", "detect_layout", "PREPROCESS"]

PREPROCESS = ("resize_and_crop", "crop", "scale_width", "none")
_MODES = {1: "L", 3: "RGB"}
_ALIGNED_LAYOUT = "{root}/{phase}/ holding images that are [A | B] side by side (pix2pix layout)"
_UNPAIRED_LAYOUT = ("{root}/{phase}A/ and {root}/{phase}B/, one folder of images per domain "
                    "(CycleGAN layout)")


def detect_layout(root, phase="train"):
    """"unpaired" when ``root`` holds ``<phase>A``/``<phase>B`` folders, "aligned" when it holds
    ``<phase>``; FileNotFoundError describing both layouts otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if (root / f"{phase}A").is_dir() or (root / f"{phase}B").is_dir():
        return "unpaired"
    if (root / phase).is_dir():
        return "aligned"
    raise FileNotFoundError(
        f"{root} has neither layout: expected {_ALIGNED_LAYOUT.format(root=root, phase=phase)}, "
        f"or {_UNPAIRED_LAYOUT.format(root=root, phase=phase)}; found {_listing(root)}")


class AlignedFolder(Dataset):
    """Pairs from ``<root>/<phase>/``: each image is ``[A | B]`` side by side (see module doc).

    Args:
        root: the dataset folder (holding ``train/``, ``test/``, ...).
        phase: the subfolder to read.
        direction: "AtoB" (samples (left, right)) or "BtoA" (samples (right, left)).
        load_size, crop_size, preprocess, flip: as in the module doc.
        channels: 1, 3, or None: 3 when any image is colour, else 1.
        skip_bad: leave out the files whose header cannot be read instead of refusing.
    Returns samples ``(input, target)``, each (C, crop_size, crop_size) float32 in [-1, 1]
    (with preprocess="none", the size of the halves).
    """

    def __init__(self, root, phase="train", direction="AtoB", load_size=286, crop_size=256,
                 preprocess="resize_and_crop", flip=True, channels=None, skip_bad=False):
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        folder = _layout_folder(Path(root), phase, _ALIGNED_LAYOUT)
        self.paths, found = scan_images(_domain_images(folder, "the pairs"), skip_bad,
                                        f"images in {folder}")
        self.direction = direction
        first = read_image(self.paths[0])
        self.channels = _channels(channels, found)
        width, height = first.size
        self.pipeline = _Pipeline(load_size, crop_size, preprocess, flip,
                                  (height, width // 2), self.paths[0])
        self.needs_rng = self.pipeline.random

    def __len__(self):
        return len(self.paths)

    def get(self, index, rng):
        path = self.paths[index]
        image = read_image(path, _MODES[self.channels])
        width, height = image.size
        half = width // 2
        a, b = image.crop((0, 0, half, height)), image.crop((half, 0, 2 * half, height))
        if self.direction == "BtoA":
            a, b = b, a
        pair = self.pipeline([a, b], rng, path)
        return pair[0], pair[1]


class UnpairedFolder(Dataset):
    """Unpaired images from ``<root>/<phase>A/`` and ``<root>/<phase>B/`` (see module doc).

    Args:
        root: the dataset folder. phase: "train" or "test" (any prefix of the A/B folders).
        direction: "AtoB" (samples (a, b)) or "BtoA" (samples (b, a)).
        serial: pair A image i with B image i (mod the B count) instead of a random B.
        load_size, crop_size, preprocess, flip: as in the module doc.
        channels: (channels of A, channels of B); an entry None: 3 when any image of that domain
            is colour, else 1.
        skip_bad: leave out the files whose header cannot be read instead of refusing.
    ``len`` is the larger domain's count; A indices wrap around, as in the reference.
    """

    def __init__(self, root, phase="train", direction="AtoB", load_size=286, crop_size=256,
                 preprocess="resize_and_crop", flip=True, serial=False, channels=(None, None),
                 skip_bad=False):
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        root = Path(root)
        domains = [_layout_folder(root, f"{phase}{d}", _UNPAIRED_LAYOUT, phase) for d in "AB"]
        scanned = scan_domains([_domain_images(folder, f"domain {d}")
                                for folder, d in zip(domains, "AB")], skip_bad,
                               f"images in {domains[0]} and {domains[1].name}")
        self.paths = [paths for paths, _ in scanned]
        found = [channels for _, channels in scanned]
        if direction == "BtoA":
            self.paths.reverse()
            found.reverse()
            channels = tuple(reversed(channels))
        self.direction, self.serial = direction, bool(serial)
        self.channels, self.pipelines = [], []
        for paths, wanted, seen in zip(self.paths, channels, found):
            first = read_image(paths[0])
            self.channels.append(_channels(wanted, seen))
            width, height = first.size
            self.pipelines.append(_Pipeline(load_size, crop_size, preprocess, flip,
                                            (height, width), paths[0]))
        self.needs_rng = not self.serial or any(p.random for p in self.pipelines)

    def __len__(self):
        return max(len(p) for p in self.paths)

    def get(self, index, rng):
        paths_a, paths_b = self.paths
        j = index % len(paths_b) if self.serial else int(rng.integers(len(paths_b)))
        samples = []
        for path, channels, pipeline in zip((paths_a[index % len(paths_a)], paths_b[j]),
                                            self.channels, self.pipelines):
            samples.append(pipeline([read_image(path, _MODES[channels])], rng, path)[0])
        return samples[0], samples[1]


class _Pipeline:
    """Resize / crop / flip / normalise for a list of Pillow images sharing one crop and flip."""

    def __init__(self, load_size, crop_size, preprocess, flip, first_hw, first_path):
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
        for value, name in ((load_size, "load_size"), (crop_size, "crop_size")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if preprocess in ("resize_and_crop", "scale_width") and crop_size > load_size:
            raise ValueError(f"crop_size {crop_size} is larger than load_size {load_size}: "
                             f"the crop is taken from the image resized to load_size")
        self.preprocess, self.crop_size = preprocess, int(crop_size)
        if preprocess == "crop":
            self.check_crop(first_hw, first_path)
        self.resize = Resize(load_size, "bicubic") if preprocess == "resize_and_crop" else None
        if preprocess == "scale_width":
            self.resize = _ScaleWidth(load_size, crop_size)
        steps = [RandomCrop(crop_size)] if preprocess in ("resize_and_crop", "crop") else []
        if preprocess == "resize_and_crop" and crop_size == load_size:
            steps = []                                       # the crop is the whole image
        steps += [RandomHorizontalFlip()] if flip else []
        self.random = bool(steps)
        self.augment = Compose(steps)
        self.to_array, self.normalize = ToArray(), Normalize()

    def check_crop(self, hw, path):
        if self.crop_size > min(hw):
            raise ValueError(f"crop_size {self.crop_size} is larger than the image {path} "
                             f"({hw[0]} x {hw[1]}); use a smaller crop_size or "
                             f"preprocess='resize_and_crop'")

    def __call__(self, images, rng, path):
        """Pillow images -> list of (C, h, w) float32 in [-1, 1], one crop and flip for all."""
        if self.preprocess == "crop":
            self.check_crop((images[0].height, images[0].width), path)
        if self.resize is not None:
            images = [self.resize(im) for im in images]
        arrays = [self.to_array(im) for im in images]        # each (C, H, W) in [0, 1]
        sizes = np.cumsum([a.shape[0] for a in arrays])[:-1]
        stacked = self.augment(np.concatenate(arrays), rng)  # (sum C, h, w): shared crop and flip
        return [self.normalize(np.ascontiguousarray(a)) for a in np.split(stacked, sizes)]


def _layout_folder(root, name, layout, phase=None):
    """``root / name``, or FileNotFoundError naming it and the expected layout."""
    folder = root / name
    expected = layout.format(root=root, phase=phase if phase is not None else name)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}; expected {expected}")
    if not folder.is_dir():
        raise FileNotFoundError(f"missing folder {folder}: expected {expected}; "
                                f"{root} holds {_listing(root)}")
    return folder


def _domain_images(folder, what):
    try:
        return list_images(folder)
    except ValueError as err:
        raise ValueError(f"{what} is empty: {err}") from None


class _ScaleWidth:
    """The reference's ``__scale_width``: width to ``width``, height in proportion but at least
    ``min_height`` (bicubic); a Pillow image in, one out."""

    def __init__(self, width, min_height):
        self.width, self.min_height = int(width), int(min_height)

    def __call__(self, image):
        w, h = image.size
        if w == self.width and h >= self.min_height:
            return image
        height = max(int(round(self.width * h / w)), self.min_height)
        return Resize((height, self.width), "bicubic")(image)


def _channels(wanted, found):
    if wanted is None:
        return found
    if wanted not in _MODES:
        raise ValueError(f"channels must be 1, 3 or None, got {wanted!r}")
    return wanted


def _listing(folder):
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in Path(folder).iterdir())
    if not names:
        return "nothing"
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")

