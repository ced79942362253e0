"""ImagePool: fills to pool_size, then swaps with probability 1/2 (the reference rule)."""
import numpy as np
import pytest

import minigan as mg
from minigan.gans.image_pool import ImagePool


def _batch(values):
    """One (1, 1, 2, 2) image per value, filled with it: (B, 1, 2, 2)."""
    values = np.array(values, np.float32)[:, None, None, None]              # (B, 1, 1, 1)
    return mg.tensor(values * np.ones((1, 1, 2, 2), np.float32))


def _ids(t):
    return t.numpy()[:, 0, 0, 0].tolist()


def test_fills_to_pool_size_returning_inputs():
    pool = ImagePool(50, rng=np.random.default_rng(0))
    for start in range(0, 50, 5):
        out = pool.query(_batch(range(start, start + 5)))
        assert _ids(out) == list(range(start, start + 5))   # every image goes in and comes back
    assert len(pool) == 50


def test_full_pool_swaps_half_the_time():
    pool = ImagePool(50, rng=np.random.default_rng(1))
    pool.query(_batch(range(50)))
    swapped, n = 0, 2000
    for i in range(n):
        new = 1000 + i
        (got,) = _ids(pool.query(_batch([new])))
        if got != new:
            swapped += 1
            assert got < 1000 + i            # an older image came back ...
            assert new in _ids(mg.tensor(np.stack(pool.images)))   # ... the new one took its slot
        assert len(pool) == 50
    assert abs(swapped / n - 0.5) < 0.05


def test_swap_uses_uniform_slot_and_rule_matches_reference():
    """Replay the reference rule with the same draws: p > 0.5 -> swap slot randint(0, 50)."""
    rng_pool, rng_ref = np.random.default_rng(7), np.random.default_rng(7)
    pool = ImagePool(50, rng=rng_pool)
    ref = list(range(50))
    pool.query(_batch(ref))
    for i in range(200):
        new = 100 + i
        (got,) = _ids(pool.query(_batch([new])))
        if rng_ref.random() > 0.5:
            slot = int(rng_ref.integers(0, 50))
            expected, ref[slot] = ref[slot], new
        else:
            expected = new
        assert got == expected


def test_zero_pool_passes_through_and_state_round_trips():
    assert _ids(ImagePool(0).query(_batch([3, 4]))) == [3, 4]
    pool = ImagePool(4, rng=np.random.default_rng(0))
    pool.query(_batch([1, 2, 3]))
    copy = ImagePool(4)
    copy.load_state_dict(pool.state_dict())
    assert _ids(mg.tensor(np.stack(copy.images))) == [1, 2, 3]
    empty = ImagePool(4)
    empty.load_state_dict(ImagePool(4).state_dict())
    assert len(empty) == 0


def test_uses_global_generator_by_default():
    def run():
        mg.manual_seed(3)
        pool = ImagePool(2)
        return [_ids(pool.query(_batch([i]))) for i in range(30)]
    assert run() == run()


def test_bad_input_errors():
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(-1)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        ImagePool(2).query(mg.zeros(3, 2, 2))
    pool = ImagePool(2)
    pool.query(mg.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="do not match"):
        pool.query(mg.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="pool_size is 1"):
        ImagePool(1).load_state_dict({"images": np.zeros((2, 1, 2, 2), np.float32)})
