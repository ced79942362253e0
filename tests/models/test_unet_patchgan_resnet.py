"""U-Net, PatchGAN and ResNet generator: shapes per depth and size, clear size errors, and the same
outputs (and gradients) as the reference implementation's torch models with the same weights."""
import numpy as np
import pytest

import minigan as mg
from minigan.models.patchgan import PatchDiscriminator, receptive_field
from minigan.models.resnet import ResnetGenerator
from minigan.models.unet import UnetGenerator, unet_64, unet_128, unet_256


# ---------------------------------------------------------------- shapes and errors
@pytest.mark.parametrize("make, side", [(unet_64, 64), (unet_128, 128), (unet_256, 256)])
def test_unet_depths_keep_the_image_shape(make, side):
    G = make(3, 1, ngf=2)
    assert G(mg.randn(1, 3, side, side)).shape == (1, 1, side, side)
    assert G.name == f"unet_{side}"


def test_unet_takes_multiples_and_rectangles():
    G = unet_64(1, 3, ngf=2)
    assert G(mg.randn(2, 1, 128, 64)).shape == (2, 3, 128, 64)


@pytest.mark.parametrize("side, n_layers, out",
                         [(64, 3, 6), (256, 3, 30), (32, 1, 14), (64, 2, 14)])
def test_patchgan_map_size(side, n_layers, out):
    D = PatchDiscriminator(4, ndf=4, n_layers=n_layers)
    assert D(mg.randn(2, 4, side, side)).shape == (2, 1, out, out)


def test_patchgan_receptive_field():
    assert [receptive_field(n) for n in (1, 2, 3, 5)] == [16, 34, 70, 286]


@pytest.mark.parametrize("side, n_blocks", [(8, 0), (64, 6), (36, 9)])
def test_resnet_generator_keeps_the_image_shape(side, n_blocks):
    G = ResnetGenerator(3, 3, ngf=2, n_blocks=n_blocks)
    assert G(mg.randn(1, 3, side, side)).shape == (1, 3, side, side)
    out = G(mg.randn(1, 3, side, side)).numpy()
    assert out.min() >= -1 and out.max() <= 1                 # Tanh


def test_size_errors_say_which_sizes_work():
    with pytest.raises(ValueError, match=r"unet_64 cannot take 100x100 .*multiples of 64.*64, 128"):
        unet_64(3, 3, ngf=2)(mg.randn(1, 3, 100, 100))
    with pytest.raises(ValueError, match=r"cannot take 66x66 .*multiples of 4.*64, 68"):
        ResnetGenerator(3, 3, ngf=2, n_blocks=1)(mg.randn(1, 3, 66, 66))
    with pytest.raises(ValueError, match=r"cannot take 16x16 .*at least 24"):
        PatchDiscriminator(6, ndf=2)(mg.randn(1, 6, 16, 16))
    with pytest.raises(ValueError, match="expected 6 input channels, got 3"):
        PatchDiscriminator(6, ndf=2)(mg.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="norm must be 'batch' or 'instance'"):
        ResnetGenerator(norm="group")
    with pytest.raises(ValueError, match="num_downs must be an int >= 5"):
        UnetGenerator(num_downs=3)


def test_init_is_normal_0_02():
    mg.manual_seed(0)
    G = ResnetGenerator(3, 3, ngf=16, n_blocks=2)
    w = G.model[1].weight.numpy()
    assert abs(w.std() - 0.02) < 0.002 and abs(w.mean()) < 0.002
    assert np.all(G.model[1].bias.numpy() == 0)
    D = PatchDiscriminator(3, ndf=16)                         # BatchNorm weight ~ N(1, 0.02)
    assert abs(D.model[3].weight.numpy().mean() - 1) < 0.01


# ---------------------------------------------------------------- torch equivalence
torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_norm(norm):
    if norm == "batch":
        return tnn.BatchNorm2d
    return lambda c: tnn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class TorchUnetBlock(tnn.Module):
    """The reference UnetSkipConnectionBlock."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        down = tnn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=bias)
        nl = torch_norm(norm)
        if outermost:
            layers = [down, submodule, tnn.ReLU(),
                      tnn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), tnn.Tanh()]
        elif innermost:
            layers = [tnn.LeakyReLU(0.2), down, tnn.ReLU(),
                      tnn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=bias), nl(outer_nc)]
        else:
            layers = [tnn.LeakyReLU(0.2), down, nl(inner_nc), submodule, tnn.ReLU(),
                      tnn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=bias), nl(outer_nc)]
            layers += [tnn.Dropout(0.5)] if use_dropout else []
        self.model = tnn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class TorchUnet(tnn.Module):
    def __init__(self, in_nc, out_nc, num_downs, ngf, norm="batch", use_dropout=False):
        super().__init__()
        block = TorchUnetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            block = TorchUnetBlock(ngf * 8, ngf * 8, submodule=block, norm=norm,
                                   use_dropout=use_dropout)
        block = TorchUnetBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = TorchUnetBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = TorchUnetBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = TorchUnetBlock(out_nc, ngf, input_nc=in_nc, submodule=block, outermost=True,
                                    norm=norm)

    def forward(self, x):
        return self.model(x)


def torch_patchgan(in_nc, ndf, n_layers, norm):
    bias, nl = norm == "instance", torch_norm(norm)
    layers = [tnn.Conv2d(in_nc, ndf, 4, 2, 1), tnn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        layers += [tnn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), nl(ndf * mult),
                   tnn.LeakyReLU(0.2)]
    prev, mult = mult, min(2 ** n_layers, 8)
    layers += [tnn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias), nl(ndf * mult),
               tnn.LeakyReLU(0.2), tnn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    model = tnn.Module()
    model.model = tnn.Sequential(*layers)
    model.forward = model.model.forward
    return model


class TorchResnetBlock(tnn.Module):
    def __init__(self, dim, norm):
        super().__init__()
        bias, nl = norm == "instance", torch_norm(norm)
        self.conv_block = tnn.Sequential(
            tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, bias=bias), nl(dim), tnn.ReLU(),
            tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, bias=bias), nl(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class TorchResnet(tnn.Module):
    def __init__(self, in_nc, out_nc, ngf, n_blocks, norm="instance"):
        super().__init__()
        bias, nl = norm == "instance", torch_norm(norm)
        layers = [tnn.ReflectionPad2d(3), tnn.Conv2d(in_nc, ngf, 7, bias=bias), nl(ngf), tnn.ReLU()]
        for m in (1, 2):
            layers += [tnn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1, bias=bias), nl(ngf * m * 2),
                       tnn.ReLU()]
        layers += [TorchResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for m in (4, 2):
            layers += [tnn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1,
                                          bias=bias), nl(ngf * m // 2), tnn.ReLU()]
        layers += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, out_nc, 7), tnn.Tanh()]
        self.model = tnn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def load_into_torch(ours, theirs):
    """Copy our state_dict into the torch model (strict: the keys must match one to one)."""
    state = {k: torch.from_numpy(np.array(v.numpy() if hasattr(v, "numpy") else v))
             for k, v in ours.state_dict().items()}
    assert set(state) == set(theirs.state_dict())
    theirs.load_state_dict(state, strict=True)


def compare(ours, theirs, shape, train, rtol=2e-4, atol=2e-5):
    """Same input -> same output; in train mode also same parameter gradients of a loss."""
    load_into_torch(ours, theirs)
    ours.train(train)
    theirs.train(train)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = ours(mg.tensor(x))
    ref = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    if not train:
        return
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    (out * mg.tensor(weights)).sum().backward()
    (ref * torch.from_numpy(weights)).sum().backward()
    ref_grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    scale = max(np.abs(g).max() for g in ref_grads.values())
    for name, p in ours.named_parameters():   # a bias before an instance norm: ~0 up to rounding
        np.testing.assert_allclose(p.grad.numpy(), ref_grads[name], rtol=1e-3, atol=1e-5 * scale,
                                   err_msg=name)
    theirs_state = theirs.state_dict()
    for name, buf in ours.named_buffers():                    # BN running statistics moved alike
        np.testing.assert_allclose(buf.numpy(), theirs_state[name].numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("norm, train", [("batch", True), ("batch", False), ("instance", True)])
def test_unet_equals_reference_torch(norm, train):
    mg.manual_seed(0)
    ours = UnetGenerator(3, 2, num_downs=6, ngf=4, norm=norm, use_dropout=not train)
    compare(ours, TorchUnet(3, 2, 6, 4, norm, use_dropout=not train), (2, 3, 64, 64), train)


@pytest.mark.parametrize("n_layers, norm, train", [(3, "batch", True), (3, "batch", False),
                                                   (2, "instance", True)])
def test_patchgan_equals_reference_torch(n_layers, norm, train):
    mg.manual_seed(1)
    ours = PatchDiscriminator(6, ndf=8, n_layers=n_layers, norm=norm)
    compare(ours, torch_patchgan(6, 8, n_layers, norm), (2, 6, 64, 64), train)


@pytest.mark.parametrize("norm, train", [("instance", True), ("batch", False)])
def test_resnet_generator_equals_reference_torch(norm, train):
    mg.manual_seed(2)
    ours = ResnetGenerator(3, 3, ngf=4, n_blocks=2, norm=norm)
    compare(ours, TorchResnet(3, 3, 4, 2, norm), (1, 3, 32, 32), train)
