"""The Inception's way through the metrics, end to end, with random weights (the real ones cannot
be fetched here): pytorch-fid's network with a random state (tests/fid_oracle.py) and minigan's
FIDInceptionV3 with the same state, saved to a safetensors file.

- A folder of mixed images (RGB and grey, two sizes) gives the pool3 features, statistics and
  logits that pytorch-fid's own pipeline (``get_activations``: Pillow, RGB, ToTensor, its network)
  gives, within the network tests' tolerance (3e-4 of the largest value, float32 through ~95
  layers); the IS logits are pool3 times fc's weight, without fc's bias (torch-fidelity's
  ``logits_unbiased``).
- ``python -m minigan.metrics fid FOLDER --save-stats OUT --weights FILE`` writes those statistics.

The FID value itself is not taken here: a 2048 x 2048 sqrtm of a rank-deficient product costs
30-60 s on this machine; frechet_distance is held against pytorch-fid in test_formulas.py.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
from minigan.metrics import Extractor, load_statistics

TOLERANCE = 3e-4                         # of the largest |value|, as tests/models/test_inception


@pytest.fixture
def folder(tmp_path, write_images):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    path = write_images(tmp_path / "images", list(colour))
    from PIL import Image
    grey = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    Image.fromarray(grey).save(os.path.join(path, "003_grey.png"))
    return path


def assert_close(ours, theirs, what):
    scale = np.abs(theirs).max()
    error = np.abs(np.asarray(ours, np.float64) - theirs).max()
    assert error <= TOLERANCE * scale, f"{what}: max |difference| {error:.3g}, scale {scale:.3g}"


def test_folder_features_statistics_and_logits_match_pytorch_fid(folder, inception_oracle, inception_net,
                                                                 pytorch_fid_score):
    found = Extractor(inception_net, progress=False).collect(folder, ("stats", "features", "logits"))
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    theirs = pytorch_fid_score.get_activations(files, inception_oracle.blocks, batch_size=1, dims=2048,
                                               device="cpu", num_workers=0)   # sizes differ
    assert found["features"].shape == (3, 2048)
    assert_close(found["features"], theirs, "pool3")
    mu, sigma = found["stats"]
    assert_close(mu, theirs.mean(axis=0), "mu")
    assert_close(sigma, np.cov(theirs, rowvar=False), "sigma")
    images = np.stack([_read(f) for f in files[:2]])               # the two 32x32 colour files
    _, logits = inception_oracle(images)
    bias = inception_oracle.torch_state_dict()["fc.bias"].numpy()
    assert_close(found["logits"][:2], logits - bias, "logits without the fc bias")


def _read(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"), np.float32).transpose(2, 0, 1) / 255


def test_command_saves_a_folders_statistics_with_a_weights_file(folder, inception_net, tmp_path):
    weights = tmp_path / "inception.safetensors"
    mg.save(inception_net.state_dict(), weights)
    out = tmp_path / "stats.safetensors"
    done = subprocess.run([sys.executable, "-m", "minigan.metrics", "fid", folder,
                           "--save-stats", str(out), "--weights", str(weights), "--no-progress",
                           "--no-cache"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    saved = load_statistics(out)
    mu, sigma = Extractor(inception_net, progress=False, cache=False).get(folder, "stats")
    assert np.allclose(saved["mu"], mu, rtol=1e-5, atol=1e-6)
    assert np.allclose(saved["sigma"], sigma, rtol=1e-5, atol=1e-6)
    done = subprocess.run([sys.executable, "-m", "minigan.metrics", "fid", folder, folder,
                           "--weights", str(tmp_path / "nothing.safetensors")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no Inception weights at" in done.stderr and "python -m minigan.convert" in done.stderr
