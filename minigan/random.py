"""minigan's global random state: one NumPy Generator, seeded by `mg.manual_seed`.

Random tensors are drawn on the host from this generator and then moved, so a seed gives the same
numbers on the CPU and the GPU. Code that needs its own stream takes `generator()` or a
`numpy.random.Generator` argument.
"""
import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the global generator (like torch.manual_seed)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator():
    """The global numpy.random.Generator."""
    return _generator


def get_state():
    return _generator.bit_generator.state


def set_state(state):
    _generator.bit_generator.state = state
