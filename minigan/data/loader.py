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
- a torch-style dataset (only ``__getitem__``) gets the same generator through ``current_rng()``,
  which random transforms called without an ``rng`` draw from (``minigan.vision.transforms``);
- ``num_workers=N`` fetches and collates up to ``2 N`` batches ahead in N threads (Pillow's
  decoding, resizing and NumPy's array work release the GIL); each batch is the same function of
  (seed, epoch, batch index) either way, so the batches are the very same as with 0 workers.
  Only a dataset that draws from a global generator (``random``, ``np.random``) itself loses that.
"""
import math
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..autograd import Tensor, tensor
from ..backend import parse_device
from ..random import generator as global_generator

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
    """Map-style dataset base class, in either of two forms.

    - torch's: implement ``__len__`` and ``__getitem__(index)``, returning one sample (a tuple,
      dict, array, Tensor or number). Random transforms draw from ``current_rng()``, which the
      loader sets to the sample's generator.
    - minigan's: implement ``__len__`` and ``get(index, rng)``; ``rng`` is the sample's generator
      (see ``sample_rng``) when the dataset sets ``needs_rng = True``, else None.
      ``dataset[i]`` is ``get(i, sample_rng(0, 0, i))``: what a loader with seed 0 gives in epoch 0.

    Any object with ``__len__`` and ``__getitem__`` also works with ``DataLoader``.
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
        self.needs_rng = _needs_rng(dataset)

    def __len__(self):
        return len(self.indices)

    def get(self, index, rng):
        return _fetch(self.dataset, self.indices[index], rng)


_local = threading.local()


def current_rng():
    """The generator of the sample being fetched in this thread (set by the loader), else
    minigan's global generator (``mg.manual_seed`` seeds it). Random transforms called without an
    ``rng`` draw from this."""
    rng = getattr(_local, "rng", None)
    return rng if rng is not None else global_generator()


def _uses_get(dataset):
    """True for a ``Dataset`` in the ``get(index, rng)`` form (``get`` overridden)."""
    return isinstance(dataset, Dataset) and type(dataset).get is not Dataset.get


def _needs_rng(dataset):
    """Whether samples need their own generator: as declared by the ``get`` form, always for the
    ``__getitem__`` form (its transforms may draw from ``current_rng()``)."""
    return bool(getattr(dataset, "needs_rng", False)) if _uses_get(dataset) else True


def _fetch(dataset, index, rng):
    """One sample: ``get(index, rng)``, or ``dataset[index]`` with ``current_rng()`` set to rng."""
    if _uses_get(dataset):
        return dataset.get(index, rng)
    outer, _local.rng = getattr(_local, "rng", None), rng
    try:
        return dataset[index]
    finally:
        _local.rng = outer          # a dataset wrapping another keeps its own generator


def to_tensor(array, device="cpu"):
    """Wrap a collated NumPy array as a ``minigan.Tensor`` on ``device`` (the loader's one contact
    with the engine)."""
    return tensor(array, device=device)


def _host(value):
    """A sample's array leaf as a NumPy array (a Tensor's values are copied from the GPU)."""
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


def _stack(values, field):
    """One field of a batch -> one array: floats as float32, ints as int64."""
    first = values[0]
    if isinstance(first, (bool, np.bool_)):
        return np.array(values, dtype=np.bool_)
    if isinstance(first, (int, np.integer)):
        return np.array(values, dtype=np.int64)
    if isinstance(first, (float, np.floating)):
        return np.array(values, dtype=np.float32)
    arrays = [_host(v) for v in values]
    if any(a.dtype.hasobject for a in arrays):
        raise TypeError(f"collate: field {field} holds {type(first).__name__} values, which do not "
                        f"stack; expected arrays, Tensors, numbers, strings, or tuples/lists/dicts "
                        f"of them")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"collate: field {field} has samples of different shapes {sorted(shapes)}")
    batch = np.stack(arrays)  # B x (...) -> (B, ...)
    if batch.dtype.kind == "f":
        return batch.astype(np.float32, copy=False)
    if batch.dtype.kind in "iu":
        return batch.astype(np.int64, copy=False)
    return batch


def collate_arrays(samples, field="sample"):
    """Stack B samples field by field into NumPy arrays, keeping the samples' structure.

    A tuple or list of fields gives a tuple (list) of batches, a dict gives a dict with the same
    keys, a named tuple the same named tuple; arrays, Tensors and numbers are stacked along a new
    first axis (floats as float32, ints as int64, bools as bool); strings give a list of strings.
    """
    first = samples[0]
    if isinstance(first, dict):
        keys = list(first)
        if any(not isinstance(s, dict) or list(s) != keys for s in samples):
            raise ValueError(f"collate: {field}: every sample must be a dict with the keys "
                             f"{keys} like the first")
        return {k: collate_arrays([s[k] for s in samples], f"{field}[{k!r}]") for k in keys}
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(not isinstance(s, (tuple, list)) or len(s) != width for s in samples):
            raise ValueError(f"collate: {field}: every sample must be a tuple of {width} fields "
                             f"like the first")
        fields = [collate_arrays([s[k] for s in samples], k if field == "sample" else
                                 f"{field}[{k}]") for k in range(width)]
        if hasattr(first, "_fields"):
            return type(first)(*fields)
        return fields if isinstance(first, list) else tuple(fields)
    if isinstance(first, str):
        return list(samples)
    if first is None:
        raise TypeError(f"collate: {field} is None in a sample; return arrays, numbers or strings")
    return _stack(samples, field)


def tensors_of(batch, device="cpu"):
    """``batch`` with every NumPy array wrapped as a Tensor on ``device`` (structure kept)."""
    if isinstance(batch, np.ndarray):
        return to_tensor(batch, device)
    if isinstance(batch, dict):
        return {k: tensors_of(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(tensors_of(v, device) for v in batch))
    if isinstance(batch, (tuple, list)) and not (batch and isinstance(batch[0], str)):
        return type(batch)(tensors_of(v, device) for v in batch)
    return batch


def collate(samples, device="cpu"):
    """Stack a list of samples into a batch of Tensors, like torch's ``default_collate``.

    samples: list of B tuples ``(a, b, ...)`` -> tuple of Tensors ``(A, B, ...)`` on ``device``, with
    A.shape = (B, *a.shape); a bare array gives a single Tensor, a dict a dict of Tensors (see
    ``collate_arrays`` for every case).
    Example: ``collate([(img0, 3), (img1, 7)])`` -> (Tensor (2, 1, 32, 32) float32, Tensor (2,) int64);
    ``collate([{"A": a0, "B": b0}, {"A": a1, "B": b1}])`` -> {"A": Tensor (2, ...), "B": ...}.
    """
    if not samples:
        raise ValueError("collate: got an empty list of samples")
    return tensors_of(collate_arrays(list(samples)), device)


class DataLoader:
    """Iterate over a dataset in batches of Tensors (torch.utils.data.DataLoader's arguments).

    Args:
        dataset: a ``Dataset`` (or any object with ``__len__`` and ``__getitem__``).
        batch_size: samples per batch.
        shuffle: reorder every epoch, the order of epoch e from ``default_rng([seed, e])``.
        sampler: instead of ``shuffle``: an iterable of indices with ``len`` (a
            ``DistributedSampler``, say), iterated afresh each pass (call its ``set_epoch``).
        num_workers: 0 fetches in the calling thread; N > 0 prefetches ``prefetch_factor * N``
            batches in N threads, giving the same batches in the same order.
        collate_fn: list of samples -> batch (default: ``collate``, stacking tuples, dicts, numbers
            and arrays into Tensors on ``device``); a custom one's batches are served as it returns.
        drop_last: leave out the last, smaller batch.
        seed: non-negative int; fixes the orders and the per-sample generators (``sample_rng``).
        generator: instead of ``seed``: an int, or a ``numpy.random.Generator`` to draw the seed
            from once.
        device: where the batches' Tensors live ("cpu" by default; "cuda", "auto" or None for the
            default device).
        prefetch_factor: batches in flight per worker (default 2).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker thread as it starts.
        pin_memory, persistent_workers: accepted for torch's sake; no effect (threads are cheap
            to start, and host memory needs no pinning here).

    Each batch of the default collate is a tuple of Tensors for tuple samples (float32 for float
    data, int64 for labels), a dict for dict samples. ``len(loader)`` is the number of batches.
    ``loader.epoch`` counts finished passes; it goes up by one when a pass runs to its end (a pass
    left early is not counted: the next ``iter`` serves the same epoch again).

    Example::

        loader = DataLoader(SyntheticDigits(6000, size=32), batch_size=64, shuffle=True, seed=1)
        for images, labels in loader:     # (64, 1, 32, 32) float32, (64,) int64
            ...
        state = loader.state_dict()       # {"epoch": 1, "seed": 1}; load_state_dict(state) resumes
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, num_workers=0,
                 collate_fn=None, drop_last=False, seed=None, generator=None, device="cpu",
                 prefetch_factor=2, worker_init_fn=None, pin_memory=False,
                 persistent_workers=False, **unsupported):
        if unsupported:
            raise TypeError(f"DataLoader: unsupported arguments {sorted(unsupported)}; minigan "
                            f"takes batch_size, shuffle, sampler, num_workers, collate_fn, "
                            f"drop_last, seed, generator, device, prefetch_factor, "
                            f"worker_init_fn, pin_memory, persistent_workers")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, "
                            f"got {type(dataset).__name__}")
        for name, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0),
                                 ("prefetch_factor", prefetch_factor, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                kind = "a positive" if low else "a non-negative"
                raise ValueError(f"DataLoader: {name} must be {kind} int, got {value!r}")
        if sampler is not None and (shuffle or not hasattr(sampler, "__len__")
                                    or not hasattr(sampler, "__iter__")):
            raise ValueError(f"DataLoader: sampler must be an iterable of indices with len(), and "
                             f"excludes shuffle=True; got {type(sampler).__name__}, "
                             f"shuffle={shuffle!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {worker_init_fn!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor)
        self.collate_fn = collate_fn
        self.worker_init_fn = worker_init_fn
        self.drop_last = bool(drop_last)
        self.seed = _loader_seed(seed, generator)
        self.device = parse_device(device)
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch):
        """The sample indices of epoch ``epoch``, in the order they are served: (n,) int64 (the
        sampler's indices when there is one)."""
        if self.sampler is not None:
            return np.asarray(list(self.sampler), dtype=np.int64)
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

    def _batch(self, epoch, order, b):
        """Batch ``b`` of epoch ``epoch``: a pure function of (seed, epoch, b), safe in any thread;
        the default collate stops at NumPy arrays here (Tensors are made by the caller)."""
        use_rng = _needs_rng(self.dataset)
        indices = order[b * self.batch_size:(b + 1) * self.batch_size]
        samples = [_fetch(self.dataset, int(i), sample_rng(self.seed, epoch, int(i))
                          if use_rng else None) for i in indices]
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        return collate_arrays(samples)

    def _serve(self, batch):
        return batch if self.collate_fn is not None else tensors_of(batch, self.device)

    def _batches(self, epoch, start):
        order = self.order(epoch)
        if self.num_workers == 0:
            for b in range(start, len(self)):
                yield self._serve(self._batch(epoch, order, b))
        else:
            yield from self._prefetched(epoch, order, start)
        self.epoch = epoch + 1

    def _prefetched(self, epoch, order, start):
        """The batches from ``start`` on, fetched ahead in worker threads and served in order."""
        ids = iter(range(self.num_workers))          # next() is atomic under the GIL
        init = (lambda: self.worker_init_fn(next(ids))) if self.worker_init_fn else None
        pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="minigan-loader",
                                  initializer=init)
        pending, upcoming = deque(), iter(range(start, len(self)))
        try:
            for b in upcoming:
                pending.append(pool.submit(self._batch, epoch, order, b))
                if len(pending) >= self.num_workers * self.prefetch_factor:
                    break
            while pending:
                batch = pending.popleft().result()   # a worker's exception is raised here
                for b in upcoming:                   # keep the window full
                    pending.append(pool.submit(self._batch, epoch, order, b))
                    break
                yield self._serve(batch)
        finally:                                     # also when the pass is left early
            pool.shutdown(wait=True, cancel_futures=True)

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


def _loader_seed(seed, generator):
    """The loader's seed from ``seed`` or ``generator`` (an int, or a NumPy Generator drawn once)."""
    if seed is not None and generator is not None:
        raise ValueError("DataLoader: give seed or generator, not both")
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(2**63))
    value = seed if seed is not None else generator if generator is not None else 0
    return _check_seed(value, "DataLoader: seed")
