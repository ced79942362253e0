"""Running the feature network over images in batches: pool3 features and logits.

The network is any module that maps a float32 (B, 3, H, W) Tensor in [0, 1] to ``(features,
logits)``: the FID Inception (``minigan.models.inception.FIDInceptionV3``, features (B, 2048),
logits (B, 1008)) or, in tests, something smaller. It runs in eval mode under ``no_grad`` on the
device its parameters are on. The logits kept are the ones the Inception score reads: features
times the last layer's weight, without its bias (torch-fidelity's ``logits_unbiased``, the
original TensorFlow score's); a network without an ``fc`` layer gives its logits as they are.

    >>> model = inception_model("pt_inception.safetensors")
    >>> pool3, logits = activations(images, model)     # images (N, 3, H, W) in [0, 1] or paths
"""
import hashlib

import numpy as np
from tqdm import tqdm

from .. import backend
from ..autograd import Tensor, no_grad, tensor
from ..nn.utils.modes import evaluating
from .images import batches


def inception_model(weights=None, device="cpu"):
    """The FID Inception-v3 with its weights loaded (``weights``: a safetensors file; None looks
    in ``$MINIGAN_INCEPTION_WEIGHTS`` and the cache, see ``minigan.models.inception``)."""
    from ..models.inception import load_fid_inception  # (the network's module, loaded on use)
    return load_fid_inception(weights, device=device)


def model_device(model):
    parameters = list(model.parameters()) if hasattr(model, "parameters") else []
    return parameters[0].device if parameters else "cpu"


def _host(value):
    return value.numpy() if isinstance(value, Tensor) else backend.to_device(value, "cpu")


def _unbiased(model, features, logits):
    """features @ fc.weight.T in float64 when the model has an ``fc`` layer, else ``logits``."""
    weight = getattr(getattr(model, "fc", None), "weight", None)
    if weight is None:
        return logits
    return features.astype(np.float64) @ _host(weight).astype(np.float64).T   # (B, K)


def activations(images, model, batch_size=50, progress=True, desc="features"):
    """The network's (features (N, F), logits (N, K)), both float32 (torch-fidelity keeps its
    features in float32 too), for ``images``: a checked float32 array (N, 3, H, W) in [0, 1]
    (``images.check_images``) or a list of image files."""
    device = model_device(model)
    features, logits = [], []
    bar = tqdm(total=len(images), desc=desc, unit="img", disable=not progress,
               dynamic_ncols=True, leave=False)
    with evaluating(model), no_grad():
        for batch in batches(images, batch_size):
            pool, out = model(tensor(backend.to_device(batch, device)))
            pool = _host(pool).reshape(len(batch), -1)                # (B, F[, 1, 1]) -> (B, F)
            features.append(pool)
            out = _unbiased(model, pool, _host(out).reshape(len(batch), -1))
            logits.append(out.astype(np.float32))
            bar.update(len(batch))
    bar.close()
    return np.concatenate(features), np.concatenate(logits)


def model_digest(model):
    """A short hash of the network: its class, its input settings and every weight's bytes, so
    a cache entry made with other weights is never reused."""
    h = hashlib.blake2b(digest_size=12)
    h.update(type(model).__name__.encode())
    for name in ("resize_input", "normalize_input"):
        h.update(f"{name}={getattr(model, name, None)}".encode())
    for key, value in sorted(model.state_dict().items()):
        array = np.ascontiguousarray(_host(value))
        h.update(f"{key}:{array.dtype}:{array.shape}".encode())
        h.update(memoryview(array.reshape(-1)).cast("B"))
    return h.hexdigest()
