"""Pooling kernels: cpu (Numba) == reference (whole-array NumPy) over generated geometries, with NaN and
-inf in the input, ceil_mode overhangs, and with and without the picks."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minigan.autograd.pool import avg_pool_divisor, pool_geometry
from minigan.kernels import cpu, reference


@st.composite
def pools(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    size = tuple(draw(st.integers(d_ * (k_ - 1) + 1, 12)) for k_, d_ in zip(k, d))
    ceil = draw(st.booleans())
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (n, c) + size, k, s, p, d, ceil, draw(st.integers(0, 2 ** 31))


def specials(x, rng):
    """Sprinkle NaN, +inf and -inf, and ties (repeated values) into x."""
    flat = x.reshape(-1)
    for value in (np.nan, np.inf, -np.inf, 0.5, 0.5):
        flat[rng.integers(flat.size)] = value
    return x


@given(pools(), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_max_pool_matches_reference(case, dtype, with_pick):
    shape, k, s, p, d, ceil, seed = case
    rng = np.random.default_rng(seed)
    x = specials(rng.standard_normal(shape).astype(dtype), rng)
    geom = pool_geometry(shape[2:], k, s, p, d, ceil)
    want, want_pick = reference.max_pool2d_forward(x, geom)
    got, got_pick = cpu.max_pool2d_forward(x, geom, with_pick)
    np.testing.assert_array_equal(got, want)
    if with_pick:
        np.testing.assert_array_equal(got_pick, want_pick)
    else:
        assert got_pick is None


@given(pools(), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_avg_pool_matches_reference(case, dtype, count_include_pad):
    shape, k, s, p, d, ceil, seed = case
    if d != (1, 1):
        d = (1, 1)                   # avg_pool2d has no dilation
        shape = shape[:2] + tuple(max(a, b) for a, b in zip(shape[2:], k))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    geom = pool_geometry(shape[2:], k, s, p, d, ceil)
    divisor = avg_pool_divisor(shape[2:], geom, count_include_pad)
    np.testing.assert_array_equal(cpu.avg_pool2d_forward(x, geom, divisor),
                                  reference.avg_pool2d_forward(x, geom, divisor))


def test_max_pool_never_picks_padding():
    """An all -inf input: every window's pick is an input cell, as torch's indices are."""
    x = np.full((1, 1, 3, 3), -np.inf)
    geom = pool_geometry((3, 3), (3, 3), (2, 2), (1, 1), (1, 1), False)
    for fn in (reference.max_pool2d_forward, cpu.max_pool2d_forward):
        _, pick = fn(x, geom)
        np.testing.assert_array_equal(pick.reshape(-1), [4, 3, 1, 0])   # the first input cell of each window
