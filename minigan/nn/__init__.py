"""minigan.nn: modules, layers, losses, initialisation and `functional`, with torch.nn's names.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> import minigan.nn.functional as F
    >>> G = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 2))
    >>> nn.init.dcgan_init_(G)                            # optional: N(0, 0.02) weights
    >>> G(mg.randn(16, 2)).shape
    (16, 2)

Files: module.py (Module, Parameter), containers.py (Sequential, ModuleList, ModuleDict),
layers.py (Linear, Embedding, Dropout(2d), activations, softmax, shape, padding, losses), conv.py,
norm.py (batch, instance, group, layer), pooling.py (pooling, Upsample, PixelShuffle), init.py,
functional.py (+ functional_spatial.py, functional_softmax.py), utils/ (spectral_norm,
clip_grad_norm_).
"""
from . import functional, init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .layers import (BCELoss, BCEWithLogitsLoss, ConstantPad2d, CrossEntropyLoss, Dropout,
                     Dropout2d, Embedding, Flatten, Identity, L1Loss, LeakyReLU, Linear, LogSoftmax,
                     MSELoss, NLLLoss, ReflectionPad2d, ReLU, ReplicationPad2d, Sigmoid, Softmax,
                     Tanh, Unflatten, ZeroPad2d)
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .pooling import (AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, PixelShuffle, PixelUnshuffle,
                      Upsample, UpsamplingBilinear2d, UpsamplingNearest2d)
from . import parallel  # DistributedDataParallel (imports minigan.distributed, never mpi4py)
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "Linear", "Embedding", "Dropout", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity",
           "Flatten", "Unflatten", "ReflectionPad2d", "ConstantPad2d", "ZeroPad2d", "Conv2d",
           "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "MSELoss", "L1Loss",
           "BCELoss", "BCEWithLogitsLoss", "utils", "Dropout2d", "ReplicationPad2d", "Softmax",
           "LogSoftmax", "NLLLoss", "CrossEntropyLoss", "GroupNorm", "LayerNorm", "AvgPool2d",
           "MaxPool2d", "AdaptiveAvgPool2d", "Upsample", "UpsamplingNearest2d",
           "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle"]
