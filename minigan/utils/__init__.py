"""torch.utils / torchvision.utils habits: ``minigan.utils.data`` (Dataset, DataLoader, collate,
TensorDataset, Subset, random_split) and image grids (``make_grid``, ``save_image``)."""
from . import data
from .image import make_grid, save_image

__all__ = ["data", "make_grid", "save_image"]
