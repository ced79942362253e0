"""A run written by minigan 0.1 (``checkpoint.npz``) resumes exactly and goes on in safetensors."""
import json
import os

import numpy as np
from test_gan import params, run_loop

from minigan import io
from minigan.serialization import _encode


def write_v1_checkpoint(path, obj):
    """minigan 0.1's writer: arrays by key path in an .npz, the JSON tree in ``__meta__``."""
    arrays = {}
    tree = _encode(obj, "", arrays, "v1")
    meta = json.dumps({"format": "minigan-checkpoint", "version": 1, "tree": tree})
    arrays["__meta__"] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)


def test_a_0_1_run_resumes_exactly(tmp_path):
    straight = run_loop(tmp_path / "a", 26, checkpoint_every=5)
    run_loop(tmp_path / "b", 13, checkpoint_every=5)
    new = tmp_path / "b" / "checkpoint.safetensors"
    write_v1_checkpoint(tmp_path / "b" / "checkpoint.npz", io.load_checkpoint(new))
    os.remove(new)                                           # the folder as 0.1 left it
    assert io.checkpoint_path(tmp_path / "b").endswith("checkpoint.npz")
    resumed = run_loop(tmp_path / "b", 26, resume=True, checkpoint_every=5)
    a, b = params(straight.trainer), params(resumed.trainer)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert straight.history == resumed.history
    assert io.load_checkpoint(new)["loop"]["step"] == 26      # saved in the new format


def test_a_0_1_cached_classifier_is_still_used(tmp_path):
    from minigan.gans import evaluation
    kwargs = dict(cache=str(tmp_path), n_train=200, n_test=50, epochs=1, progress=False)
    _, first = evaluation.digit_classifier(16, **kwargs)
    new = next(tmp_path.glob("classifier-*.safetensors"))
    write_v1_checkpoint(str(new)[:-len(".safetensors")] + ".npz", io.load_checkpoint(new))
    os.remove(new)                                           # the cache as 0.1 left it
    _, again = evaluation.digit_classifier(16, **kwargs)
    assert again["source"] == "cache" and again["accuracy"] == first["accuracy"]
