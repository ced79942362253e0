"""torch's function forms of Tensor methods: `mg.tanh(x)` is `x.tanh()`, `mg.max(x, 1)` is `x.max(1)`.

Each is one line over the method in tensor.py, so the op, its graph and its gradient are the
method's. Exported at the top level (`mg.exp`, `mg.flatten`, ...), as torch's are.

    >>> import minigan as mg
    >>> x = mg.randn(4, 3)
    >>> mg.max(x, dim=1).indices.shape, mg.clamp(x, -1, 1).shape
    ((4,), (4, 3))
"""
from .tensor import Tensor


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


# ---------------------------------------------------------------- elementwise
def exp(input):
    return input.exp()


def log(input):
    return input.log()


def sqrt(input):
    return input.sqrt()


def abs(input):
    return input.abs()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def relu(input):
    return input.relu()


def clamp(input, min=None, max=None):
    return input.clamp(min, max)


clip = clamp


def neg(input):
    return -input


def pow(input, exponent):
    return input ** exponent


def add(input, other, alpha=1):
    return input + (other if alpha == 1 else other * alpha)


def sub(input, other, alpha=1):
    return input - (other if alpha == 1 else other * alpha)


def mul(input, other):
    return input * other


def div(input, other):
    return input / other


def maximum(input, other):
    return input.max(other)


def minimum(input, other):
    return input.min(other)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def matmul(input, other):
    return input @ other


mm = matmul


# ---------------------------------------------------------------- reductions
def sum(input, dim=None, keepdim=False):
    return input.sum(dim, keepdim)


def mean(input, dim=None, keepdim=False):
    return input.mean(dim, keepdim)


def max(input, dim=None, keepdim=False):
    """The largest value; with dim, (values, indices); with a Tensor, the elementwise maximum."""
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False):
    return input.min(dim, keepdim)


def amax(input, dim=None, keepdim=False):
    return input.amax(dim, keepdim)


def amin(input, dim=None, keepdim=False):
    return input.amin(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction)


# ---------------------------------------------------------------- shape
def reshape(input, shape):
    return input.reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)
