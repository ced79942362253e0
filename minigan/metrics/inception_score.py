"""The Inception score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), over ``splits``
equal parts of the samples; the mean and the (population) standard deviation over the parts.

Computed as torch-fidelity's ``isc_features_to_metric`` (toshas/torch-fidelity,
torch_fidelity/metric_isc.py): the logits are shuffled by ``np.random.RandomState(seed)
.permutation(N)`` (seed 2020, its ``rng_seed``), taken in float64, softmaxed over all their
classes (1008 for the FID Inception), and cut into parts i * N // splits ... (i + 1) * N // splits.
From images, the logits are the pool3 features times the last layer's weights without its bias
(torch-fidelity's ``logits_unbiased``), as the original TensorFlow score (openai/improved-gan)
computes them; ``minigan.metrics.inception_score`` does that.

    >>> mean, std = inception_score_from_logits(logits)      # logits (N, 1008)
"""
import numpy as np


def log_softmax(logits):
    """Row-wise log softmax of (N, K), stable (the row maximum is subtracted first)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score_from_logits(logits, splits=10, shuffle=True, seed=2020):
    """(mean, std) of the Inception score of logits (N, K) over ``splits`` parts.

    Raises ValueError in one line for logits that are not 2-D, or fewer samples than splits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"inception_score: expected logits (N, K), got shape {logits.shape}")
    n = len(logits)
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise ValueError(f"inception_score: splits must be a positive int, got {splits!r}")
    if n < splits:
        raise ValueError(f"inception_score: {n} samples cannot make {splits} splits; use "
                         f"splits={max(1, n)} or less, or more samples")
    if shuffle:
        logits = logits[np.random.RandomState(seed).permutation(n)]
    log_p = log_softmax(logits)                                    # (N, K) log p(y|x)
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        log_q = np.log(p[part].mean(axis=0, keepdims=True))         # (1, K) log p(y) of the part
        kl = (p[part] * (log_p[part] - log_q)).sum(axis=1)         # (n_part,) KL per sample
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
