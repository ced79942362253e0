"""Fixtures of the metrics tests: the oracles (pytorch-fid's and torch-fidelity's metric modules,
imported through tests/fid_oracle.py, which makes torchvision import here; each skips its test
when the package is missing) and a small stand-in for the Inception network."""
import os

import numpy as np
import pytest

import minigan as mg
from minigan import nn

@pytest.fixture(scope="session")
def pytorch_fid_score(fid_oracle):
    """pytorch_fid.fid_score (calculate_frechet_distance, get_activations, ...)."""
    return pytest.importorskip("pytorch_fid.fid_score")


@pytest.fixture(scope="session")
def torch_fidelity(fid_oracle):
    """(torch_fidelity.metric_kid, torch_fidelity.metric_isc)."""
    kid = pytest.importorskip("torch_fidelity.metric_kid")
    return kid, pytest.importorskip("torch_fidelity.metric_isc")


class TinyFeatures(nn.Module):
    """A stand-in for the Inception, cheap enough for many calls: (N, 3, H, W) in [0, 1] ->
    (features (N, 6), logits (N, 5)): channel means and standard deviations, then a linear
    layer ``fc`` (whose bias the logits of the Inception score leave out, as the Inception's)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 5)
        self.images_seen = 0

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        self.images_seen += n
        flat = x.reshape(n, c, -1)                                 # (N, 3, H, W) -> (N, 3, HW)
        mean = flat.mean(dim=2)
        std = ((flat - mean.reshape(n, c, 1)) ** 2).mean(dim=2).sqrt()
        features = mg.cat([mean, std], dim=1)                      # (N, 6)
        return features, self.fc(features)


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    """Every test caches folder statistics in its own temporary folder, not ~/.cache."""
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def tiny_model():
    return TinyFeatures()


def save_pngs(folder, arrays):
    """Save uint8 arrays (H, W[, 3]) as PNG files 000.png, 001.png ... in ``folder``; its path."""
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for i, array in enumerate(arrays):
        Image.fromarray(np.asarray(array, np.uint8)).save(os.path.join(folder, f"{i:03d}.png"))
    return str(folder)


@pytest.fixture
def write_images():
    """``save_pngs(folder, arrays)``."""
    return save_pngs
