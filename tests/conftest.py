"""Test configuration: hypothesis profiles, the gpu marker, and the FID Inception oracles shared by
tests/models and tests/metrics.

HYPOTHESIS_PROFILE=ci (default) keeps property tests quick; HYPOTHESIS_PROFILE=thorough runs many
more examples.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    from minigan import backend
    if backend.gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    import minigan as mg
    mg.manual_seed(0)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))       # tests/: fid_oracle.py


@pytest.fixture(scope="session")
def fid_oracle():
    import fid_oracle        # skips without torch / torchvision / pytorch-fid
    return fid_oracle


@pytest.fixture(scope="session")
def inception_oracle(fid_oracle):
    """pytorch-fid's network with random (BatchNorm-calibrated) weights."""
    return fid_oracle.TorchFIDInception(seed=0)


@pytest.fixture(scope="session")
def inception_net(inception_oracle):
    """minigan's FIDInceptionV3 with the oracle's weights, in eval mode."""
    from minigan.models.inception import FIDInceptionV3
    model = FIDInceptionV3().eval()
    model.load_state_dict(inception_oracle.state_dict())
    return model
