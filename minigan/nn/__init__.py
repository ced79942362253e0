"""minigan.nn: modules, layers, losses, initialisation and `functional`, with torch.nn's names.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> import minigan.nn.functional as F
    >>> G = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 2))
    >>> nn.init.dcgan_init_(G)                            # optional: N(0, 0.02) weights
    >>> G(mg.randn(16, 2)).shape
    (16, 2)

Files: module.py (Module, Parameter), containers.py (Sequential, ModuleList, ModuleDict),
layers.py (Linear, Embedding, Dropout, activations, shape, padding, losses), conv.py, norm.py,
init.py, functional.py.
"""
from . import functional, init
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .layers import (BCELoss, BCEWithLogitsLoss, ConstantPad2d, Dropout, Embedding, Flatten,
                     Identity, L1Loss, LeakyReLU, Linear, MSELoss, ReflectionPad2d, ReLU, Sigmoid,
                     Tanh, Unflatten, ZeroPad2d)
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, InstanceNorm2d

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "Linear", "Embedding", "Dropout", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity",
           "Flatten", "Unflatten", "ReflectionPad2d", "ConstantPad2d", "ZeroPad2d", "Conv2d",
           "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "MSELoss", "L1Loss",
           "BCELoss", "BCEWithLogitsLoss"]
