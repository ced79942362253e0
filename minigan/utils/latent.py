"""Latent-space helpers shared by the GAN evaluation grids and the perceptual path length."""
import numpy as np


def slerp(z0, z1, t):
    """Spherical interpolation from z0 to z1 (arrays (..., D)) at fractions t (scalar or (T,)).

    Returns (T, ..., D) for an array t, (..., D) for a scalar; falls back to a straight line
    where z0 and z1 are (almost) parallel.
    """
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t_arr = np.asarray(t, np.float64)
    t_col = t_arr.reshape(t_arr.shape + (1,) * z0.ndim)                  # (T, 1, ..., 1)
    unit0 = z0 / np.linalg.norm(z0, axis=-1, keepdims=True)
    unit1 = z1 / np.linalg.norm(z1, axis=-1, keepdims=True)
    omega = np.arccos(np.clip((unit0 * unit1).sum(axis=-1, keepdims=True), -1.0, 1.0))
    sin_omega = np.sin(omega)
    parallel = sin_omega < 1e-6
    safe = np.where(parallel, 1.0, sin_omega)
    w0 = np.where(parallel, 1 - t_col, np.sin((1 - t_col) * omega) / safe)
    w1 = np.where(parallel, t_col, np.sin(t_col * omega) / safe)
    return w0 * z0 + w1 * z1
