"""`minigan.backends`, for the torch.backends switches scripts set: accepted, with no effect here."""
from . import cudnn, mps  # noqa: F401
