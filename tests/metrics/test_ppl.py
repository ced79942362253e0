"""The perceptual path length: exact where it is known (a constant generator: 0; a linear one
read through identity features: |A z'(t)|^2, z' the slerp path's velocity), consistent where it is
not (the digit classifier's features: piecewise linear, so epsilon = 1e-4 and 1e-3 agree), and
its errors."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.metrics import inception_features, ppl
from minigan.models.classifier import DigitClassifier


class LinearG(nn.Module):
    """z (B, 16) -> A z as images (B, 1, 4, 4)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.linear = nn.Linear(16, 16, bias=True)
        self.scale = scale

    def forward(self, z):
        return (self.linear(z) * self.scale).reshape(-1, 1, 4, 4)


class Recorder:
    """A latent sampler that keeps what it drew (batch by batch: z0's, then z1's)."""

    def __init__(self, dim):
        self.dim, self.draws = dim, []

    def __call__(self, n, rng):
        self.draws.append(rng.standard_normal((n, self.dim)))
        return self.draws[-1]


def slerp_velocity_at_0(z0, z1):
    """d/dt of sin((1 - t) W) / sin W z0 + sin(t W) / sin W z1 at t = 0: (n, D)."""
    cos = (z0 * z1).sum(1) / np.linalg.norm(z0, axis=1) / np.linalg.norm(z1, axis=1)
    omega = np.arccos(cos)[:, None]
    return omega * (z1 - np.cos(omega) * z0) / np.sin(omega)


def flat(images):
    return images.reshape(images.shape[0], -1)


def test_linear_generator_has_the_analytic_path_length():
    G = LinearG(scale=2.0)
    sampler = Recorder(16)
    value = ppl(G, sampler, flat, n_samples=64, batch_size=16, sampling="end", discard=None,
                progress=False)
    weight = G.linear.weight.numpy().astype(np.float64) * 2.0              # (16, 16)
    z0, z1 = np.concatenate(sampler.draws[0::2]), np.concatenate(sampler.draws[1::2])
    velocity = slerp_velocity_at_0(z0, z1)                                 # (64, 16)
    expected = ((velocity @ weight.T) ** 2).sum(1).mean()
    assert value == pytest.approx(expected, rel=1e-2)
    assert value != pytest.approx(expected / 4, rel=0.5)                    # the scale counts


def test_the_paths_do_not_depend_on_the_batch_size():
    G = LinearG()
    values = [ppl(G, 16, flat, n_samples=30, batch_size=b, progress=False) for b in (7, 30)]
    assert values[0] == pytest.approx(values[1], rel=1e-4)
    assert ppl(G, 16, flat, n_samples=30, seed=1, progress=False) != values[1]


def test_constant_generator_has_zero_path_length_in_classifier_features():
    classifier = DigitClassifier(32, 1)

    def constant(z):
        return mg.zeros((z.shape[0], 1, 32, 32)) + 0.3

    value = ppl(constant, 8, classifier.features, n_samples=32, batch_size=16, progress=False)
    assert value == pytest.approx(0, abs=1e-5)      # (float32 round-off between batch rows)


def test_classifier_features_ppl_is_per_epsilon_squared_and_keeps_modes():
    classifier = DigitClassifier(32, 1)
    G = nn.Sequential(nn.Linear(8, 32 * 32), nn.Tanh())

    def images(z):
        return G(z).reshape(-1, 1, 32, 32)

    classifier.train()
    small = ppl(images, 8, classifier.features, n_samples=48, batch_size=24, seed=3,
                progress=False)
    assert classifier.training                                              # mode restored
    large = ppl(images, 8, classifier.features, n_samples=48, batch_size=24, seed=3,
                epsilon=1e-3, progress=False)
    assert small > 0 and small == pytest.approx(large, rel=0.05)
    other_seed = ppl(images, 8, classifier.features, n_samples=48, batch_size=24, seed=4,
                     progress=False)
    assert other_seed != small


def test_inception_features_maps_range_and_grey(tiny_model):
    G = LinearG()
    by_helper = ppl(G, 16, inception_features(tiny_model), n_samples=20, batch_size=10,
                    progress=False)

    def by_hand(x):
        x = (x + 1) / 2
        return tiny_model(mg.cat([x, x, x], dim=1))[0]

    assert by_helper == ppl(G, 16, by_hand, n_samples=20, batch_size=10, progress=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"latent": 0}, "latent must be a positive int, a shape"),
    ({"sampling": "middle"}, "sampling must be 'full' or 'end'"),
    ({"n_samples": 0}, "n_samples must be a positive int"),
    ({"epsilon": 0}, "epsilon must be > 0"),
    ({"latent": lambda n, rng: np.zeros((n + 1, 4))}, r"must return \(n, dim\) arrays, asked "
                                                      r"for n = 10, got \(11, 4\)"),
])
def test_errors_are_one_line(kwargs, message):
    args = {"latent": 16, "n_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        ppl(LinearG(), args.pop("latent"), flat, progress=False, **args)
