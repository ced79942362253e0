"""torch.nn.utils's helpers: spectral_norm (and its removal), gradient clipping."""
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .spectral_norm import SpectralNorm, remove_spectral_norm, spectral_norm

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm", "clip_grad_norm_",
           "clip_grad_value_"]
