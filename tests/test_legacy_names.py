"""PyTorch's old names that GAN scripts still use (minigan/legacy.py, minigan/cuda.py, minigan/backends)."""
import numpy as np
import pytest

import minigan as mg
from minigan.autograd import Variable


def test_tensor_types_make_cast_and_test_tensors():
    t = mg.FloatTensor(np.ones((4, 1)))
    assert t.dtype == np.float32 and t.shape == (4, 1) and t.device == "cpu"
    assert isinstance(t, mg.FloatTensor) and not isinstance(t, mg.LongTensor)
    assert not isinstance(t, mg.cuda.FloatTensor)
    assert mg.FloatTensor(2, 3).shape == (2, 3)
    assert mg.LongTensor([1, 2]).dtype == np.int64
    x = mg.tensor(np.arange(6).reshape(2, 3))
    assert x.type(mg.FloatTensor).dtype == np.float32 and x.type(mg.DoubleTensor).dtype == np.float64
    assert x.type(mg.Tensor).dtype == np.float32                  # torch.Tensor: the default type
    assert repr(mg.cuda.FloatTensor) == "minigan.cuda.FloatTensor"
    with pytest.raises(TypeError, match="sizes"):
        mg.FloatTensor(2, "x")


def test_variable_is_the_tensor_or_a_new_leaf():
    t = mg.ones(3)
    assert Variable(t) is t
    w = Variable(t, requires_grad=True)
    assert w.requires_grad and not t.requires_grad
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2, 2, 2])
    assert Variable(np.zeros(2)).shape == (2,)


def test_cuda_and_backends_namespaces():
    assert mg.cuda.is_available() == mg.cuda_is_available()
    assert mg.cuda.device_count() >= 0
    mg.cuda.manual_seed_all(3)
    a = mg.randn(2)
    mg.manual_seed(3)
    np.testing.assert_array_equal(a.numpy(), mg.randn(2).numpy())
    mg.backends.cudnn.benchmark = True                     # accepted, no effect
    assert mg.backends.mps.is_available() is False
