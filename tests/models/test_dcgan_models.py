"""DCGAN G and D, the MLP cGAN networks and the digit classifier: output shapes, clear errors, the
paper's init, and (when torch imports) the same outputs and gradients as torch models with the same
weights."""
import numpy as np
import pytest

import minigan as mg
from minigan.models.cgan import CGANDiscriminator, CGANGenerator
from minigan.models.classifier import DigitClassifier
from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator


# ---------------------------------------------------------------- shapes and errors
@pytest.mark.parametrize("size, channels, width", [(32, 1, 8), (64, 3, 4), (16, 1, 4)])
def test_dcgan_shapes(size, channels, width):
    G = DCGANGenerator(size, latent_dim=10, channels=channels, ngf=width)
    D = DCGANDiscriminator(size, channels=channels, ndf=width)
    images = G(mg.randn(3, 10, 1, 1))
    assert images.shape == (3, channels, size, size)
    assert images.numpy().min() >= -1 and images.numpy().max() <= 1          # Tanh
    assert D(images).shape == (3, 1)
    assert G(mg.randn(2, 10)).shape == (2, channels, size, size)             # (B, nz) works too


def test_dcgan_layers_follow_the_paper():
    G = DCGANGenerator(64, latent_dim=100, channels=3, ngf=64)
    D = DCGANDiscriminator(64, channels=3, ndf=64)
    convs = [m for m in G if type(m).__name__ == "ConvTranspose2d"]
    assert [(c.in_channels, c.out_channels) for c in convs] == \
        [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert [type(m).__name__ for m in G][-2:] == ["ConvTranspose2d", "Tanh"]
    names = [type(m).__name__ for m in D]
    assert names[:3] == ["Conv2d", "LeakyReLU", "Conv2d"]                    # no BN after the first
    assert names.count("BatchNorm2d") == 3 and names.count("Conv2d") == 5
    assert all(m.negative_slope == 0.2 for m in D if type(m).__name__ == "LeakyReLU")


@pytest.mark.parametrize("norm, norm_layer", [("none", None), ("instance", "InstanceNorm2d")])
def test_dcgan_discriminator_without_batch_norm(norm, norm_layer):
    """For the gradient penalties: D's that judge each sample alone (D of one image = its row of
    D of the batch), whose hidden convs get a bias when no norm follows them."""
    D = DCGANDiscriminator(32, channels=1, ndf=4, norm=norm)
    names = [type(m).__name__ for m in D]
    assert "BatchNorm2d" not in names and names.count("Conv2d") == 4 and D.norm == norm
    assert names.count(norm_layer) == (2 if norm_layer else 0)
    assert [m.bias is not None for m in D if type(m).__name__ == "Conv2d"] == \
        [False, norm == "none", norm == "none", False]
    x = mg.randn(3, 1, 32, 32)
    assert D(x).shape == (3, 1)
    np.testing.assert_allclose(D(x[:1]).numpy(), D(x).numpy()[:1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="norm must be 'batch', 'instance' or 'none', got 'layer'"):
        DCGANDiscriminator(32, norm="layer")


def test_dcgan_init_is_normal_0_02():
    mg.manual_seed(0)
    G = DCGANGenerator(32, ngf=64)
    w = G[3].weight.numpy()                                                  # 256 -> 128 convT
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001
    bn = G[1].weight.numpy()
    assert abs(bn.mean() - 1) < 0.01 and 0.01 < bn.std() < 0.03


def test_dcgan_errors():
    with pytest.raises(ValueError, match="image_size must be a power of two >= 16.*got 48"):
        DCGANGenerator(48)
    with pytest.raises(ValueError, match="ngf must be a positive int"):
        DCGANGenerator(32, ngf=0)
    with pytest.raises(ValueError, match=r"expected noise of shape \(B, 10, 1, 1\).*\(2, 12, 1, 1\)"):
        DCGANGenerator(32, latent_dim=10, ngf=4)(mg.randn(2, 12, 1, 1))
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 32, 32\).*\(2, 1, 64, 64\)"):
        DCGANDiscriminator(32, ndf=4)(mg.randn(2, 1, 64, 64))


def test_cgan_shapes_and_label_errors():
    G = CGANGenerator(latent_dim=8, n_classes=10, image_shape=(1, 16, 16), hidden=(16, 32))
    D = CGANDiscriminator(n_classes=10, image_shape=(1, 16, 16), hidden=32)
    labels = mg.tensor(np.array([0, 3, 9]))
    images = G(mg.randn(3, 8), labels)
    assert images.shape == (3, 1, 16, 16)
    assert D(images, labels).shape == (3, 1)
    assert list(G.state_dict())[:3] == ["label_emb.weight", "model.0.weight", "model.0.bias"]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), got values in \[0, 10\]"):
        G(mg.randn(2, 8), mg.tensor(np.array([0, 10])))
    with pytest.raises(ValueError, match=r"labels must be an int Tensor of shape \(3,\)"):
        D(images, mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"expected noise of shape \(B, 8\)"):
        G(mg.randn(3, 9), labels)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 16, 16\)"):
        D(mg.randn(3, 1, 8, 8), labels)


@pytest.mark.parametrize("size, convs", [(16, 2), (28, 3), (32, 3), (64, 4)])
def test_classifier_shapes(size, convs):
    model = DigitClassifier(size, channels=1)
    x = mg.randn(2, 1, size, size)
    assert model(x).shape == (2, 10)
    assert model.features(x).shape == (2, 128)
    assert sum(type(m).__name__ == "Conv2d" for m in model.body) == convs
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 28, 28\)"):
        DigitClassifier(28)(mg.randn(2, 1, 32, 32))


# ---------------------------------------------------------------- torch equivalence
torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_dcgan(size, nz, channels, width):
    """The DCGAN reference networks in torch, built the way the PyTorch DCGAN example builds them."""
    n = size.bit_length() - 3
    w = width * 2 ** (n - 1)
    g = [tnn.ConvTranspose2d(nz, w, 4, 1, 0, bias=False), tnn.BatchNorm2d(w), tnn.ReLU()]
    for _ in range(n - 1):
        g += [tnn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(w // 2), tnn.ReLU()]
        w //= 2
    g += [tnn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), tnn.Tanh()]
    d, w = [tnn.Conv2d(channels, width, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2)], width
    for _ in range(n - 1):
        d += [tnn.Conv2d(w, w * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(w * 2), tnn.LeakyReLU(0.2)]
        w *= 2
    d += [tnn.Conv2d(w, 1, 4, 1, 0, bias=False), tnn.Flatten()]
    return tnn.Sequential(*g).double(), tnn.Sequential(*d).double()


def load_into_torch(ours, theirs):
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("training", [True, False])
def test_dcgan_matches_torch(size, training):
    mg.manual_seed(1)
    G = DCGANGenerator(size, latent_dim=12, channels=3, ngf=4).to(mg.float64)
    D = DCGANDiscriminator(size, channels=3, ndf=4).to(mg.float64)
    for bn in (G[1], D[3]):                         # non-trivial running statistics for eval mode
        bn.running_mean.data[...] = np.linspace(-0.5, 0.5, bn.num_features)
        bn.running_var.data[...] = np.linspace(0.5, 2.0, bn.num_features)
    tG, tD = torch_dcgan(size, 12, 3, 4)
    load_into_torch(G, tG)
    load_into_torch(D, tD)
    G.train(training), D.train(training), tG.train(training), tD.train(training)

    z = np.random.default_rng(0).standard_normal((5, 12, 1, 1))
    z_ours, z_theirs = mg.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    images, t_images = G(z_ours), tG(z_theirs)
    np.testing.assert_allclose(images.numpy(), t_images.detach().numpy(), rtol=1e-9, atol=1e-9)
    logits, t_logits = D(images), tD(t_images)
    np.testing.assert_allclose(logits.numpy(), t_logits.detach().numpy(), rtol=1e-8, atol=1e-8)

    weights = np.random.default_rng(1).standard_normal((5, 1))
    (logits * mg.tensor(weights)).sum().backward()
    (t_logits * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(z_ours.grad.numpy(), z_theirs.grad.numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(G[0].weight.grad.numpy(), tG[0].weight.grad.numpy(),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(D[2].weight.grad.numpy(), tD[2].weight.grad.numpy(),
                               rtol=1e-7, atol=1e-9)
    if training:                                    # running statistics updated the same way
        np.testing.assert_allclose(G[1].running_var.numpy(), tG[1].running_var.numpy(), rtol=1e-9)


def test_dcgan_float32_matches_torch():
    mg.manual_seed(2)
    G = DCGANGenerator(32, latent_dim=100, channels=1, ngf=16)
    tG, _ = torch_dcgan(32, 100, 1, 16)
    tG = tG.float()
    load_into_torch(G, tG)
    z = np.random.default_rng(0).standard_normal((8, 100, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(G(mg.tensor(z)).numpy(), tG(torch.from_numpy(z)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
