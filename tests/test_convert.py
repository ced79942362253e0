"""Weights move between minigan and PyTorch: mg.save -> safetensors.torch, safetensors.torch ->
mg.load, and python -m minigan.convert for a torch.save'd state dict (old InstanceNorm buffers too)."""
import numpy as np
import pytest

import minigan as mg
from minigan import convert
from minigan.models import ResnetGenerator
from minigan.models.dcgan import DCGANGenerator

torch = pytest.importorskip("torch")
tnn = torch.nn
safetensors_torch = pytest.importorskip("safetensors.torch")


def torch_dcgan_generator(latent, ngf, channels):
    """The torch twin of DCGANGenerator(image_size=32): 1 -> 4 -> 8 -> 16 -> 32 pixels."""
    layers, width = [], ngf * 4
    layers += [tnn.ConvTranspose2d(latent, width, 4, 1, 0, bias=False), tnn.BatchNorm2d(width),
               tnn.ReLU()]
    for _ in range(2):
        layers += [tnn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                   tnn.BatchNorm2d(width // 2), tnn.ReLU()]
        width //= 2
    layers += [tnn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), tnn.Tanh()]
    return tnn.Sequential(*layers)


def torch_resnet_generator(ngf, n_blocks, old_instance_norm=False):
    """The torch twin of ResnetGenerator(3, 3, ngf, n_blocks) (keys model.N...)."""
    def norm(c):
        return tnn.InstanceNorm2d(c, affine=False, track_running_stats=old_instance_norm)

    class Block(tnn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv_block = tnn.Sequential(tnn.ReflectionPad2d(1), tnn.Conv2d(c, c, 3), norm(c),
                                             tnn.ReLU(), tnn.ReflectionPad2d(1),
                                             tnn.Conv2d(c, c, 3), norm(c))

        def forward(self, x):
            return x + self.conv_block(x)

    class Generator(tnn.Module):
        def __init__(self):
            super().__init__()
            layers = [tnn.ReflectionPad2d(3), tnn.Conv2d(3, ngf, 7), norm(ngf), tnn.ReLU()]
            for k in (1, 2):
                layers += [tnn.Conv2d(ngf * k, ngf * 2 * k, 3, 2, 1), norm(ngf * 2 * k), tnn.ReLU()]
            layers += [Block(ngf * 4) for _ in range(n_blocks)]
            for k in (4, 2):
                layers += [tnn.ConvTranspose2d(ngf * k, ngf * k // 2, 3, 2, 1, output_padding=1),
                           norm(ngf * k // 2), tnn.ReLU()]
            layers += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, 3, 7), tnn.Tanh()]
            self.model = tnn.Sequential(*layers)

        def forward(self, x):
            return self.model(x)

    return Generator()


def _dcgan_pair():
    mg.manual_seed(0)
    torch.manual_seed(0)
    ours = DCGANGenerator(image_size=32, latent_dim=8, channels=3, ngf=4)
    return ours, torch_dcgan_generator(8, 4, 3)


def _outputs(ours, theirs, x):
    ours.eval()
    theirs.eval()
    with mg.no_grad(), torch.no_grad():
        return ours(mg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).numpy()


def test_minigan_state_dict_loads_in_torch_with_equal_outputs(tmp_path):
    ours, theirs = _dcgan_pair()
    ours.train()
    ours(mg.randn(4, 8, 1, 1))                       # move the BatchNorm running statistics
    mg.save(ours.state_dict(), tmp_path / "G.safetensors")
    theirs.load_state_dict(safetensors_torch.load_file(tmp_path / "G.safetensors"))  # strict
    x = np.random.default_rng(1).normal(size=(2, 8, 1, 1)).astype(np.float32)
    a, b = _outputs(ours, theirs, x)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_torch_safetensors_load_in_minigan_with_equal_outputs(tmp_path):
    ours, theirs = _dcgan_pair()
    theirs.train()
    theirs(torch.randn(4, 8, 1, 1))
    safetensors_torch.save_file(theirs.state_dict(), tmp_path / "G.safetensors")
    ours.load_state_dict(mg.load(tmp_path / "G.safetensors"))                   # strict
    x = np.random.default_rng(2).normal(size=(2, 8, 1, 1)).astype(np.float32)
    a, b = _outputs(ours, theirs, x)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_convert_an_old_junyanz_style_resnet_generator(tmp_path, capsys):
    torch.manual_seed(0)
    theirs = torch_resnet_generator(ngf=4, n_blocks=2)
    state = theirs.state_dict()
    old = torch_resnet_generator(ngf=4, n_blocks=2, old_instance_norm=True).state_dict()
    extra = {k: v for k, v in old.items() if k not in state}      # InstanceNorm running stats
    assert extra and all(k.rsplit(".", 1)[1] in convert._RUNNING_STATS for k in extra)
    torch.save({**state, **extra}, tmp_path / "latest_net_G.pth")

    convert.main([str(tmp_path / "latest_net_G.pth"), str(tmp_path / "G.safetensors")])
    assert "running-stat buffers" in capsys.readouterr().out
    ours = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    with pytest.raises(RuntimeError, match="unexpected keys.*running_mean"):
        ours.load_state_dict(mg.load(tmp_path / "G.safetensors"))  # the plain loader refuses
    result = convert.load_pretrained(ours, tmp_path / "G.safetensors")
    assert sorted(result.dropped_keys) == sorted(extra)
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(3).uniform(-1, 1, size=(1, 3, 16, 16)).astype(np.float32)
    a, b = _outputs(ours, theirs, x)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_convert_bad_input_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="error: no such file: .*missing.pth"):
        convert.main([str(tmp_path / "missing.pth"), str(tmp_path / "o.safetensors")])
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(SystemExit, match="holds a list, not a state dict"):
        convert.main([str(tmp_path / "list.pth"), str(tmp_path / "o.safetensors")])
    torch.save(tnn.Linear(2, 2), tmp_path / "module.pth")          # a pickled module
    with pytest.raises(SystemExit, match="cannot be read as a weights-only PyTorch file"):
        convert.main([str(tmp_path / "module.pth"), str(tmp_path / "o.safetensors")])
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(SystemExit, match="junk.pth cannot be read"):
        convert.main([str(tmp_path / "junk.pth"), str(tmp_path / "o.safetensors")])
    assert not (tmp_path / "o.safetensors").exists()
