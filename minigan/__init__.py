"""minigan: a small deep-learning engine on NumPy (CPU, Numba kernels) and CuPy (GPU) for GANs.

    >>> import minigan as mg
    >>> x = mg.randn(4, 3, requires_grad=True)
    >>> (x ** 2).mean().backward()
"""
import numpy as np

from . import backend
from .autograd import (Function, Tensor, arange, cat, empty, empty_like, enable_grad, from_numpy,
                       full, full_like, is_grad_enabled, linspace, no_grad, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, set_grad_enabled, stack, tensor, where,
                       zeros, zeros_like)
from .autograd.tensor_functions import (abs, add, amax, amin, argmax, argmin, clamp, clip, div,
                                        exp, flatten, is_tensor, log, masked_fill, matmul, max,
                                        maximum, mean, min, minimum, mm, mul, neg, numel, permute,
                                        pow, relu, reshape, sigmoid, sqrt, squeeze, std, sub, sum,
                                        tanh, transpose, unsqueeze, var)
from .random import manual_seed
from . import nn, optim  # noqa: E402  (mg.nn, mg.optim like torch.nn, torch.optim)
from .serialization import load, save  # noqa: E402  (mg.save / mg.load, as safetensors)
from . import utils  # noqa: E402  (mg.utils.data, mg.utils.save_image, like torch.utils)
from . import backends, cuda  # noqa: E402  (torch.cuda.is_available(), torch.backends.cudnn.benchmark)
from .legacy import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor,  # noqa: E402
                     LongTensor)

float32, float64, int64, int32, uint8 = np.float32, np.float64, np.int64, np.int32, np.uint8
float, double, long, int, bool = float32, float64, int64, int32, np.bool_     # torch's aliases
__version__ = "0.1.0"


def device(name=None):
    """Resolve a device string ("cpu", "cuda", "auto", None = default) to "cpu" or "cuda"."""
    return backend.parse_device(name)


def cuda_is_available():
    return backend.gpu_available()
