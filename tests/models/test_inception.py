"""FIDInceptionV3 against pytorch-fid's own network with the same random weights (see
tests/fid_oracle.py), the weights file's way in (torch.save -> python -m minigan.convert ->
load_fid_inception), and the one-line errors for a missing or wrong file.

Tolerance: |minigan - pytorch-fid| <= 3e-4 x the largest |value|, for pool3 and for the logits.
Both run in float32 and sum in different orders through ~95 layers; measured, the difference is at
most 9e-5 of the largest value (kernels that sum in another order may move it). pytorch-fid's own
float32 result differs from its float64 one by 2e-5 at 299x299, and by up to 1.4e-3 after a resize,
whose float32 source indices are part of torch's definition: minigan computes them the same way,
so it stays within 9e-5 of pytorch-fid's float32. A wrong layer differs by O(1).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
from minigan.models.inception import WEIGHTS_URL, FIDInceptionV3, load_fid_inception


TOLERANCE = 3e-4                     # of the largest |value| (see the module docstring)


@pytest.fixture(scope="module")
def random_state():
    """A full state dict of the right keys and shapes, no torch needed."""
    return {k: v.numpy() for k, v in FIDInceptionV3().state_dict().items()}


def run(model, images):
    with mg.no_grad():
        pool3, logits = model(mg.tensor(images))
    return pool3.numpy(), logits.numpy()


def assert_close(ours, reference, what):
    scale = np.abs(reference).max()
    error = np.abs(ours - reference).max()
    assert error <= TOLERANCE * scale, f"{what}: max |difference| {error:.3g}, scale {scale:.3g}"


# ---------------------------------------------------------------- against pytorch-fid
def test_state_dict_keys_and_shapes_are_pytorch_fids(inception_oracle, random_state):
    theirs = inception_oracle.state_dict()
    assert list(random_state) == list(theirs)                     # same keys, same order
    assert {k: v.shape for k, v in random_state.items()} == {k: v.shape for k, v in theirs.items()}


@pytest.mark.parametrize("shape", [(2, 3, 64, 96), (2, 3, 331, 310), (1, 3, 299, 299)],
                         ids=["upsampled", "downsampled", "299"])
def test_pool3_and_logits_match_pytorch_fid(inception_oracle, inception_net, shape):
    images = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
    pool3, logits = run(inception_net, images)
    assert pool3.shape == (shape[0], 2048) and logits.shape == (shape[0], 1008)
    assert pool3.dtype == logits.dtype == np.float32
    ref_pool3, ref_logits = inception_oracle(images)
    assert_close(pool3, ref_pool3, "pool3")
    assert_close(logits, ref_logits, "logits")
    assert np.abs(ref_pool3).mean() > 0.1             # the random network is alive...
    if shape[0] > 1:                                  # ...and tells images apart
        assert np.abs(ref_pool3[0] - ref_pool3[1]).mean() > 0.1 * np.abs(ref_pool3).mean()
    if shape[-1] == 299:    # no resize: float32 rounding, measured against torch in float64
        exact_pool3, exact_logits = inception_oracle(images, dtype=inception_oracle.float64)
        for ours, theirs, exact in ((pool3, ref_pool3, exact_pool3),
                                    (logits, ref_logits, exact_logits)):
            assert np.abs(ours - exact).max() <= 4 * np.abs(theirs - exact).max() + 1e-6


# ---------------------------------------------------------------- options and graph
def test_normalize_input_off_takes_images_in_minus_one_one(random_state):
    on, off = FIDInceptionV3(resize_input=False), FIDInceptionV3(resize_input=False,
                                                                 normalize_input=False)
    for model in (on, off):
        model.load_state_dict(random_state)
        model.eval()
    images = np.random.default_rng(0).random((1, 3, 80, 80), dtype=np.float32)
    for a, b in zip(run(on, images), run(off, 2 * images - 1)):
        np.testing.assert_array_equal(a, b)


def test_no_graph_is_recorded(random_state, tmp_path):
    path = tmp_path / "w.safetensors"
    mg.save(random_state, path)
    model = load_fid_inception(path)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())      # frozen, as pytorch-fid's
    x = mg.rand(1, 3, 40, 40)
    with mg.no_grad():
        outputs = model(x)
    outputs += model(x)                                # frozen: no graph even without no_grad
    assert all(not t.requires_grad and t.grad_fn is None for t in outputs)


def test_inference_folds_batch_norm_into_the_convs(inception_oracle, inception_net):
    """Under no_grad each BasicConv2d runs one conv with the eval batch norm folded in; with a graph it
    runs conv, batch norm and ReLU. Both give pytorch-fid's numbers to float32 rounding."""
    x = np.random.default_rng(5).random((1, 3, 80, 80), dtype=np.float32)
    folded = run(inception_net, x)
    unfolded = [t.detach().numpy() for t in inception_net(mg.tensor(x, requires_grad=True))]
    for ours, theirs, what in zip(folded, unfolded, ("pool3", "logits")):
        assert_close(ours, theirs, what)
        assert not np.array_equal(ours, theirs)           # two different roundings: two code paths ran
    w, b = inception_net.Conv2d_1a_3x3.folded()
    bn = inception_net.Conv2d_1a_3x3.bn
    scale = bn.weight.numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    conv_weight = inception_net.Conv2d_1a_3x3.conv.weight.numpy()
    np.testing.assert_allclose(w.numpy(), conv_weight * scale[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), bn.bias.numpy() - bn.running_mean.numpy() * scale,
                               rtol=1e-5, atol=1e-7)


def test_small_images_without_the_resize_are_a_clear_error():
    model = FIDInceptionV3(resize_input=False)
    with pytest.raises(ValueError, match="at least 75"):
        model(mg.rand(1, 3, 74, 90))
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        FIDInceptionV3()(mg.rand(1, 1, 32, 32))


# ---------------------------------------------------------------- the weights file
def test_pth_converted_by_the_cli_loads(inception_oracle, inception_net, tmp_path):
    torch = pytest.importorskip("torch")
    pth, out = tmp_path / "pt_inception.pth", tmp_path / "pt_inception.safetensors"
    torch.save(inception_oracle.torch_state_dict(), pth)
    done = subprocess.run([sys.executable, "-m", "minigan.convert", str(pth), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    model = load_fid_inception(out)
    ours = {k: v.numpy() for k, v in model.state_dict().items()}
    assert list(ours) == list(inception_oracle.state_dict())
    for key, value in inception_oracle.state_dict().items():
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
    images = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)
    for a, b in zip(run(model, images), run(inception_net, images)):
        np.testing.assert_array_equal(a, b)


def test_the_environment_variable_and_no_num_batches_tracked(random_state, tmp_path,
                                                            monkeypatch):
    state = {k: v for k, v in random_state.items() if not k.endswith("num_batches_tracked")}
    state["fc.bias"] = np.arange(1008, dtype=np.float32)
    mg.save(state, tmp_path / "w.safetensors")
    monkeypatch.setenv("MINIGAN_INCEPTION_WEIGHTS", str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(load_fid_inception().fc.bias.numpy(), state["fc.bias"])


def one_line_error(kind, *args, match):
    with pytest.raises(kind, match=match) as info:
        load_fid_inception(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_file_says_where_to_get_the_weights(tmp_path, monkeypatch):
    message = one_line_error(FileNotFoundError, tmp_path / "none.safetensors",
                             match="no Inception weights")
    assert WEIGHTS_URL in message and "python -m minigan.convert" in message
    monkeypatch.delenv("MINIGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))                      # the default ~/.cache path
    message = one_line_error(FileNotFoundError, match="MINIGAN_INCEPTION_WEIGHTS")
    assert os.path.join(str(tmp_path), ".cache", "minigan") in message


def test_a_pth_or_unreadable_file_says_how_to_convert(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"PK\x03\x04 a torch zip")
    message = one_line_error(ValueError, tmp_path / "w.pth", match="PyTorch file")
    assert f"python -m minigan.convert {tmp_path / 'w.pth'} {tmp_path / 'w.safetensors'}" in message
    (tmp_path / "w.safetensors").write_bytes(b"\x00" * 64)
    one_line_error(ValueError, tmp_path / "w.safetensors", match="cannot be read.*"
                   "python -m minigan.convert")


def test_other_keys_or_shapes_are_a_clear_error(random_state, tmp_path):
    path = tmp_path / "w.safetensors"
    state = dict(random_state)
    del state["fc.bias"]
    state["extra.weight"] = np.zeros(3, np.float32)
    mg.save(state, path)
    message = one_line_error(ValueError, path, match="does not hold pytorch-fid's Inception")
    assert "1 keys missing (e.g. 'fc.bias')" in message and "'extra.weight'" in message
    assert WEIGHTS_URL in message
    imagenet = dict(random_state, **{"fc.weight": np.zeros((1000, 2048), np.float32),
                                     "fc.bias": np.zeros(1000, np.float32),
                                     "AuxLogits.fc.weight": np.zeros((1000, 768), np.float32)})
    mg.save(imagenet, path)
    message = one_line_error(ValueError, path, match="ImageNet Inception, not the FID one")
    assert "2 of other shapes (e.g. fc.bias is (1000,), expected (1008,))" in message
