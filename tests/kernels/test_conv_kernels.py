"""conv2d / conv_transpose2d kernels: cpu == reference over generated geometries, both dtypes, every path
(GEMM with one or many chunks, the direct loops for few output channels), and reference == PyTorch."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigan.kernels import cpu, reference
from minigan.kernels.cpu import direct as cpu_direct
from minigan.kernels.reference import conv_output_size, conv_transpose_output_size

TOL = {np.float32: 2e-5, np.float64: 1e-11}


@contextlib.contextmanager
def layout(nhwc):
    """Force the column kernels channels-last (NHWC) or channels-first (NCHW) whatever the channel count."""
    saved = cpu.conv.NHWC_MIN_CHANNELS, cpu.conv.NHWC_MAX_WIDTH
    cpu.conv.NHWC_MIN_CHANNELS, cpu.conv.NHWC_MAX_WIDTH = (1, 10 ** 9) if nhwc else (10 ** 9, 0)
    try:
        yield
    finally:
        cpu.conv.NHWC_MIN_CHANNELS, cpu.conv.NHWC_MAX_WIDTH = saved


def assert_close(got, want, dtype):
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale)


@st.composite
def conv_cases(draw, transposed=False):
    """(x, w, b, stride, padding, dilation, output_padding) with a valid geometry."""
    k = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = tuple(draw(st.integers(0, (dd * (kk - 1)) // 2 + 1)) for kk, dd in zip(k, d))
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 6))
    wide = draw(st.booleans())            # wide outputs reach the direct path (few output channels)
    if transposed:
        size = (draw(st.integers(1, 6)), draw(st.integers(1, 20 if wide else 6)))
        op = tuple(draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
        out = [conv_transpose_output_size(size[a], k[a], s[a], p[a], op[a], d[a]) for a in (0, 1)]
        if min(out) < 1:
            p, op = (0, 0), op
    else:
        reach = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
        size = (draw(st.integers(max(1, reach[0] - 2 * p[0]), reach[0] + 6)),
                draw(st.integers(max(1, reach[1] - 2 * p[1]), reach[1] + (40 if wide else 6))))
        op = (0, 0)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w_shape = (c_in, c_out) + k if transposed else (c_out, c_in) + k
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    return x, w, b, s, p, d, op


@settings(deadline=None)
@given(conv_cases(), st.sampled_from([(True, True, True), (True, False, False), (False, True, True)]),
       st.booleans())
def test_conv2d_cpu_matches_reference(case, needs, nhwc):
    x, w, b, s, p, d, _ = case
    y = reference.conv2d_forward(x, w, b, s, p, d)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    with layout(nhwc):
        assert_close(cpu.conv2d_forward(x, w, b, s, p, d), y, x.dtype.type)
        grads = cpu.conv2d_backward(x, w, gy, s, p, d, needs)
    for got, want in zip(grads, reference.conv2d_backward(x, w, gy, s, p, d, needs)):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.dtype == x.dtype
            assert_close(got, want, x.dtype.type)


@settings(deadline=None)
@given(conv_cases(transposed=True), st.sampled_from([(True, True, True), (False, True, False)]),
       st.booleans())
def test_conv_transpose2d_cpu_matches_reference(case, needs, nhwc):
    x, w, b, s, p, d, op = case
    y = reference.conv_transpose2d_forward(x, w, b, s, p, op, d)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    with layout(nhwc):
        assert_close(cpu.conv_transpose2d_forward(x, w, b, s, p, op, d), y, x.dtype.type)
        got = cpu.conv_transpose2d_backward(x, w, gy, s, p, op, d, needs)
    want = reference.conv_transpose2d_backward(x, w, gy, s, p, op, d, needs)
    for g, r in zip(got, want):
        assert (g is None) == (r is None)
        if g is not None:
            assert_close(g, r, x.dtype.type)


@pytest.mark.parametrize("nhwc", [False, True])
def test_chunked_gemm_path_matches_reference(monkeypatch, nhwc):
    """Small CHUNK_BYTES: row bands of one sample, single samples, a few samples per piece; gw accumulates."""
    monkeypatch.setattr(cpu.conv, "NHWC_MIN_CHANNELS", 1 if nhwc else 10 ** 9)
    monkeypatch.setattr(cpu.conv, "NHWC_MAX_WIDTH", 10 ** 9)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3, 9, 8)), rng.standard_normal((6, 3, 3, 3)), rng.standard_normal(6)
    want_y = reference.conv2d_forward(x, w, b, (2, 1), (1, 1), (1, 1))
    gy = rng.standard_normal(want_y.shape)
    want = reference.conv2d_backward(x, w, gy, (2, 1), (1, 1), (1, 1))
    for chunk in (1, 3456, 3 * 9 * 20 * 8):      # 1-row bands, 2-row bands, 2-3 samples per chunk
        monkeypatch.setattr(cpu.conv, "CHUNK_BYTES", chunk)
        monkeypatch.setattr(cpu.conv, "MIN_COLUMNS", 1)
        assert_close(cpu.conv2d_forward(x, w, b, (2, 1), (1, 1), (1, 1)), want_y, np.float64)
        for g, r in zip(cpu.conv2d_backward(x, w, gy, (2, 1), (1, 1), (1, 1)), want):
            assert_close(g, r, np.float64)
        wt = rng.standard_normal((3, 4, 4, 4))
        yt = reference.conv_transpose2d_forward(x, wt, None, (2, 2), (1, 1), (1, 0), (1, 1))
        got = cpu.conv_transpose2d_forward(x, wt, None, (2, 2), (1, 1), (1, 0), (1, 1))
        assert_close(got, yt, np.float64)
        gyt = rng.standard_normal(yt.shape)
        for g, r in zip(cpu.conv_transpose2d_backward(x, wt, gyt, (2, 2), (1, 1), (1, 0), (1, 1)),
                        reference.conv_transpose2d_backward(x, wt, gyt, (2, 2), (1, 1), (1, 0), (1, 1))):
            assert_close(g, r, np.float64)


@pytest.mark.parametrize("stride", [1, 2])
def test_direct_path_is_taken_and_correct(stride):
    """64 -> 3 style: few output channels and a wide output take the direct loops."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 12, 40)).astype(np.float32)
    w = rng.standard_normal((3, 5, 7, 7)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    s, p, d = (stride, stride), (3, 3), (1, 1)
    assert cpu_direct.suits(3, conv_output_size(40, 7, stride, 3, 1))
    y = cpu.conv2d_forward(x, w, b, s, p, d)
    assert_close(y, reference.conv2d_forward(x, w, b, s, p, d), np.float32)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    for g, r in zip(cpu.conv2d_backward(x, w, gy, s, p, d), reference.conv2d_backward(x, w, gy, s, p, d)):
        assert_close(g, r, np.float32)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 8, 10, 4)).transpose(0, 3, 1, 2)          # (3, 4, 8, 10), not contiguous
    w = rng.standard_normal((4, 3, 5, 2)).transpose(1, 0, 3, 2)           # (3, 4, 2, 5), not contiguous
    x32 = x.astype(np.float32)[:, :, ::2]
    for xx in (x, x32):
        ww = w.astype(xx.dtype)
        want = reference.conv2d_forward(xx, ww, None, (1, 2), (1, 2), (1, 1))
        assert_close(cpu.conv2d_forward(xx, ww, None, (1, 2), (1, 2), (1, 1)), want, xx.dtype.type)


@settings(deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 2), st.integers(0, 2 ** 31))
def test_col2im_is_the_adjoint_of_im2col(n, c, k, s, p, d, seed):
    """<im2col(x), cols> == <x, col2im(cols)>, for both implementations; cpu == reference."""
    rng = np.random.default_rng(seed)
    size = d * (k - 1) + 1 + rng.integers(0, 5)
    x = rng.standard_normal((n, c, size, size + 1))
    geom = ((k, k), (s, s), (p, p), (d, d))
    cols = reference.im2col(x, *geom)
    np.testing.assert_array_equal(cpu.im2col(x, *geom), cols)
    other = rng.standard_normal(cols.shape)
    back = reference.col2im(other, x.shape, *geom)
    np.testing.assert_allclose(cpu.col2im(other, x.shape, *geom), back, atol=1e-12)
    np.testing.assert_allclose(np.sum(cols * other), np.sum(x * back), rtol=1e-10)


@settings(deadline=None, max_examples=15)
@given(conv_cases(), conv_cases(transposed=True))
def test_reference_matches_torch(case, tcase):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    for (x, w, b, s, p, d, op), transposed in ((case, False), (tcase, True)):
        x, w = x.astype(np.float64), w.astype(np.float64)
        b = None if b is None else b.astype(np.float64)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        bt = None if b is None else torch.tensor(b, requires_grad=True)
        if transposed:
            yt = F.conv_transpose2d(xt, wt, bt, s, p, op, 1, d)
            y = reference.conv_transpose2d_forward(x, w, b, s, p, op, d)
        else:
            yt = F.conv2d(xt, wt, bt, s, p, d)
            y = reference.conv2d_forward(x, w, b, s, p, d)
        np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-10)
        gy = np.random.default_rng(2).standard_normal(y.shape)
        yt.backward(torch.tensor(gy))
        if transposed:
            grads = reference.conv_transpose2d_backward(x, w, gy, s, p, op, d)
        else:
            grads = reference.conv2d_backward(x, w, gy, s, p, d)
        for g, t in zip(grads, (xt, wt, bt)):
            if t is not None:
                np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("stride, dilation, padding", [((2, 1), (1, 2), (0, 4)), ((1, 1), (2, 1), (3, 0)),
                                                       ((3, 2), (1, 1), (2, 1)), ((1, 1), (1, 3), (1, 9))])
@pytest.mark.parametrize("kernel", [(3, 1), (2, 5), (4, 7)])
def test_direct_path_geometries(stride, dilation, padding, kernel):
    """Both direct variants (unit width-stride with padded row buffers, and strided) on odd geometries."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11, 37))
    w = rng.standard_normal((2, 3) + kernel)
    b = rng.standard_normal(2)
    y = reference.conv2d_forward(x, w, b, stride, padding, dilation)
    assert cpu_direct.suits(2, y.shape[3]) or y.shape[3] < cpu_direct.MIN_WIDTH
    assert_close(cpu.conv2d_forward(x, w, b, stride, padding, dilation), y, np.float64)
    gy = rng.standard_normal(y.shape)
    for g, r in zip(cpu.conv2d_backward(x, w, gy, stride, padding, dilation),
                    reference.conv2d_backward(x, w, gy, stride, padding, dilation)):
        assert_close(g, r, np.float64)


@pytest.mark.parametrize("nhwc", [False, True])
@pytest.mark.parametrize("per_sample", [0, 10 ** 9])
def test_forward_with_a_gemm_per_sample(monkeypatch, nhwc, per_sample):
    """A piece of several samples: one GEMM per sample straight into y[n] (SAMPLE_GEMM_COLUMNS reached),
    or one shared GEMM and a copy out of the rows buffer; both == the reference, bias included."""
    monkeypatch.setattr(cpu.conv, "SAMPLE_GEMM_COLUMNS", per_sample)
    monkeypatch.setattr(cpu.gemm, "MIN_SPLIT_FLOPS", 0)            # a per-sample GEMM must be splittable
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((5, 8, 9, 7)), rng.standard_normal((6, 8, 3, 2)), rng.standard_normal(6)
    with layout(nhwc):
        got = cpu.conv2d_forward(x, w, b, (1, 2), (1, 0), (1, 1))
    assert_close(got, reference.conv2d_forward(x, w, b, (1, 2), (1, 0), (1, 1)), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias, needs", [(True, (True, True, True)), (False, (False, True, False)),
                                         (True, (True, False, True))])
def test_pointwise_path(dtype, bias, needs):
    """1x1 convs at stride 1 (no columns: one GEMM per sample on the NCHW arrays) == the reference, as a
    conv and as a transposed conv, whose input gradient is the same path."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 5, 4, 6)).astype(dtype), rng.standard_normal((7, 5, 1, 1)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype) if bias else None
    one, zero = (1, 1), (0, 0)
    y = reference.conv2d_forward(x, w, b, one, zero, one)
    assert_close(cpu.conv2d_forward(x, w, b, one, zero, one), y, dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    for g, r in zip(cpu.conv2d_backward(x, w, gy, one, zero, one, needs),
                    reference.conv2d_backward(x, w, gy, one, zero, one, needs)):
        assert (g is None) == (r is None)
        if g is not None:
            assert_close(g, r, dtype)
    wt = rng.standard_normal((5, 7, 1, 1)).astype(dtype)
    for g, r in zip(cpu.conv_transpose2d_backward(x, wt, gy, one, zero, zero, one),
                    reference.conv_transpose2d_backward(x, wt, gy, one, zero, zero, one)):
        assert_close(g, r, dtype)


@pytest.mark.parametrize("shape", [(40, 7, 9), (5, 7, 33), (1, 3, 1)])
def test_split_matmul_matches_numpy(monkeypatch, shape):
    """cpu.gemm.matmul cuts products into per-thread blocks of rows or columns; views and strided outputs."""
    from minigan.kernels.cpu import gemm
    monkeypatch.setattr(gemm, "MIN_SPLIT_FLOPS", 0)
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((k, m)).T, rng.standard_normal((n, k)).T       # transposed views
    big = np.zeros((m, n + 5))
    out = big[:, 2: 2 + n]                                                    # strided rows
    np.testing.assert_allclose(gemm.matmul(a, b, out), a @ b, rtol=1e-12)
    np.testing.assert_array_equal(big[:, :2], 0)
    np.testing.assert_array_equal(big[:, 2 + n:], 0)


def test_public_matmul_any_shape():
    from minigan import kernels
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 200)).astype(np.float32), rng.standard_normal((200, 400)).astype(np.float32)
    np.testing.assert_allclose(kernels.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(kernels.matmul(a[None], b), a[None] @ b, rtol=1e-5, atol=1e-4)
