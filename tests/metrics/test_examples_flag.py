"""``--eval-inception FILE`` in examples/dcgan.py, cyclegan.py and pix2pix.py: a missing or wrong
weights file stops the run before training, in one line; with weights, metrics.json gains FID and
KID of --inception-samples generated images against as many real ones. The network here is the
small stand-in of conftest.py (the loader is replaced), so the runs stay short: the Inception's own
way through the metrics is test_inception_pipeline.py's."""
import functools
import json

import pytest

from minigan.gans import cli
from minigan.gans import evaluation

from example_scripts import load_example

TINY = {
    "dcgan": ["--n-train", "64", "--batch-size", "32", "--ngf", "4", "--ndf", "4",
              "--eval-samples", "20", "--epochs", "1"],
    "cyclegan": ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--n-layers", "2",
                 "--n-train", "3", "--n-test", "6", "--epochs", "1", "--epochs-decay", "0"],
    "pix2pix": ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-layers", "2", "--n-train", "4",
                "--n-test", "6", "--batch-size", "2", "--epochs", "1", "--epochs-decay", "0"],
}


example = load_example


@pytest.fixture
def tiny_judge(monkeypatch, tmp_path):
    """dcgan's digit classifier, trained on few digits for one epoch, cached in tmp_path."""
    small = functools.partial(evaluation.digit_classifier, n_train=128, n_test=32, epochs=1,
                              cache=str(tmp_path / "judge"))
    monkeypatch.setattr(evaluation, "digit_classifier", small)


def run(name, out, *extra):
    return example(name).main(TINY[name] + ["--out", str(out), "--no-progress", *extra])


@pytest.mark.parametrize("name", ["dcgan", "cyclegan", "pix2pix"])
def test_a_missing_weights_file_stops_the_run_before_training(name, tmp_path):
    with pytest.raises(SystemExit) as caught:
        run(name, tmp_path / "run", "--eval-inception", str(tmp_path / "none.safetensors"))
    message = str(caught.value.code)
    assert message.startswith("error: --eval-inception: load_fid_inception: no Inception weights")
    assert "\n" not in message and not (tmp_path / "run" / "checkpoint.safetensors").exists()


@pytest.mark.parametrize("name, sets", [("dcgan", None),
                                        ("cyclegan", ("summer_to_winter", "winter_to_summer")),
                                        ("pix2pix", ("labels_to_photo",))])
def test_metrics_json_gains_fid_and_kid(name, sets, tmp_path, monkeypatch, tiny_model, tiny_judge,
                                        capsys):
    loaded = []

    def stand_in(weights, device="cpu"):
        loaded.append(weights)
        return tiny_model

    monkeypatch.setattr(cli, "load_inception", stand_in)
    out = tmp_path / "run"
    result = run(name, out, "--eval-inception", "w.safetensors", "--inception-samples", "5")
    saved = json.loads((out / "metrics.json").read_text())
    assert loaded == ["w.safetensors"] and saved["inception"] == json.loads(
        json.dumps(result["inception"]))
    for scores in ([saved["inception"]] if sets is None else
                   [saved["inception"][s] for s in sets]):
        assert scores["real_images"] == scores["fake_images"] == 5
        assert scores["fid"] > 0 and scores["kid_subset_size"] == 5
    assert "Inception FID" in capsys.readouterr().out
    assert "eval_inception" not in saved["config"]                   # not a training setting
