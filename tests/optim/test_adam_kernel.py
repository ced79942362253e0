"""The fused Adam kernel (kernels.cpu.optim) rounds exactly as reference.adam_step, the ten-pass version."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigan.kernels import cpu, reference


@given(n=st.integers(1, 300), dtype=st.sampled_from([np.float32, np.float64]), amsgrad=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2]), steps=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_fused_adam_equals_reference_bit_for_bit(n, dtype, amsgrad, weight_decay, steps, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(n).astype(dtype) for _ in range(2)] + [np.zeros(n, dtype) for _ in range(3)]
    mine, ref = [a.copy() for a in arrays], [a.copy() for a in arrays]
    for step in range(1, steps + 1):
        grad = rng.standard_normal(n).astype(dtype)
        for state, fn in ((mine, cpu.adam_step), (ref, reference.adam_step)):
            p, _, m, v, vmax = state
            fn(p, grad, m, v, vmax if amsgrad else None, step, 2e-4, 0.5, 0.999, 1e-8, weight_decay)
    for a, b in zip(mine, ref):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_arrays_take_the_reference_path():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((4, 6)).astype(np.float32)[:, ::2]          # a strided view
    want, before = p.copy(), p.copy()
    g = rng.standard_normal(p.shape).astype(np.float32)
    state = [np.zeros(p.shape, np.float32) for _ in range(2)]
    cpu.adam_step(p, g, *state, None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    reference.adam_step(want, g, *[np.zeros(p.shape, np.float32) for _ in range(2)], None, 1, 1e-3, 0.9, 0.999,
                        1e-8, 0.0)
    np.testing.assert_array_equal(p, want)
    assert not np.array_equal(p, before)
