"""GPU kernels (kernels/gpu.py) and the engine on "cuda": every kernel equals the NumPy reference and the
CPU kernel in float32 and float64, float64 gradient checks run on cuda tensors, and GAN training steps on
"cuda" give the CPU's numbers. Marked `gpu`: skipped without CuPy and a device (tests/conftest.py).

Without a GPU, the same file runs against an emulated CuPy (CUDA sources compiled for the host):
    PYTHONPATH=tests/kernels python -m pytest -p cupy_emulator tests/kernels/test_gpu.py
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan import backend, kernels, nn, optim
from minigan.kernels import cpu, reference
from minigan.kernels.reference import conv_transpose_output_size

pytestmark = pytest.mark.gpu
TOL = {np.float32: 3e-5, np.float64: 1e-11}
NEEDS = [(True, True, True), (True, False, False), (False, True, False), (False, False, True)]


def gpu():
    from minigan.kernels import gpu as module     # imported here: it needs CuPy
    return module


def dev(a):
    return None if a is None else backend.cp.asarray(a)


def host(a):
    return None if a is None else backend.cp.asnumpy(a)


def check(got, want, dtype, scale=1.0):
    """got (a CuPy array) equals want (NumPy) in dtype and shape, within the dtype's tolerance."""
    assert (got is None) == (want is None)
    if want is None:
        return
    assert backend.is_cupy_array(got), type(got)
    got = host(got)
    assert got.dtype == want.dtype == dtype and got.shape == want.shape
    size = float(np.abs(want).max()) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale * max(1.0, size))


# ----------------------------------------------------------------------------------------- convolutions

@st.composite
def conv_cases(draw, transposed=False, max_kernel=5, batch=3, c_in=5, c_out=6, max_size=7):
    """(x, w, b, stride, padding, dilation, output_padding) with a valid geometry, as NumPy arrays;
    kernel sides up to max_kernel, up to `batch` samples and c_in/c_out channels."""
    k = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = tuple(draw(st.integers(0, (dd * (kk - 1)) // 2 + 1)) for kk, dd in zip(k, d))
    n, c_in, c_out = draw(st.integers(1, batch)), draw(st.integers(1, c_in)), draw(st.integers(1, c_out))
    op = (0, 0)
    if transposed:
        size = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
        op = tuple(draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
        if min(conv_transpose_output_size(size[a], k[a], s[a], p[a], op[a], d[a]) for a in (0, 1)) < 1:
            p = (0, 0)
    else:
        reach = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
        size = tuple(draw(st.integers(max(1, r - 2 * pp), r + 9)) for r, pp in zip(reach, p))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_in, c_out) + k if transposed else (c_out, c_in) + k).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    return x, w, b, s, p, d, op


@settings(deadline=None)
@given(conv_cases(), st.sampled_from(NEEDS))
def test_conv2d_gpu_matches_reference_and_cpu(case, needs):
    x, w, b, s, p, d, _ = case
    dtype = x.dtype.type
    want = reference.conv2d_forward(x, w, b, s, p, d)
    y = gpu().conv2d_forward(dev(x), dev(w), dev(b), s, p, d)
    check(y, want, dtype)
    check(y, cpu.conv2d_forward(x, w, b, s, p, d), dtype)
    gy = np.random.default_rng(1).standard_normal(want.shape).astype(dtype)
    got = gpu().conv2d_backward(dev(x), dev(w), dev(gy), s, p, d, needs)
    for g, r, c in zip(got, reference.conv2d_backward(x, w, gy, s, p, d, needs),
                       cpu.conv2d_backward(x, w, gy, s, p, d, needs)):
        check(g, r, dtype, 10)
        check(g, c, dtype, 10)


@settings(deadline=None)
@given(conv_cases(transposed=True), st.sampled_from(NEEDS))
def test_conv_transpose2d_gpu_matches_reference_and_cpu(case, needs):
    x, w, b, s, p, d, op = case
    dtype = x.dtype.type
    want = reference.conv_transpose2d_forward(x, w, b, s, p, op, d)
    y = gpu().conv_transpose2d_forward(dev(x), dev(w), dev(b), s, p, op, d)
    check(y, want, dtype)
    check(y, cpu.conv_transpose2d_forward(x, w, b, s, p, op, d), dtype)
    gy = np.random.default_rng(1).standard_normal(want.shape).astype(dtype)
    got = gpu().conv_transpose2d_backward(dev(x), dev(w), dev(gy), s, p, op, d, needs)
    for g, r, c in zip(got, reference.conv_transpose2d_backward(x, w, gy, s, p, op, d, needs),
                       cpu.conv_transpose2d_backward(x, w, gy, s, p, op, d, needs)):
        check(g, r, dtype, 10)
        check(g, c, dtype, 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_col2im_match_reference_with_a_larger_grid(dtype):
    """out_size beyond the conv's own grid (the transposed-conv case): taps past the edge read zeros."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    args = ((3, 2), (2, 1), (1, 0), (1, 2), (5, 4))
    cols = reference.im2col(x, *args)
    check(gpu().im2col(dev(x), *args), cols, dtype)
    check(kernels.im2col(dev(x), *args), cols, dtype)                       # through the dispatcher
    check(gpu().col2im(dev(cols), x.shape, *args), reference.col2im(cols, x.shape, *args), dtype, 10)


def test_raw_kernels_loop_past_the_grid_limit():
    """More column rows (C*kh*kw) and more planes (N*C) than CUDA's 65535 blocks in y."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8200, 2, 2))                                # K = 8200*3*3 = 73800 rows
    w = rng.standard_normal((2, 8200, 3, 3))
    check(gpu().conv2d_forward(dev(x), dev(w), None, (1, 1), (1, 1), (1, 1)),
          reference.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1)), np.float64, 10)
    cols = rng.standard_normal((66000 * 4, 1))                                # N*C = 66000 planes
    check(gpu().col2im(dev(cols), (1, 66000, 1, 1), (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)),
          reference.col2im(cols, (1, 66000, 1, 1), (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)), np.float64)


# ------------------------------------------------------------------------------------------ batch norm

@settings(deadline=None)
@given(st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 40), st.integers(1, 40)),
       st.sampled_from([np.float32, np.float64]), st.booleans(), st.booleans(), st.integers(0, 2 ** 31))
def test_batch_norm_gpu_matches_reference_and_cpu(shape, dtype, affine, training, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)            # an offset mean tests the variance
    mean, var = reference.batch_norm_stats(x)
    got_mean, got_var = gpu().batch_norm_stats(dev(x))
    for got, want, c in ((got_mean, mean, cpu.batch_norm_stats(x)[0]), (got_var, var, cpu.batch_norm_stats(x)[1])):
        check(got, want, dtype, 10)
        check(got, c, dtype, 10)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    b = rng.standard_normal(shape[1]).astype(dtype) if affine else None
    check(gpu().batch_norm_apply(dev(x), dev(mean), dev(invstd), dev(w), dev(b)),
          reference.batch_norm_apply(x, mean, invstd, w, b), dtype, 10)
    gy = rng.standard_normal(shape).astype(dtype)
    for needs in ((True, True, True), (True, False, False), (False, True, True)):
        got = gpu().batch_norm_backward(dev(gy), dev(x), dev(mean), dev(invstd), dev(w), training, needs)
        for g, r, c in zip(got, reference.batch_norm_backward(gy, x, mean, invstd, w, training, needs),
                           cpu.batch_norm_backward(gy, x, mean, invstd, w, training, needs)):
            scale = 10 * np.sqrt(x.size)                                   # sums over the channel
            check(g, r, dtype, scale)
            check(g, c, dtype, scale)


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (2, 70000, 2), (1, 1, 1)])
def test_batch_norm_stats_split_channels_and_many_channels(shape):
    """Channels split over many blocks (64*32*32 elements each), and more channels than grid rows."""
    x = np.random.default_rng(0).standard_normal(shape) + 100.0                  # |mean| >> std
    mean, var = reference.batch_norm_stats(x)
    got_mean, got_var = gpu().batch_norm_stats(dev(x))
    check(got_mean, mean, np.float64, 10)
    check(got_var, var, np.float64, 1e4)                                         # ~1e-7 relative


# ------------------------------------------------------------------------------ activation, losses, pad

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_gpu_matches_reference_exactly(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 7)).astype(dtype)
    x[:3] = 0                                                       # the gradient at 0 takes the slope
    gy = rng.standard_normal(x.shape).astype(dtype)
    for a, g in ((x, gy), (x[:, ::-2], gy[:, ::-2])):                # contiguous and strided
        np.testing.assert_array_equal(host(gpu().leaky_relu_forward(dev(a), 0.2)), reference.leaky_relu_forward(a, 0.2))
        got = host(gpu().leaky_relu_backward(dev(g), dev(a), 0.2))
        np.testing.assert_array_equal(got, reference.leaky_relu_backward(g, a, 0.2))
        np.testing.assert_array_equal(got, cpu.leaky_relu_backward(g, a, 0.2))
        assert got.dtype == dtype


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")         # reference.py's plain sigmoid
@settings(deadline=None)
@given(st.tuples(st.integers(1, 9), st.integers(1, 5)), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.booleans(), st.integers(0, 2 ** 31))
def test_bce_losses_gpu_match_reference_and_cpu(shape, dtype, reduction, weighted, pos_weighted, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(shape).astype(dtype)
    p.flat[0] = 0.0                                                  # log(0) clamps at -100
    y = rng.random(shape).astype(dtype)
    x = (rng.standard_normal(shape) * 40).astype(dtype)              # large logits test stability
    w = rng.random((1, shape[1])).astype(dtype) if weighted else None
    pw = (rng.random(shape[1]) * 3).astype(dtype) if pos_weighted else None
    gout = np.asarray(rng.standard_normal(shape if reduction == "none" else ()), dtype)
    G = gpu()
    cases = [
        (G.binary_cross_entropy_forward(dev(p), dev(y), dev(w), reduction),
         reference.binary_cross_entropy_forward(p, y, w, reduction),
         cpu.binary_cross_entropy_forward(p, y, w, reduction)),
        (G.binary_cross_entropy_backward(dev(gout), dev(p), dev(y), dev(w), reduction),
         reference.binary_cross_entropy_backward(gout, p, y, w, reduction),
         cpu.binary_cross_entropy_backward(gout, p, y, w, reduction)),
        (G.binary_cross_entropy_with_logits_forward(dev(x), dev(y), dev(w), dev(pw), reduction),
         reference.binary_cross_entropy_with_logits_forward(x, y, w, pw, reduction),
         cpu.binary_cross_entropy_with_logits_forward(x, y, w, pw, reduction)),
        (G.binary_cross_entropy_with_logits_backward(dev(gout), dev(x), dev(y), dev(w), dev(pw), reduction),
         reference.binary_cross_entropy_with_logits_backward(gout, x, y, w, pw, reduction),
         cpu.binary_cross_entropy_with_logits_backward(gout, x, y, w, pw, reduction)),
    ]
    for got, want, on_cpu in cases:
        check(got, want, dtype, 100)
        check(got, on_cpu, dtype, 100)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_large_bce_reductions_run_in_two_stages(reduction, monkeypatch):
    """Past SMALL_REDUCTION elements the reduced losses are summed in two stages (rows, then total)."""
    G = gpu()
    monkeypatch.setattr(G, "SMALL_REDUCTION", 100)
    rng = np.random.default_rng(0)
    shape = (3, 1100)                                                # 3 rows of 1024 and a tail
    p, y = rng.random(shape), rng.random(shape)
    w = rng.random((1, 1100))
    check(G.binary_cross_entropy_forward(dev(p), dev(y), dev(w), reduction),
          reference.binary_cross_entropy_forward(p, y, w, reduction), np.float64, 100)
    x = rng.standard_normal(shape).astype(np.float32) * 5
    check(G.binary_cross_entropy_with_logits_forward(dev(x), dev(y.astype(np.float32)), None, None,
                                                     reduction),
          reference.binary_cross_entropy_with_logits_forward(x, y.astype(np.float32), None, None,
                                                             reduction), np.float32, 100)


@settings(deadline=None)
@given(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)),
       st.sampled_from([np.float32, np.float64]), st.data())
def test_reflection_pad_gpu_matches_reference(shape, dtype, data):
    H, W = shape[2:]
    pad = (data.draw(st.integers(0, W - 1)), data.draw(st.integers(0, W - 1)),
           data.draw(st.integers(0, H - 1)), data.draw(st.integers(0, H - 1)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    y = reference.reflection_pad2d_forward(x, pad)
    np.testing.assert_array_equal(host(gpu().reflection_pad2d_forward(dev(x), pad)), y)
    gy = rng.standard_normal(y.shape).astype(dtype)
    check(gpu().reflection_pad2d_backward(dev(gy), pad), reference.reflection_pad2d_backward(gy, pad), dtype, 10)


def test_gpu_module_mirrors_the_cpu_names_and_signatures():
    import inspect
    for name in kernels.NAMES:
        assert inspect.signature(getattr(gpu(), name)) == inspect.signature(getattr(cpu, name)), name


def test_dispatch_and_dtype_errors():
    x = dev(np.zeros((2, 3), np.float32))
    assert backend.get_array_module(x) is backend.cp                    # a raw array, not only a Tensor
    assert backend.get_array_module(mg.Tensor(x)) is backend.cp
    assert kernels.module_for(np.zeros(2), x) is gpu()
    assert backend.is_cupy_array(kernels.leaky_relu_forward(x, 0.1))
    with pytest.raises(TypeError, match="float32 or float64"):
        gpu().leaky_relu_forward(x.astype(np.float16), 0.1)


# ------------------------------------------------------------------------------- gradchecks on "cuda"

def cuda(shape, low=None, high=None, seed=0, grad=True):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return mg.tensor(data, dtype=mg.float64, device="cuda", requires_grad=grad)


GRADCHECKS = {
    "conv2d": lambda: (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)),
                       (cuda((2, 2, 6, 7)), cuda((3, 2, 3, 2), seed=1), cuda(3, seed=2))),
    "conv_transpose2d": lambda: (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                                 (cuda((2, 3, 3, 4)), cuda((3, 2, 3, 3), seed=1), cuda(2, seed=2))),
    "batch_norm": lambda: (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                           (cuda((4, 3, 2, 3)), cuda(3, seed=1), cuda(3, seed=2))),
    "instance_norm": lambda: (lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                              (cuda((2, 3, 3, 3)), cuda(3, seed=1), cuda(3, seed=2))),
    "leaky_relu": lambda: (lambda x: F.leaky_relu(x, 0.2), (cuda((4, 5)),)),
    "bce": lambda: (lambda p, y: F.binary_cross_entropy(p, y),
                    (cuda((4, 3), 0.1, 0.9), cuda((4, 3), 0, 1, seed=1))),
    "bce_with_logits": lambda: (lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                                (cuda((4, 3)), cuda((4, 3), 0, 1, seed=1), cuda(3, 0.5, 2, seed=2, grad=False))),
    "reflection_pad": lambda: (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), (cuda((2, 2, 4, 3)),)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_float64_gradcheck_on_cuda(name):
    fn, inputs = GRADCHECKS[name]()
    assert all(t.device == "cuda" for t in inputs)
    assert fn(*inputs).device == "cuda"
    assert mg.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------- training steps on "cuda"

def _gan(make_models, latent_shape, device, lr=2e-4):
    from minigan.gans import GAN
    mg.manual_seed(0)
    G, D = make_models()
    G.to(device)
    D.to(device)
    g_opt = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    return GAN(G, D, g_opt, d_opt, latent_shape=latent_shape)


def _same_steps_on_cpu_and_cuda(make_models, latent_shape, real, steps=3, rtol=2e-3):
    """`steps` train steps from the same weights and noise on both devices give the same losses."""
    runs = {}
    for device in ("cpu", "cuda"):
        gan = _gan(make_models, latent_shape, device)
        mg.manual_seed(1)
        runs[device] = [gan.train_step(mg.tensor(real, device=device)) for _ in range(steps)]
        assert all(p.device == device for p in gan.G.parameters())
    for on_cpu, on_gpu in zip(runs["cpu"], runs["cuda"]):
        for key in on_cpu:
            assert np.isfinite(on_gpu[key])
            np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=rtol, atol=1e-4, err_msg=key)
    return runs


def test_mlp_gan_steps_on_cuda_match_cpu():
    from minigan.models import mlp_discriminator, mlp_generator
    real = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    _same_steps_on_cpu_and_cuda(lambda: (mlp_generator(latent_dim=2, hidden=64, layers=3),
                                         mlp_discriminator(hidden=64, layers=2)), 2, real)


def test_dcgan_steps_on_cuda_match_cpu():
    from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator
    real = np.tanh(np.random.default_rng(0).standard_normal((8, 1, 16, 16))).astype(np.float32)
    _same_steps_on_cpu_and_cuda(lambda: (DCGANGenerator(image_size=16, latent_dim=8, channels=1, ngf=8),
                                         DCGANDiscriminator(image_size=16, channels=1, ndf=8)), (8, 1, 1), real)


def test_module_on_cuda_runs_every_kernel_backed_layer():
    """A network with every kernel-backed layer trains one step on cuda, with gradients on cuda."""
    mg.manual_seed(0)
    net = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4, affine=True),
                        nn.LeakyReLU(0.2), nn.ConvTranspose2d(4, 2, 4, 2, 1), nn.BatchNorm2d(2)).to("cuda")
    opt = optim.Adam(net.parameters(), lr=1e-3)
    x = mg.randn(2, 3, 8, 8, device="cuda")
    loss = F.binary_cross_entropy_with_logits(net(x), mg.ones(2, 2, 16, 16, device="cuda"))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(p.grad is not None and p.grad.device == "cuda" for p in net.parameters())
    assert np.isfinite(loss.item())


def test_dropout_on_cuda_draws_its_mask_on_the_device_reproducibly():
    x = mg.ones(200, 200, device="cuda")
    mg.manual_seed(3)
    y = F.dropout(x, 0.25)
    assert y.device == "cuda"
    got = y.numpy()
    assert abs((got == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(got[got != 0], 1 / 0.75, rtol=1e-6)
    mg.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.25).numpy(), got)         # manual_seed reproduces it
    assert not np.array_equal(F.dropout(x, 0.25).numpy(), got)              # the next call draws anew
    assert (F.dropout(x, 1.0).numpy() == 0).all()


def test_bce_on_cuda_skips_the_host_range_check_and_clamps_its_logs():
    p = mg.tensor([0.5, 1.5, -0.5], device="cuda")
    y = mg.tensor([1.0, 0.0, 1.0], device="cuda")
    loss = F.binary_cross_entropy(p, y, reduction="none").numpy()
    np.testing.assert_allclose(loss, [np.log(2), 100, 100], rtol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([1.0, 0.0]))


def test_cgan_steps_on_cuda_match_cpu():
    """Label embeddings on cuda (their backward is cupy.add.at over repeated labels) and host labels
    checked then moved: three cGAN steps give the CPU's losses (no dropout, whose masks differ)."""
    from minigan.gans.cgan import CGAN
    from minigan.models.cgan import CGANDiscriminator, CGANGenerator
    rng = np.random.default_rng(0)
    images = np.tanh(rng.standard_normal((8, 1, 8, 8))).astype(np.float32)
    labels = np.arange(8) % 3
    runs = {}
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        G = CGANGenerator(8, 3, (1, 8, 8), hidden=(16, 32)).to(device)
        D = CGANDiscriminator(3, (1, 8, 8), hidden=32, dropout=0.0).to(device)
        cgan = CGAN(G, D, optim.Adam(G.parameters()), optim.Adam(D.parameters()), latent_dim=8, n_classes=3)
        mg.manual_seed(1)
        runs[device] = [cgan.train_step(mg.tensor(images), mg.tensor(labels)) for _ in range(3)]
        assert G.label_emb.weight.grad.device == device
    for on_cpu, on_gpu in zip(runs["cpu"], runs["cuda"]):
        for key in on_cpu:
            np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=2e-3, atol=1e-4, err_msg=key)


# ----------------------------------------------------------------------------------- higher order
def _critic_penalty(device, params, real, fake, eps):
    """A WGAN-GP penalty through conv -> leaky_relu -> instance norm -> conv, on `device` (float64)."""
    p = {k: mg.tensor(v, device=device, requires_grad=True) for k, v in params.items()}
    x = mg.tensor(eps * real + (1 - eps) * fake, device=device, requires_grad=True)
    h = F.instance_norm(F.leaky_relu(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), p["w1"], p["b1"],
                                              stride=2), 0.2))
    score = F.conv_transpose2d(h, p["w2"], p["b2"], stride=2, padding=1).mean()
    (gx,) = mg.autograd.grad(score, x, create_graph=True)
    penalty = ((((gx * gx).sum(dim=(1, 2, 3)) + 1e-12).sqrt() - 1) ** 2).mean() * 10
    penalty.backward()
    return penalty.item(), {k: t.grad.numpy() for k, t in p.items() if t.grad is not None}


def test_gradient_penalty_on_cuda_matches_cpu():
    rng = np.random.default_rng(0)
    params = {"w1": rng.normal(size=(4, 3, 4, 4)) * 0.3, "b1": rng.normal(size=4),
              "w2": rng.normal(size=(4, 2, 4, 4)) * 0.3, "b2": rng.normal(size=2)}
    real, fake = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(2, 3, 8, 8))
    eps = rng.uniform(size=(2, 1, 1, 1))
    cpu_value, cpu_grads = _critic_penalty("cpu", params, real, fake, eps)
    gpu_value, gpu_grads = _critic_penalty("cuda", params, real, fake, eps)
    assert gpu_value == pytest.approx(cpu_value, rel=1e-10)
    assert set(gpu_grads) == set(cpu_grads) == {"w1", "b1", "w2"}
    for k in cpu_grads:
        np.testing.assert_allclose(gpu_grads[k], cpu_grads[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_second_derivatives_on_cuda():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.normal(size=(2, 2, 4, 4)), device="cuda", requires_grad=True)
    w = mg.tensor(rng.normal(size=(2, 2, 3, 3)), device="cuda", requires_grad=True)
    y = mg.tensor(rng.uniform(size=(2, 2, 2, 2)), device="cuda")
    assert mg.autograd.gradgradcheck(
        lambda x, w: F.binary_cross_entropy_with_logits(
            F.batch_norm(F.conv2d(x, w, stride=2, padding=1), None, None, training=True), y), (x, w),
        atol=1e-4)


# ------------------------------------------------------------------- direct convolutions (O <= 4)

class _Launches:
    """Context manager: the direct path on for every size (DIRECT_MIN_PIXELS = 1) or off
    (MINIGAN_GPU_DIRECT=0), recording the names of the raw kernels gpu.py launches."""

    def __init__(self, direct=True):
        self.direct, self.names = direct, []

    def __enter__(self):
        self.patch = pytest.MonkeyPatch()
        G = gpu()
        launch = G._launch
        self.patch.setattr(G, "_launch", lambda kernel, *a: (self.names.append(kernel), launch(kernel, *a))[1])
        if self.direct:
            self.patch.setattr(G, "DIRECT_MIN_PIXELS", 1)
            self.patch.delenv("MINIGAN_GPU_DIRECT", raising=False)
        else:
            self.patch.setenv("MINIGAN_GPU_DIRECT", "0")
        return self

    def __exit__(self, *exc):
        self.patch.undo()


def direct_conv_cases(transposed=False):
    """conv_cases with at most 4 channels on the side the direct kernels sum into: C_out for conv2d,
    C_in for conv_transpose2d; kernels up to 7 (CycleGAN's head)."""
    few, many = 4, 5
    return conv_cases(transposed, max_kernel=7, batch=2, c_in=few if transposed else many,
                      c_out=many if transposed else few, max_size=6)


@settings(deadline=None)
@given(direct_conv_cases())
def test_conv2d_direct_path_matches_reference_and_cpu(case):
    x, w, b, s, p, d, _ = case
    dtype = x.dtype.type
    want = reference.conv2d_forward(x, w, b, s, p, d)
    gy = np.random.default_rng(1).standard_normal(want.shape).astype(dtype)
    with _Launches() as launches:
        y = gpu().conv2d_forward(dev(x), dev(w), dev(b), s, p, d)
        got = gpu().conv2d_backward(dev(x), dev(w), dev(gy), s, p, d)
    assert "im2col" not in launches.names and "col2im" not in launches.names
    assert {"conv_direct_forward", "conv_direct_input", "conv_direct_weight"} <= set(launches.names)
    check(y, want, dtype, 10)
    check(y, cpu.conv2d_forward(x, w, b, s, p, d), dtype, 10)
    for g, r, c in zip(got, reference.conv2d_backward(x, w, gy, s, p, d), cpu.conv2d_backward(x, w, gy, s, p, d)):
        check(g, r, dtype, 10)
        check(g, c, dtype, 10)


@settings(deadline=None)
@given(direct_conv_cases(transposed=True))
def test_conv_transpose2d_direct_path_matches_reference_and_cpu(case):
    x, w, b, s, p, d, op = case
    dtype = x.dtype.type
    want = reference.conv_transpose2d_forward(x, w, b, s, p, op, d)
    gy = np.random.default_rng(1).standard_normal(want.shape).astype(dtype)
    with _Launches() as launches:
        y = gpu().conv_transpose2d_forward(dev(x), dev(w), dev(b), s, p, op, d)
        got = gpu().conv_transpose2d_backward(dev(x), dev(w), dev(gy), s, p, op, d)
    assert "im2col" not in launches.names and "col2im" not in launches.names
    check(y, want, dtype, 10)
    check(y, cpu.conv_transpose2d_forward(x, w, b, s, p, op, d), dtype, 10)
    for g, r, c in zip(got, reference.conv_transpose2d_backward(x, w, gy, s, p, op, d),
                       cpu.conv_transpose2d_backward(x, w, gy, s, p, op, d)):
        check(g, r, dtype, 10)
        check(g, c, dtype, 10)


@pytest.mark.parametrize("needs", NEEDS)
def test_direct_and_gemm_paths_agree_and_the_switch_works(needs):
    """MINIGAN_GPU_DIRECT=0 takes im2col + GEMM, the direct path no columns; both give the reference's
    numbers (a 5 -> 3 layer, 3x3 kernel, 2*48*48 output pixels: the weight gradient's pixels split over
    several blocks, S > 1)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 50, 50))
    w, b = rng.standard_normal((3, 5, 3, 3)), rng.standard_normal(3)
    gy = rng.standard_normal((2, 3, 48, 48))
    args = ((1, 1), (0, 0), (1, 1))
    results = {}
    for direct in (True, False):
        with _Launches(direct) as launches:
            y = gpu().conv2d_forward(dev(x), dev(w), dev(b), *args)
            grads = gpu().conv2d_backward(dev(x), dev(w), dev(gy), *args, needs)
        results[direct] = (y,) + grads
        direct_kernels = {name for name in launches.names if name.startswith("conv_direct")}
        assert ("im2col" in launches.names) != direct and bool(direct_kernels) == direct
    for on_direct, on_gemm, want in zip(results[True], results[False],
                                        (reference.conv2d_forward(x, w, b, *args),)
                                        + reference.conv2d_backward(x, w, gy, *args, needs)):
        check(on_direct, want, np.float64, 10)
        check(on_gemm, want, np.float64, 10)


def test_direct_path_threshold():
    """O <= 4, and for the forward kernel (a thread per output pixel) enough pixels to fill the device:
    CycleGAN's 64 -> 3 head at 256x256 is direct; PatchGAN's 512 -> 1 head on a 30x30 grid is direct
    in its backward only; layers with more channels are never direct."""
    G = gpu()
    assert G._direct_suits(3, 256 * 256) and G._direct_suits(4, G.DIRECT_MIN_PIXELS) and G._direct_suits(1)
    assert not G._direct_suits(1, 30 * 30) and not G._direct_suits(5, 256 * 256) and not G._direct_suits(5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_GPU_DIRECT", "0")
        assert not G._direct_suits(3, 256 * 256) and not G._direct_suits(3)
