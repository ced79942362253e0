"""torchvision's habits for porting scripts: ``datasets`` (ImageFolder, FakeData), ``transforms``
(Compose, Resize, CenterCrop, RandomCrop, RandomHorizontalFlip, ToTensor, Normalize, ...) and
``utils`` (make_grid, save_image). See docs/porting.md.

    import minigan.vision.datasets as dset
    import minigan.vision.transforms as transforms
    import minigan.vision.utils as vutils
"""
from . import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
