"""minigan.utils.data: torch-style datasets, the default collate, worker threads, splits."""
from collections import namedtuple

import numpy as np
import pytest

import minigan as mg
from minigan.data.transforms import Compose, RandomCrop, RandomHorizontalFlip
from minigan.utils.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                                current_rng, default_collate, random_split)

Pair = namedtuple("Pair", ["image", "label"])


class TorchStyle(Dataset):
    """Only __getitem__ (torch's form): a dict sample whose noise comes from current_rng()."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        noise = current_rng().normal(size=(2, 3)).astype(np.float32)
        return {"A": noise + index, "B": mg.full((1,), float(index)), "id": index,
                "name": f"s{index}"}


class GetStyle(Dataset):
    """minigan's get(index, rng) form with a random crop and flip."""

    needs_rng = True
    transform = Compose([RandomCrop(4), RandomHorizontalFlip()])

    def __len__(self):
        return 23

    def get(self, index, rng):
        image = np.arange(36, dtype=np.float32).reshape(1, 6, 6) + 100 * index   # (1, 6, 6)
        return self.transform(image, rng), index


def _numbers(batch):
    """A batch as nested plain lists, for exact comparison."""
    if isinstance(batch, mg.Tensor):
        return batch.numpy().tolist()
    if isinstance(batch, dict):
        return {k: _numbers(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [_numbers(v) for v in batch]
    return batch


def _epochs(loader, epochs=2):
    return [[_numbers(b) for b in loader] for _ in range(epochs)]


def test_dict_samples_collate_to_a_dict_of_tensors():
    batch = next(iter(DataLoader(TorchStyle(5), batch_size=3)))
    assert sorted(batch) == ["A", "B", "id", "name"]
    assert batch["A"].shape == (3, 2, 3) and batch["A"].dtype == np.float32
    assert batch["B"].shape == (3, 1) and batch["id"].dtype == np.int64
    assert batch["id"].numpy().tolist() == [0, 1, 2] and batch["name"] == ["s0", "s1", "s2"]


def test_default_collate_structures():
    samples = [Pair(np.ones((2, 2)), 1), Pair(np.zeros((2, 2)), 2)]
    batch = default_collate(samples)
    assert isinstance(batch, Pair) and batch.image.shape == (2, 2, 2)
    assert batch.label.numpy().tolist() == [1, 2]
    lists = default_collate([[1.5, True], [2.5, False]])
    assert isinstance(lists, list) and lists[0].dtype == np.float32 and lists[1].dtype == np.bool_
    nested = default_collate([{"x": (np.zeros(2), 3)}, {"x": (np.ones(2), 4)}])
    assert nested["x"][0].shape == (2, 2) and nested["x"][1].numpy().tolist() == [3, 4]
    with pytest.raises(ValueError, match="keys"):
        default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(TypeError, match="field 0 holds object values"):
        default_collate([(object(),), (object(),)])
    with pytest.raises(TypeError, match="None"):
        default_collate([None, None])


@pytest.mark.parametrize("dataset", [TorchStyle(11), GetStyle()], ids=["getitem", "get"])
def test_workers_give_the_same_batches_in_the_same_order(dataset):
    serial = DataLoader(dataset, batch_size=3, shuffle=True, seed=5)
    threaded = DataLoader(dataset, batch_size=3, shuffle=True, seed=5, num_workers=3,
                          prefetch_factor=1)
    first = _epochs(serial)
    assert first == _epochs(threaded)
    assert first[0] != first[1]                               # a new order and new draws
    assert _epochs(DataLoader(dataset, batch_size=3, shuffle=True, seed=6))[0] != first[0]


def test_workers_resume_mid_epoch_and_survive_an_early_break():
    loader = DataLoader(GetStyle(), batch_size=4, shuffle=True, seed=1, num_workers=2)
    full = [_numbers(b) for b in DataLoader(GetStyle(), batch_size=4, shuffle=True, seed=1)]
    assert [_numbers(b) for b in loader.iterate(start=2)] == full[2:]
    loader.epoch = 0
    for i, _ in enumerate(loader):                            # leave the pass early
        if i == 1:
            break
    assert loader.epoch == 0 and [_numbers(b) for b in loader] == full


def test_a_worker_error_reaches_the_caller():
    class Broken(TorchStyle):
        def __getitem__(self, index):
            if index == 7:
                raise OSError("cannot read sample 7")
            return super().__getitem__(index)

    with pytest.raises(OSError, match="sample 7"):
        list(DataLoader(Broken(10), batch_size=2, num_workers=2))


def test_worker_init_fn_runs_once_per_worker():
    started = []
    loader = DataLoader(TensorDataset(np.arange(40)), batch_size=2, num_workers=3,
                        worker_init_fn=started.append, persistent_workers=True, pin_memory=True)
    assert len(list(loader)) == 20 and sorted(started) == [0, 1, 2][:len(started)]
    assert 1 <= len(started) <= 3


def test_custom_collate_fn_runs_in_the_workers():
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4, num_workers=2,
                        collate_fn=lambda samples: sum(int(s[0]) for s in samples))
    assert list(loader) == [6, 22, 17]


def test_generator_argument_and_argument_errors():
    a = DataLoader(GetStyle(), batch_size=5, shuffle=True, generator=np.random.default_rng(4))
    b = DataLoader(GetStyle(), batch_size=5, shuffle=True, generator=np.random.default_rng(4))
    assert a.seed == b.seed and _epochs(a, 1) == _epochs(b, 1)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(GetStyle(), seed=1, generator=2)
    with pytest.raises(ValueError, match="num_workers must be a non-negative int, got -1"):
        DataLoader(GetStyle(), num_workers=-1)
    with pytest.raises(TypeError, match="unsupported arguments.*batch_sampler"):
        DataLoader(GetStyle(), batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="excludes shuffle=True"):
        DataLoader(GetStyle(), sampler=[0, 1], shuffle=True)


def test_a_sampler_sets_the_order():
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=2, sampler=[9, 3, 4],
                        num_workers=2)
    assert len(loader) == 2
    assert [b[0].numpy().tolist() for b in loader] == [[9, 3], [4]]


def test_tensor_dataset_subset_concat_and_random_split():
    x, y = mg.randn(10, 3), np.arange(10)
    data = TensorDataset(x, y)
    assert len(data) == 10 and data[4][1] == 4
    xb, yb = next(iter(DataLoader(data, batch_size=4)))
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[:4])
    with pytest.raises(ValueError, match="same first size"):
        TensorDataset(x, np.arange(3))
    both = ConcatDataset([data, Subset(data, [9, 8])])
    assert len(both) == 12 and both[11][1] == 8
    train, val = random_split(data, [7, 3], generator=0)
    assert sorted(train.indices + val.indices) == list(range(10)) and len(val) == 3
    assert random_split(data, [0.5, 0.5], generator=0)[0].indices == \
        random_split(data, [5, 5], generator=0)[0].indices
    with pytest.raises(ValueError, match="summing to the dataset's 10 samples"):
        random_split(data, [3, 3])
