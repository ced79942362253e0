"""Reverse-mode autograd over NumPy / CuPy arrays: Tensor, Function, no_grad, gradcheck."""
from .tensor import Tensor
from .function import (Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled,
                       sum_to_shape)
from .api import (Variable, arange, cat, empty, empty_like, from_numpy, full, full_like, grad, linspace, ones,
                  ones_like, rand, rand_like, randint, randn, randn_like, stack, tensor, where, zeros,
                  zeros_like)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "sum_to_shape", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "rand",
           "randn", "randint", "cat", "stack", "where", "grad", "gradcheck", "gradgradcheck",
           "GradcheckError", "empty", "empty_like", "full_like", "rand_like", "randn_like",
           "from_numpy", "arange", "linspace", "Variable"]
