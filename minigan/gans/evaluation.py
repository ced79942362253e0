"""Offline evaluation of image GANs, with nothing downloaded: a digit classifier trained with minigan,
the classifier accuracy of conditional samples, the Fréchet distance in the classifier's features,
and slerp latent interpolation.

- ``digit_classifier(image_size, ...)``: a ``DigitClassifier`` trained on synthetic digits (or on the
  train split of an MNIST-format folder), held-out accuracy reported; saved in the run's folder and
  in a cache (``~/.cache/minigan``, or ``$MINIGAN_CACHE``) keyed by its settings, so it is trained once.
- ``class_accuracy(classifier, images, labels)``: how often the classifier reads the requested label.
- ``FrechetDistance(classifier, real_images)``: the Fréchet distance (as in FID, Heusel et al. 2017)
  between Gaussians fitted to the penultimate features of real and of generated images.
- ``slerp`` and ``interpolation_latents``: great-circle interpolation between noise vectors, for a
  grid of rows that morph from one sample into another (White 2016).

    >>> classifier, info = digit_classifier(32, out_dir="runs/cgan")    # info["accuracy"] ~ 0.99
    >>> fd = FrechetDistance(classifier, real_images)                    # real_images (N, 1, 32, 32)
    >>> fd(fake_images)
    431.7
"""
import contextlib
import hashlib
import json
import os
import time

import numpy as np
from tqdm import tqdm

from .. import autograd, backend, io
from .. import random as mg_random
from ..autograd import Tensor, no_grad
from ..data import DataLoader, MNISTFormat, Subset, SyntheticDigits
from ..models.classifier import DigitClassifier
from ..optim import Adam, LambdaLR
from ..nn.utils.modes import evaluating
from ..utils.cache import cache_dir
from ..utils.latent import slerp

CLASSIFIER_VERSION = 3  # bump when the architecture or the training recipe changes
CLASSIFIER_FILE = "classifier.safetensors"
_SYNTHETIC_TRAIN_SEED, _SYNTHETIC_TEST_SEED = 1_000_001, 1_000_002  # apart from the GANs' data


# ---------------------------------------------------------------- helpers
@contextlib.contextmanager
def isolated_rng(seed):
    """Run a block on minigan's global generator seeded with ``seed``, then restore the old state,
    so training a classifier (or not, when it is cached) leaves a GAN's random stream untouched."""
    saved = mg_random.get_state()
    mg_random.manual_seed(seed)
    try:
        yield
    finally:
        mg_random.set_state(saved)


def dataset_arrays(dataset, n=None):
    """The first ``n`` samples of a labelled dataset as arrays: images (n, C, H, W) float32, labels
    (n,) int64."""
    n = len(dataset) if n is None else min(n, len(dataset))
    samples = [dataset[i] for i in range(n)]
    images = np.stack([s[0] for s in samples]).astype(np.float32)   # n x (C, H, W) -> (n, C, H, W)
    return images, np.array([s[1] for s in samples], dtype=np.int64)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy: logits (B, K) Tensor, labels (B,) int Tensor -> scalar Tensor."""
    shifted = logits - logits.detach().amax(dim=1, keepdim=True)          # (B, K), max 0 per row
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()    # log softmax
    xp = backend.get_array_module(logits.array)
    one_hot = xp.eye(logits.shape[1], dtype=logits.dtype)[labels.array]    # (B, K)
    return -(log_probs * Tensor(one_hot)).sum(dim=1).mean()


def _model_device(model):
    return next(iter(model.parameters())).device


def _batches(model, images, batch_size, fn):
    """Apply ``fn(model, x)`` to ``images`` (N, C, H, W) in batches, eval mode, no graph; returns
    the results stacked as one NumPy array (N, ...)."""
    data = images.array if isinstance(images, Tensor) else images
    device = _model_device(model)
    parts = []
    with evaluating(model), no_grad():
        for i in range(0, len(data), batch_size):
            x = autograd.tensor(backend.to_device(data[i:i + batch_size], device))
            parts.append(fn(model, x).numpy())
    return np.concatenate(parts)


def _gray(images, channels):
    """RGB images -> grey (channel mean) when the classifier reads one channel."""
    data = images.array if isinstance(images, Tensor) else images
    if data.shape[1] == channels:
        return data
    if channels == 1 and data.shape[1] == 3:
        return data.mean(axis=1, keepdims=True)                          # (N, 3, H, W) -> (N, 1, H, W)
    raise ValueError(f"the classifier reads {channels}-channel images, got shape {data.shape}")


def predict(classifier, images, batch_size=500):
    """Predicted classes of images (N, C, H, W) (array or Tensor): (N,) int64 NumPy array."""
    images = _gray(images, classifier.channels)
    return _batches(classifier, images, batch_size, lambda m, x: m(x)).argmax(axis=1)


def extract_features(classifier, images, batch_size=500):
    """Penultimate-layer features of images (N, C, H, W): (N, feature_dim) float64 NumPy array."""
    images = _gray(images, classifier.channels)
    return _batches(classifier, images, batch_size, lambda m, x: m.features(x)).astype(np.float64)


def class_accuracy(classifier, images, labels):
    """Share of images (N, C, H, W) that the classifier assigns to ``labels`` (N,)."""
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    return float(np.mean(predict(classifier, images) == labels))


# ---------------------------------------------------------------- the classifier
def train_classifier(train_set, test_set, image_size, channels=1, epochs=2, batch_size=64,
                     lr=1e-3, seed=0, device="cpu", progress=False, n_test=None):
    """Train a ``DigitClassifier`` on a labelled dataset with Adam, the learning rate decayed
    linearly to 0; returns (model in eval mode, held-out accuracy on ``test_set``'s first
    ``n_test`` samples).

    Uses its own random stream (``isolated_rng(seed)``): the caller's stays as it was.
    """
    with isolated_rng(seed):
        model = DigitClassifier(image_size, channels).to(device)
        optimizer = Adam(model.parameters(), lr=lr)
        loader = DataLoader(train_set, batch_size, shuffle=True, drop_last=True, seed=seed,
                            device=device)
        total = epochs * len(loader)   # lr decays linearly to 0: the last steps settle the weights
        schedule = LambdaLR(optimizer, lambda step: 1.0 - step / total)
        bar = tqdm(total=epochs * len(loader), desc="classifier", disable=not progress,
                   dynamic_ncols=True)
        for _ in range(epochs):
            for images, labels in loader:
                loss = cross_entropy(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
    model.eval()
    test_images, test_labels = dataset_arrays(test_set, n_test)
    return model, class_accuracy(model, test_images, test_labels)


def _settings_key(settings):
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _load_cached(path, settings, device):
    """The model stored at ``path`` if it was trained with ``settings``, else None."""
    if not os.path.isfile(path):
        return None
    try:
        state = io.load_checkpoint(path)
    except io.CheckpointError:
        return None  # a damaged cache entry is retrained and overwritten
    if state.get("settings") != settings:
        return None
    with isolated_rng(0):  # the constructor's random init must not move the caller's stream
        model = DigitClassifier(settings["image_size"], settings["channels"]).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    return model, float(state["accuracy"])


def mnist_splits(root, size=None):
    """(training set, held-out set) of an MNIST-format folder, from what it holds: the train and
    t10k splits; or, when only one of them is there, that split with its last sixth held out.
    FileNotFoundError in one line when neither is complete."""
    splits = {}
    for name, train in (("train", True), ("t10k", False)):
        try:
            splits[name] = MNISTFormat(root, train=train, size=size)
        except FileNotFoundError as e:
            splits[name + "_missing"] = str(e)
    if "train" in splits and "t10k" in splits:
        return splits["train"], splits["t10k"]
    only = splits.get("train") or splits.get("t10k")
    if only is None:
        raise FileNotFoundError(f"--data {root}: no complete MNIST split: expected "
                                f"train-images-idx3-ubyte and train-labels-idx1-ubyte (and/or the "
                                f"t10k- pair), plain or .gz ({splits['train_missing']})")
    if len(only) < 2:
        raise ValueError(f"--data {root}: one image is too few to train and evaluate on")
    held = max(1, len(only) // 6)
    return (Subset(only, range(len(only) - held)),
            Subset(only, range(len(only) - held, len(only))))


def digit_classifier(image_size=32, data=None, out_dir=None, cache=None, n_train=20000,
                     n_test=2000, epochs=2, seed=0, device="cpu", progress=True):
    """The classifier for ``image_size`` digits, trained once and then loaded.

    Args:
        image_size: side of the images it reads.
        data: None for synthetic digits (``n_train`` for training, ``n_test`` held out, from seeds
            that no GAN example uses); or an MNIST-format folder (its train split, at most
            ``n_train`` samples, and its t10k split as the held-out set).
        out_dir: the run's folder: ``<out_dir>/classifier.safetensors`` is looked for first and
            written.
        cache: the cache folder (default ``cache_dir()``; False turns the cache off). The file
            is ``classifier-<hash of the settings>.safetensors``. Files of minigan 0.1 (``.npz``)
            are still read.
        epochs, seed, device, progress: training settings (``progress`` shows a tqdm bar).
    Returns (model in eval mode, info): info has "accuracy" (held-out), "source" ("run", "cache"
    or "trained"), "seconds" (training time, 0 when loaded) and "settings".
    """
    settings = {"version": CLASSIFIER_VERSION, "image_size": image_size, "channels": 1,
                "data": "synthetic" if data is None else os.path.abspath(data),
                "n_train": n_train, "n_test": n_test, "epochs": epochs, "seed": seed}
    cache = cache_dir() if cache is None else cache
    places = []
    if out_dir is not None:
        places.append(("run", os.path.join(out_dir, CLASSIFIER_FILE)))
    if cache:
        places.append(("cache", os.path.join(cache,
                                             f"classifier-{_settings_key(settings)}.safetensors")))
    for source, path in places:
        found = _load_cached(path, settings, device)
        if found is None:                     # a minigan 0.1 file: .npz
            found = _load_cached(path[:-len(".safetensors")] + ".npz", settings, device)
        if found is not None:
            model, accuracy = found
            break
    else:
        start = time.perf_counter()
        if data is None:
            train_set = SyntheticDigits(n_train, size=image_size, seed=_SYNTHETIC_TRAIN_SEED)
            test_set = SyntheticDigits(n_test, size=image_size, seed=_SYNTHETIC_TEST_SEED)
        else:
            full, test_set = mnist_splits(data, image_size)
            train_set = full if len(full) <= n_train else Subset(full, range(n_train))
        model, accuracy = train_classifier(train_set, test_set, image_size, epochs=epochs, seed=seed,
                                           device=device, progress=progress, n_test=n_test)
        source, seconds = "trained", time.perf_counter() - start
    state = {"settings": settings, "accuracy": accuracy, "model": model.state_dict()}
    for where, path in places:
        if where != source:
            io.save_checkpoint(path, state)
    info = {"accuracy": accuracy, "source": source, "settings": settings,
            "seconds": seconds if source == "trained" else 0.0}
    return model, info


# ---------------------------------------------------------------- Fréchet distance
def sqrtm_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix (D, D), by eigh;
    round-off negative eigenvalues are clipped to 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T      # V diag(sqrt w) V^T


def gaussian_statistics(features):
    """Mean (D,) and covariance (D, D) (unbiased) of features (N, D), in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"gaussian_statistics: features must be (N, D) with N >= 2, got "
                         f"{features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)) between two Gaussians.

    S1 S2 is similar to S1^(1/2) S2 S1^(1/2), which is symmetric PSD, so the trace of the root is
    the sum of the square roots of that matrix's eigenvalues: two eigh calls, no general sqrtm.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: expected means (D,) and covariances (D, D) of one D, "
                         f"got {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    root1 = sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root)


class FrechetDistance:
    """Fréchet distance of generated images to a fixed set of real ones, in classifier features.

    Args:
        classifier: a ``DigitClassifier`` (its penultimate layer gives the features).
        real_images: (N, C, H, W) array or Tensor in [-1, 1]; RGB is read as grey.
    Calling it on generated images (M, C, H, W) returns the distance (a float; 0 for identical
    statistics). Use the same M each time: the estimate is biased upwards for small sets.
    """

    def __init__(self, classifier, real_images):
        self.classifier = classifier
        self.mu, self.sigma = gaussian_statistics(extract_features(classifier, real_images))

    def __call__(self, images):
        mu, sigma = gaussian_statistics(extract_features(self.classifier, images))
        return frechet_distance(self.mu, self.sigma, mu, sigma)


# ---------------------------------------------------------------- latent interpolation
def interpolation_latents(rows, steps, latent_shape, rng):
    """Noise for an interpolation grid: ``rows`` pairs of endpoints from ``rng`` (a NumPy
    Generator), ``steps`` slerp points each, row-major: (rows * steps, *latent_shape) float32."""
    shape = (latent_shape,) if isinstance(latent_shape, int) else tuple(latent_shape)
    dim = int(np.prod(shape))
    ends = rng.standard_normal((2, rows, dim))
    path = slerp(ends[0], ends[1], np.linspace(0.0, 1.0, steps))          # (steps, rows, dim)
    return path.transpose(1, 0, 2).reshape(rows * steps, *shape).astype(np.float32)
