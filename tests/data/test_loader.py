"""DataLoader: batching, drop_last, deterministic shuffling, per-sample rngs, resume, collate."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.data import DataLoader, Dataset, Subset, collate, sample_rng
from minigan.data.transforms import Compose, RandomCrop, RandomHorizontalFlip


class Numbered(Dataset):
    """Sample i is (a (2,) float array filled with i, the int i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def get(self, index, rng):
        return np.full(2, index, np.float64), index


class Augmented(Dataset):
    """A (1, 6, 6) ramp image per index, randomly cropped to 4x4 and flipped."""

    needs_rng = True

    def __init__(self, n):
        self.n = n
        self.transform = Compose([RandomCrop(4), RandomHorizontalFlip()])

    def __len__(self):
        return self.n

    def get(self, index, rng):
        image = (np.arange(36, dtype=np.float32).reshape(1, 6, 6) + 100 * index)  # (1, 6, 6)
        return self.transform(image, rng), index


def labels_of(loader):
    return [batch[1].numpy().tolist() for batch in loader]


def test_batches_are_tensors_with_float32_and_int64():
    loader = DataLoader(Numbered(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    x, y = batches[0]
    assert isinstance(x, mg.Tensor) and isinstance(y, mg.Tensor)
    assert x.shape == (4, 2) and x.dtype == np.float32 and x.device == "cpu"
    assert y.shape == (4,) and y.dtype == np.int64
    assert batches[2][0].shape == (2, 2)
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_drop_last():
    loader = DataLoader(Numbered(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(Numbered(3), batch_size=4, drop_last=True)) == 0


@settings(deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_every_sample_served_once_per_epoch(n, batch_size, drop_last, shuffle, seed):
    loader = DataLoader(Numbered(n), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    batches = labels_of(loader)
    assert len(batches) == len(loader)
    served = [i for b in batches for i in b]
    assert len(served) == (n - n % batch_size if drop_last else n)
    assert len(set(served)) == len(served)
    assert all(len(b) == batch_size for b in batches[:-1])


def test_shuffle_is_deterministic_and_changes_per_epoch():
    a = DataLoader(Numbered(50), batch_size=7, shuffle=True, seed=3)
    b = DataLoader(Numbered(50), batch_size=7, shuffle=True, seed=3)
    a0, a1 = labels_of(a), labels_of(a)
    assert a0 == labels_of(b) and a1 == labels_of(b)
    assert a0 != a1
    assert a0 != labels_of(DataLoader(Numbered(50), batch_size=7, shuffle=True, seed=4))
    flat = [i for batch in a0 for i in batch]
    assert flat == np.random.default_rng([3, 0]).permutation(50).tolist()


def test_epoch_counts_only_finished_passes():
    loader = DataLoader(Numbered(9), batch_size=2, shuffle=True, seed=1)
    for _ in loader:
        break
    assert loader.epoch == 0
    list(loader)
    assert loader.epoch == 1
    assert loader.state_dict() == {"epoch": 1, "seed": 1}


def test_resume_from_state_gives_identical_batches():
    reference = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=5)
    epochs = [[(x.numpy(), y.numpy()) for x, y in reference] for _ in range(3)]
    first = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=5)
    list(first)
    resumed = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=0)
    resumed.load_state_dict(first.state_dict())
    for expected in epochs[1:]:
        got = [(x.numpy(), y.numpy()) for x, y in resumed]
        for (ex, ey), (gx, gy) in zip(expected, got, strict=True):
            np.testing.assert_array_equal(ex, gx)
            np.testing.assert_array_equal(ey, gy)


@pytest.mark.parametrize("stop", [0, 2, 3])
def test_resume_in_the_middle_of_an_epoch(stop):
    """Save the epoch and the batches used; resume with iterate(start=...): the same batches."""
    reference = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=6)
    expected = [x.numpy() for _ in range(2) for x, _ in reference]      # two epochs, 8 batches
    first = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=6)
    served = []
    for i, (x, _) in enumerate(first):
        served.append(x.numpy())
        if i == stop:
            state, used = first.state_dict(), i + 1
            break
    assert state == {"epoch": 0, "seed": 6}
    resumed = DataLoader(Augmented(11), batch_size=3, shuffle=True, seed=6)
    resumed.load_state_dict(state)
    served += [x.numpy() for x, _ in resumed.iterate(start=used)]
    assert resumed.epoch == 1
    served += [x.numpy() for x, _ in resumed]
    assert len(served) == len(expected)
    for e, s in zip(expected, served):
        np.testing.assert_array_equal(e, s)
    assert list(resumed.iterate(start=len(resumed))) == [] and resumed.epoch == 3


def test_load_state_dict_names_missing_keys():
    with pytest.raises(KeyError, match="seed"):
        DataLoader(Numbered(3)).load_state_dict({"epoch": 2})
    with pytest.raises(ValueError, match=r"start must be an int in \[0, 2\], got 5"):
        DataLoader(Numbered(3), batch_size=2).iterate(start=5)


def test_random_transforms_follow_seed_epoch_and_index():
    dataset = Augmented(8)
    run = lambda seed: [x.numpy() for x, _ in DataLoader(dataset, batch_size=8, seed=seed)][0]
    np.testing.assert_array_equal(run(2), run(2))
    assert not np.array_equal(run(2), run(3))
    loader = DataLoader(dataset, batch_size=8, seed=2)
    epoch0, epoch1 = [next(iter(loader))[0].numpy() for _ in range(2)]
    np.testing.assert_array_equal(epoch0, epoch1)  # an unfinished pass does not advance the epoch
    list(loader)
    assert not np.array_equal(next(iter(loader))[0].numpy(), epoch0)
    # dataset[i] is what a seed-0 loader serves in epoch 0
    first = next(iter(DataLoader(dataset, batch_size=8, seed=0)))[0].numpy()
    np.testing.assert_array_equal(first[5], dataset[5][0])


def test_sample_rng_is_apart_from_the_shuffle_stream():
    shuffle = np.random.default_rng([7, 0]).random(4)
    assert not np.array_equal(sample_rng(7, 0, 0).random(4), shuffle)
    np.testing.assert_array_equal(sample_rng(7, 2, 9).random(3), sample_rng(7, 2, 9).random(3))


def test_plain_sequences_and_subsets_work():
    samples = [(np.ones((1, 2, 2), np.float32) * i, i) for i in range(5)]
    assert labels_of(DataLoader(samples, batch_size=5)) == [[0, 1, 2, 3, 4]]
    subset = Subset(Numbered(10), [9, -1, 3])
    assert [subset[i][1] for i in range(len(subset))] == [9, 9, 3]
    with pytest.raises(IndexError, match="out of range"):
        Subset(Numbered(10), [10])


def test_collate_bare_arrays_and_errors():
    batch = collate([np.zeros(3), np.ones(3)])
    assert isinstance(batch, mg.Tensor) and batch.shape == (2, 3) and batch.dtype == np.float32
    with pytest.raises(ValueError, match=r"field 0 .*\(2,\).*\(3,\)"):
        collate([(np.zeros(2), 1), (np.zeros(3), 2)])
    with pytest.raises(ValueError, match="tuple of 2 fields"):
        collate([(np.zeros(2), 1), (np.zeros(2),)])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(Numbered(3), batch_size=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        DataLoader(Numbered(3), seed=-1)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object())
    with pytest.raises(IndexError, match="index 3 out of range"):
        Numbered(3)[3]


@pytest.mark.gpu
def test_batches_on_the_gpu():
    x, y = next(iter(DataLoader(Numbered(4), batch_size=4, device="cuda")))
    assert x.device == "cuda" and y.device == "cuda"
    np.testing.assert_array_equal(y.numpy(), [0, 1, 2, 3])
