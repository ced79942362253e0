"""ImagePool: a history of generated images for CycleGAN's discriminators (Shrivastava et al. 2017).

The discriminator is shown a mix of the newest fakes and fakes from earlier steps, which damps the
oscillation between generator and discriminator. The rule is the reference implementation's:

- while the pool holds fewer than ``pool_size`` images, each new image is stored and returned as is;
- once full, each new image is, with probability 1/2, swapped for a stored one picked uniformly at
  random (the stored one is returned and the new one takes its place), and otherwise returned as is.

    >>> pool = ImagePool(50)
    >>> d_input = pool.query(fake_y.detach())     # (B, C, H, W) -> (B, C, H, W)

Random draws come from minigan's global generator (``mg.manual_seed``) unless an ``rng`` is given,
so a checkpoint that saves the global random state (as the trainers do) resumes the pool exactly.
"""
import numpy as np

from .. import backend
from .. import random as mg_random
from ..autograd import Tensor


class ImagePool:
    """Up to ``pool_size`` earlier fake images, each (C, H, W), kept as arrays on their device.

    Args:
        pool_size: how many images to keep; 0 turns the pool off (``query`` returns its input).
        rng: a ``numpy.random.Generator`` to draw from; None (default) = minigan's global generator.
    """

    def __init__(self, pool_size=50, rng=None):
        if isinstance(pool_size, bool) or not isinstance(pool_size, (int, np.integer)) \
                or pool_size < 0:
            raise ValueError(f"ImagePool: pool_size must be a non-negative int, got {pool_size!r}")
        self.pool_size = int(pool_size)
        self.rng = rng
        self.images = []

    def __len__(self):
        return len(self.images)

    def _generator(self):
        return self.rng if self.rng is not None else mg_random.generator()

    def query(self, images):
        """Return a batch to train the discriminator on: (B, C, H, W) Tensor -> (B, C, H, W) Tensor.

        The result carries no graph (pool images are history, not something to backpropagate into).
        """
        data = images.array if isinstance(images, Tensor) else images
        if data.ndim != 4:
            raise ValueError(f"ImagePool.query: expected a (B, C, H, W) batch, got shape "
                             f"{tuple(data.shape)}")
        if self.pool_size == 0:
            return Tensor(data)
        if self.images and data.shape[1:] != self.images[0].shape:
            raise ValueError(f"ImagePool.query: images of shape {tuple(data.shape[1:])} do not "
                             f"match the pool's {tuple(self.images[0].shape)}")
        rng = self._generator()
        out = []
        for image in data:
            image = image.copy()
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif rng.random() > 0.5:
                slot = int(rng.integers(0, self.pool_size))
                out.append(self.images[slot])
                self.images[slot] = image
            else:
                out.append(image)
        return Tensor(backend.get_array_module(data).stack(out))  # B x (C, H, W) -> (B, C, H, W)

    def state_dict(self):
        """{"images": (N, C, H, W) NumPy array (N = images held)}: safe for an npz checkpoint."""
        if not self.images:
            return {"images": np.zeros((0, 0, 0, 0), dtype=np.float32)}
        return {"images": np.stack([backend.to_device(i, "cpu") for i in self.images])}

    def load_state_dict(self, state, device="cpu"):
        """Restore the images saved by ``state_dict`` (on ``device``)."""
        if "images" not in state:
            raise KeyError(f"ImagePool.load_state_dict: missing key 'images', got {sorted(state)}")
        images = np.asarray(state["images"])
        if images.ndim != 4:
            raise ValueError(f"ImagePool.load_state_dict: 'images' must be (N, C, H, W), got shape "
                             f"{images.shape}")
        if len(images) > self.pool_size:
            raise ValueError(f"ImagePool.load_state_dict: {len(images)} images saved, but "
                             f"pool_size is {self.pool_size}")
        self.images = [backend.to_device(i.copy(), device) for i in images]
