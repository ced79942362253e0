"""torchvision.datasets' ``ImageFolder`` and ``FakeData``: Pillow images in, ``(image, class)`` out.

Nothing is downloaded. For minigan's own datasets (generated digits and scenes, MNIST files,
pix2pix / CycleGAN folders) see ``minigan.data``.
"""
import os

import numpy as np
from PIL import Image

from ..data.folder import IMAGE_EXTENSIONS, read_image
from ..data.loader import Dataset, check_index


def pil_loader(path):
    """Open an image as RGB (the default loader); a clear error names a file Pillow cannot read."""
    return read_image(path, "RGB")


class ImageFolder(Dataset):
    """Images sorted into one folder per class: ``root/<class>/**/<image>``, as torchvision's.

    Sample i is ``(transform(image), target_transform(class_index))``; classes are the folder
    names, sorted. Attributes: ``classes``, ``class_to_idx``, ``samples`` / ``imgs`` (path, class)
    pairs, ``targets``.

    Example: ``ImageFolder("faces", transform=transforms.ToTensor())[0]`` -> (Tensor (3, H, W), 0).
    """

    def __init__(self, root, transform=None, target_transform=None, loader=pil_loader,
                 extensions=IMAGE_EXTENSIONS, is_valid_file=None):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: root must be a folder of class folders, got "
                                    f"{self.root!r} ({'a file' if os.path.exists(self.root) else 'missing'})")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: no class folders in {self.root!r}; put the "
                                    f"images in at least one sub-folder (root/<class>/image.png)")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        valid = is_valid_file or (lambda p: p.lower().endswith(tuple(extensions)))
        self.samples = []
        for name in self.classes:
            for folder, _, files in sorted(os.walk(os.path.join(self.root, name),
                                                   followlinks=True)):
                self.samples += [(os.path.join(folder, f), self.class_to_idx[name])
                                 for f in sorted(files) if valid(os.path.join(folder, f))]
        if not self.samples:
            raise FileNotFoundError(f"ImageFolder: no images in the class folders of "
                                    f"{self.root!r} (looked for {', '.join(extensions)})")
        self.imgs = self.samples
        self.targets = [target for _, target in self.samples]
        self.loader, self.transform, self.target_transform = loader, transform, target_transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[check_index(index, len(self))]
        image = self.loader(path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class FakeData(Dataset):
    """Random images: sample i is ``(Pillow image of image_size = (C, H, W), class)``, the same for
    the same i on every run (its generator is seeded by ``i + random_offset``)."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"FakeData: size must be a non-negative int, got {size!r}")
        if len(image_size) != 3 or image_size[0] not in (1, 3):
            raise ValueError(f"FakeData: image_size must be (C, H, W) with C 1 or 3, got "
                             f"{image_size!r}")
        self.size, self.image_size, self.num_classes = int(size), tuple(image_size), num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        index = check_index(index, len(self))
        rng = np.random.default_rng(index + self.random_offset)
        channels, height, width = self.image_size
        pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)  # (H, W, C)
        image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels)
        target = int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
