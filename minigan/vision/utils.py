"""torchvision.utils' grid functions: ``make_grid`` and ``save_image`` (``minigan.utils.image``)."""
from ..utils.image import make_grid, save_image

__all__ = ["make_grid", "save_image"]
