"""PyTorch's pre-0.4 names that GAN scripts still use, so a ported script changes only its imports.

    >>> import minigan as torch
    >>> Tensor = torch.cuda.FloatTensor if torch.cuda.is_available() else torch.FloatTensor
    >>> valid = torch.autograd.Variable(Tensor(np.ones((4, 1))), requires_grad=False)

- `FloatTensor`, `DoubleTensor`, `LongTensor`, `IntTensor`, `BoolTensor`, `ByteTensor` (and their
  `minigan.cuda` twins): call one with an array or nested list for a tensor of that dtype, or with
  sizes for an uninitialised one; `t.type(FloatTensor)` casts, and `isinstance(t, FloatTensor)` tests
  the dtype, as in torch.
- `Variable(data, requires_grad=False)`: the tensor itself (a Variable has been a Tensor since torch
  0.4); with requires_grad=True it becomes a leaf that requires a gradient.
"""
import numpy as np

from .autograd import Tensor, Variable, empty, tensor  # noqa: F401  (Variable: mg.Variable too)


class _TensorTypeMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and (cls.device == "cpu") == (obj.device == "cpu")

    def __repr__(cls):
        return f"minigan.{'cuda.' if cls.device == 'cuda' else ''}{cls.__name__}"


class _TensorType(metaclass=_TensorTypeMeta):
    """Base of the legacy tensor types; calling one makes a Tensor (never an instance of the class)."""
    dtype, device = np.dtype(np.float32), "cpu"

    def __new__(cls, *args):
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(cls.device, cls.dtype)
            return tensor(np.asarray(data), dtype=cls.dtype, device=cls.device)
        if not all(isinstance(a, (int, np.integer)) for a in args):
            raise TypeError(f"{cls!r}: expected an array, a nested list or sizes (ints), got {args!r}")
        return empty(*args, dtype=cls.dtype, device=cls.device)


def _tensor_type(name, dtype, device):
    return _TensorTypeMeta(name, (_TensorType,), {"dtype": np.dtype(dtype), "device": device})


FloatTensor = _tensor_type("FloatTensor", np.float32, "cpu")
DoubleTensor = _tensor_type("DoubleTensor", np.float64, "cpu")
LongTensor = _tensor_type("LongTensor", np.int64, "cpu")
IntTensor = _tensor_type("IntTensor", np.int32, "cpu")
BoolTensor = _tensor_type("BoolTensor", np.bool_, "cpu")
ByteTensor = _tensor_type("ByteTensor", np.uint8, "cpu")
CUDA_TYPES = {t.__name__: _tensor_type(t.__name__, t.dtype, "cuda")
              for t in (FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor, ByteTensor)}
