"""Datasets and the DataLoader: deterministic shuffling, batching and per-sample random generators.

Determinism contract (same seed -> same batches, on every run):

- the order of epoch ``e`` is ``numpy.random.default_rng([seed, e]).permutation(len(dataset))``
  (or ``0..n-1`` without shuffling);
- a dataset that augments at random (``needs_rng`` true) gets, for sample ``i`` of epoch ``e``, the
  generator ``sample_rng(seed, e, i)``; its random transforms draw from it and from nothing else;
- the loader counts finished epochs in ``epoch``; ``state_dict()`` / ``load_state_dict()`` save and
  restore it, so a trainer that resumes at an epoch boundary sees the very batches it would have
  seen. To resume inside an epoch, ``iterate(start=k)`` serves that epoch from its batch ``k`` on
  (the same batches as a full pass, without fetching the first k).
"""
import math

import numpy as np

from ..autograd import tensor
from ..backend import parse_device

_SAMPLE_STREAM = 1  # keeps [seed, epoch, index, 1] apart from the shuffle's [seed, epoch]


def _check_seed(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def sample_rng(seed, epoch, index):
    """The generator for the random transforms of sample ``index`` in epoch ``epoch``.

    Built from ``SeedSequence([seed, epoch, index, 1])``: independent of the shuffle order's stream
    (NumPy pads short entropy with zeros, so the trailing 1 keeps the two apart).
    """
    return np.random.default_rng([seed, epoch, index, _SAMPLE_STREAM])


def check_index(index, length):
    """Normalise a Python-style index (negatives count from the end); IndexError when out of range."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
    position = index + length if index < 0 else index
    if not 0 <= position < length:
        raise IndexError(f"dataset index {index} out of range for a dataset of {length} samples")
    return int(position)


class Dataset:
    """Map-style dataset base class.

    Subclasses implement ``__len__`` and ``get(index, rng)``, which returns one sample: a tuple of
    NumPy arrays and Python ints (images float32, (C, H, W), in [-1, 1]). ``rng`` is the sample's
    generator (see ``sample_rng``) when the dataset sets ``needs_rng = True``, else None.
    ``dataset[i]`` is ``get(i, sample_rng(0, 0, i))``: what a loader with seed 0 gives in epoch 0.
    Any object with ``__len__`` and ``__getitem__`` also works with ``DataLoader``; it just gets no rng.
    """

    needs_rng = False

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def get(self, index, rng):
        raise NotImplementedError(f"{type(self).__name__} must implement get(index, rng)")

    def __getitem__(self, index):
        index = check_index(index, len(self))
        return self.get(index, sample_rng(0, 0, index) if self.needs_rng else None)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (a held-out split, say)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        n = len(dataset)
        self.indices = [check_index(i, n) for i in indices]
        self.needs_rng = getattr(dataset, "needs_rng", False)

    def __len__(self):
        return len(self.indices)

    def get(self, index, rng):
        return _fetch(self.dataset, self.indices[index], rng)


def _fetch(dataset, index, rng):
    """One sample; the rng reaches only datasets built on ``Dataset``."""
    if isinstance(dataset, Dataset):
        return dataset.get(index, rng)
    return dataset[index]


def to_tensor(array, device="cpu"):
    """Wrap a collated NumPy array as a ``minigan.Tensor`` on ``device`` (the loader's one contact
    with the engine)."""
    return tensor(array, device=device)


def _stack(values, field):
    """One field of a batch -> one array: floats as float32, ints as int64."""
    first = values[0]
    if isinstance(first, (bool, np.bool_)):
        return np.array(values, dtype=np.bool_)
    if isinstance(first, (int, np.integer)):
        return np.array(values, dtype=np.int64)
    if isinstance(first, (float, np.floating)):
        return np.array(values, dtype=np.float32)
    arrays = [np.asarray(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"collate: field {field} has samples of different shapes {sorted(shapes)}")
    batch = np.stack(arrays)  # B x (...) -> (B, ...)
    if batch.dtype.kind == "f":
        return batch.astype(np.float32, copy=False)
    if batch.dtype.kind in "iu":
        return batch.astype(np.int64, copy=False)
    return batch


def collate(samples, device="cpu"):
    """Stack a list of samples into a batch of Tensors.

    samples: list of B tuples ``(a, b, ...)`` -> tuple of Tensors ``(A, B, ...)`` on ``device``, with
    A.shape = (B, *a.shape); a sample that is a bare array gives a single Tensor.
    Example: ``collate([(img0, 3), (img1, 7)])`` -> (Tensor (2, 1, 32, 32) float32, Tensor (2,) int64).
    """
    if not samples:
        raise ValueError("collate: got an empty list of samples")
    if not isinstance(samples[0], tuple):
        return to_tensor(_stack(samples, 0), device)
    width = len(samples[0])
    if any(not isinstance(s, tuple) or len(s) != width for s in samples):
        raise ValueError(f"collate: every sample must be a tuple of {width} fields like the first")
    return tuple(to_tensor(_stack([s[k] for s in samples], k), device) for k in range(width))


class DataLoader:
    """Iterate over a dataset in batches of Tensors.

    Args:
        dataset: a ``Dataset`` (or any object with ``__len__`` and ``__getitem__``).
        batch_size: samples per batch.
        shuffle: reorder every epoch, the order of epoch e from ``default_rng([seed, e])``.
        drop_last: leave out the last, smaller batch.
        seed: non-negative int; fixes the orders and the per-sample generators (``sample_rng``).
        device: where the batches' Tensors live ("cpu" by default; "cuda", "auto" or None for the
            default device).

    Each batch is ``collate`` of its samples: a tuple of Tensors, float32 for float data and int64
    for labels. ``len(loader)`` is the number of batches. ``loader.epoch`` counts finished passes;
    it goes up by one when a pass runs to its end (a pass left early is not counted: the next
    ``iter`` serves the same epoch again).

    Example::

        loader = DataLoader(SyntheticDigits(6000, size=32), batch_size=64, shuffle=True, seed=1)
        for images, labels in loader:     # (64, 1, 32, 32) float32, (64,) int64
            ...
        state = loader.state_dict()       # {"epoch": 1, "seed": 1}; load_state_dict(state) resumes
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=0, device="cpu"):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, "
                            f"got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = _check_seed(seed, "DataLoader: seed")
        self.device = parse_device(device)
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch):
        """The sample indices of epoch ``epoch``, in the order they are served: (len(dataset),) int64."""
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, epoch]).permutation(n)
        return np.arange(n)

    def __iter__(self):
        return self.iterate()

    def iterate(self, start=0):
        """The batches of epoch ``self.epoch`` from batch ``start`` on (``iter(loader)`` is
        ``iterate(0)``); ``epoch`` goes up by one when the pass ends."""
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) \
                or not 0 <= start <= len(self):
            raise ValueError(f"DataLoader.iterate: start must be an int in [0, {len(self)}], "
                             f"got {start!r}")
        return self._batches(self.epoch, int(start))

    def _batches(self, epoch, start):
        order = self.order(epoch)
        use_rng = bool(getattr(self.dataset, "needs_rng", False))
        for b in range(start, len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            samples = [_fetch(self.dataset, int(i), sample_rng(self.seed, epoch, int(i))
                              if use_rng else None) for i in indices]
            yield collate(samples, self.device)
        self.epoch = epoch + 1

    def state_dict(self):
        """{"epoch": finished epochs, "seed": seed}: plain ints, safe for JSON and npz checkpoints."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state):
        """Resume from ``state_dict()`` output; the next pass is epoch ``state["epoch"]``."""
        missing = {"epoch", "seed"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}, "
                           f"got {sorted(state)}")
        self.epoch = _check_seed(int(state["epoch"]), "DataLoader state epoch")
        self.seed = _check_seed(int(state["seed"]), "DataLoader state seed")
