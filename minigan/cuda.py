"""`minigan.cuda`, shaped like torch.cuda for the calls GAN scripts make.

    >>> import minigan as torch
    >>> cuda = torch.cuda.is_available()       # True with CuPy and a CUDA device
"""
from . import backend
from . import random as _random
from .legacy import CUDA_TYPES

FloatTensor, DoubleTensor, LongTensor = CUDA_TYPES["FloatTensor"], CUDA_TYPES["DoubleTensor"], CUDA_TYPES["LongTensor"]
IntTensor, BoolTensor, ByteTensor = CUDA_TYPES["IntTensor"], CUDA_TYPES["BoolTensor"], CUDA_TYPES["ByteTensor"]


def is_available():
    """True when CuPy and a CUDA device are there."""
    return backend.gpu_available()


def device_count():
    """CUDA devices CuPy sees (0 without CuPy)."""
    if not backend.gpu_available():
        return 0
    return int(backend.cp.cuda.runtime.getDeviceCount())


def manual_seed(seed):
    """minigan draws every random number from one generator (minigan.manual_seed), on any device."""
    _random.manual_seed(seed)


manual_seed_all = manual_seed
