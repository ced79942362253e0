"""The ring of Gaussians in 2-D: the classic mode-collapse benchmark, and its metrics.

Eight Gaussians (std 0.02) centred on a circle of radius 2. A generator that collapses covers few of
them. The measure follows the Unrolled GAN paper (Metz et al., 2017): a generated point is of high
quality when it lies within 3 standard deviations of its nearest mode; a mode is covered when at least
20 high-quality points (of the usual 2,500) lie nearest to it.
"""
import numpy as np

from .loader import Dataset, _check_seed


class RingOfGaussians:
    """A mixture of ``n_modes`` equal Gaussians centred evenly on a circle.

    Example::

        ring = RingOfGaussians()                       # 8 modes, radius 2, std 0.02
        x = ring.sample(512, np.random.default_rng(0))  # (512, 2) float32
        ring.metrics(x)["modes_covered"]               # 8
    """

    def __init__(self, n_modes=8, radius=2.0, std=0.02):
        if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
            raise ValueError(f"RingOfGaussians: n_modes must be a positive int, got {n_modes!r}")
        if not radius > 0 or not std > 0:
            raise ValueError(f"RingOfGaussians: radius and std must be positive, "
                             f"got radius={radius!r}, std={std!r}")
        self.n_modes, self.radius, self.std = int(n_modes), float(radius), float(std)
        angles = 2 * np.pi * np.arange(self.n_modes) / self.n_modes
        self.modes = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (n_modes, 2)

    def sample(self, n, rng):
        """``n`` points, (n, 2) float32: a uniformly chosen mode plus N(0, std^2) noise per axis."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"RingOfGaussians.sample: rng must be a numpy.random.Generator, "
                            f"got {rng!r}")
        which = rng.integers(0, self.n_modes, size=n)
        points = self.modes[which] + self.std * rng.standard_normal((n, 2))
        return points.astype(np.float32)

    def metrics(self, points, **kwargs):
        """``ring_metrics`` of ``points`` against this ring's modes and std."""
        return ring_metrics(points, self.modes, self.std, **kwargs)


class RingDataset(Dataset):
    """``n`` points drawn once from a ring (seeded): samples are ``(point,)``, point (2,) float32."""

    def __init__(self, n=10000, seed=0, ring=None):
        self.ring = RingOfGaussians() if ring is None else ring
        rng = np.random.default_rng(_check_seed(seed, "RingDataset: seed"))
        self.points = self.ring.sample(n, rng)  # (n, 2)

    def __len__(self):
        return len(self.points)

    def get(self, index, rng):
        return (self.points[index],)


def ring_metrics(points, modes, std, quality_stds=3.0, min_per_mode=20):
    """Mode coverage and sample quality of generated points, as in the Unrolled GAN paper.

    Args:
        points: (N, 2) generated points (array, or a Tensor with ``.numpy()``).
        modes: (M, 2) mode centres.
        std: the modes' standard deviation.
        quality_stds: a point is high quality within ``quality_stds * std`` of its nearest mode.
        min_per_mode: high-quality points a mode needs to count as covered.
    Returns:
        dict: ``modes_covered`` (int, of M), ``high_quality_fraction`` (float in [0, 1]) and
        ``mode_counts`` (list of M ints: high-quality points nearest to each mode).
    """
    points = points.numpy() if hasattr(points, "numpy") else np.asarray(points)
    points = np.asarray(points, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"ring_metrics: points must have shape (N, 2) with N > 0, "
                         f"got {points.shape}")
    if modes.ndim != 2 or modes.shape[1] != 2:
        raise ValueError(f"ring_metrics: modes must have shape (M, 2), got {modes.shape}")
    distances = np.linalg.norm(points[:, None, :] - modes[None, :, :], axis=2)  # (N, M)
    nearest = distances.argmin(axis=1)                                         # (N,)
    good = distances[np.arange(len(points)), nearest] <= quality_stds * std    # (N,)
    counts = np.bincount(nearest[good], minlength=len(modes))                  # (M,)
    return {
        "modes_covered": int((counts >= min_per_mode).sum()),
        "high_quality_fraction": float(good.mean()),
        "mode_counts": [int(c) for c in counts],
    }
