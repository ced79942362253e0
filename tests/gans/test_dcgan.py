"""DCGAN through the GAN trainer: options, exact resume, a short run that lowers the Fréchet
distance, and examples/dcgan.py end to end (outputs, --resume)."""
import functools
import json

import numpy as np
import pytest

import minigan as mg
from minigan import io, optim
from minigan.data import DataLoader, SyntheticDigits
from minigan.gans import GAN, TrainingLoop, evaluation
from minigan.models.classifier import DigitClassifier
from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator

from example_scripts import load_example as load_script



def load_example():
    return load_script("dcgan")


example = load_example()


def small_dcgan(width=8, nz=16, lr=2e-4, **kwargs):
    """A 16x16 DCGAN small enough for tests (seeded by the caller)."""
    G, D = DCGANGenerator(16, nz, 1, width), DCGANDiscriminator(16, 1, width)
    return GAN(G, D, optim.Adam(G.parameters(), lr, betas=(0.5, 0.999)),
               optim.Adam(D.parameters(), lr, betas=(0.5, 0.999)), latent_shape=(nz, 1, 1),
               **kwargs)


def digit_loader(n=256, batch=32, seed=0):
    return DataLoader(example.ImagesOnly(SyntheticDigits(n, size=16, seed=seed)), batch_size=batch,
                      shuffle=True, drop_last=True, seed=seed)


def params(gan):
    return {f"{name}/{k}": v.numpy().copy() for name, m in (("G", gan.G), ("D", gan.D))
            for k, v in m.state_dict().items()}


@pytest.mark.parametrize("options", [dict(loss="vanilla"), dict(loss="lsgan", d_steps=2),
                                     dict(real_label=0.9, instance_noise=0.1,
                                          instance_noise_steps=10)])
def test_options_train(options):
    mg.manual_seed(0)
    gan = small_dcgan(**options)
    before = params(gan)
    images = next(iter(digit_loader()))[0]
    losses = gan.train_step(images)
    assert set(losses) == {"d_loss", "g_loss"} and all(np.isfinite(list(losses.values())))
    after = params(gan)
    assert not np.allclose(before["G/0.weight"], after["G/0.weight"])
    assert not np.allclose(before["D/0.weight"], after["D/0.weight"])
    # BN running statistics of G move in training, and sampling (eval mode) leaves them alone
    stats = gan.G[1].running_mean.numpy().copy()
    gan.sample(8)
    np.testing.assert_array_equal(gan.G[1].running_mean.numpy(), stats)


def test_resume_gives_identical_parameters(tmp_path):
    mg.manual_seed(0)
    straight = small_dcgan()
    TrainingLoop(straight, digit_loader(), tmp_path / "a", steps=12, progress=False).run()

    mg.manual_seed(0)
    first = small_dcgan()
    TrainingLoop(first, digit_loader(), tmp_path / "b", steps=6, progress=False).run()  # mid-epoch
    mg.manual_seed(99)                                             # resume must not depend on this
    second = small_dcgan()
    TrainingLoop(second, digit_loader(), tmp_path / "b", steps=12, progress=False).run(resume=True)
    expected, got = params(straight), params(second)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_short_run_lowers_the_frechet_distance(tmp_path):
    """200 steps on 16x16 digits: the distance to real digits, in the features of a fixed
    (randomly initialised) CNN, falls to under half its value at step 0."""
    mg.manual_seed(0)
    features = DigitClassifier(16)
    real = evaluation.dataset_arrays(SyntheticDigits(500, size=16, seed=9))[0]
    frechet = evaluation.FrechetDistance(features, real)
    gan = small_dcgan(width=16, lr=5e-4)
    z = mg.tensor(np.random.default_rng(1).standard_normal((500, 16, 1, 1)).astype(np.float32))
    start = frechet(gan.sample(500, z=z))
    TrainingLoop(gan, digit_loader(n=1024), tmp_path, steps=200, checkpoint_every=0,
                 progress=False).run()
    end = frechet(gan.sample(500, z=z))
    assert end < 0.5 * start, (start, end)


# ---------------------------------------------------------------- the example
@pytest.fixture
def tiny_judge(monkeypatch, tmp_path):
    """The examples' classifier, trained on few digits for one epoch, cached in tmp_path."""
    small = functools.partial(evaluation.digit_classifier, n_train=256, n_test=64, epochs=1,
                              cache=str(tmp_path / "cache"))
    monkeypatch.setattr(evaluation, "digit_classifier", small)


def run_example(out, *extra):
    argv = ["--out", str(out), "--n-train", "128", "--batch-size", "32", "--ngf", "4", "--ndf", "4",
            "--eval-samples", "40", "--no-progress", *extra]
    return example.main(argv)


def test_example_writes_its_outputs(tmp_path, tiny_judge):
    metrics = run_example(tmp_path / "run", "--epochs", "2")
    out = tmp_path / "run"
    for name in ("samples_epoch001.png", "samples_epoch002.png", "interpolation.png", "losses.png",
                 "metrics.json", "checkpoint.safetensors", "classifier.safetensors"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["step"] == 8 and [r["step"] for r in saved["history"]] == [0, 4, 8]
    assert saved["frechet_distance_step0"] == saved["history"][0]["frechet_distance"]
    assert saved["frechet_ratio"] == pytest.approx(saved["frechet_distance_step0"]
                                                   / saved["frechet_distance"])
    assert metrics["frechet_distance"] == saved["frechet_distance"]
    grid = io.load_checkpoint(out / "checkpoint.safetensors")
    assert grid["loop"]["step"] == 8


def test_example_resume_continues_with_identical_numbers(tmp_path, tiny_judge):
    straight = run_example(tmp_path / "a", "--epochs", "2")
    run_example(tmp_path / "b", "--epochs", "1")
    resumed = run_example(tmp_path / "b", "--epochs", "2", "--resume")
    assert resumed["history"] == straight["history"]
    assert resumed["frechet_distance"] == straight["frechet_distance"]
    a = io.load_checkpoint(tmp_path / "a" / "checkpoint.safetensors")["trainer"]["G"]
    b = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["trainer"]["G"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_example_errors(tmp_path, tiny_judge):
    with pytest.raises(SystemExit, match="no checkpoint"):
        run_example(tmp_path / "none", "--resume")
    with pytest.raises(SystemExit, match="image folder not found|not found"):
        run_example(tmp_path / "x", "--data", str(tmp_path / "missing"))
    run_example(tmp_path / "c", "--epochs", "1")
    with pytest.raises(SystemExit, match="other settings.*lr"):
        run_example(tmp_path / "c", "--epochs", "2", "--resume", "--lr", "1e-3")


def test_example_flags_of_the_regularised_losses(capsys):
    args = example.parse_args(["--loss", "wgan-gp"])
    assert (args.loss, args.lr, args.d_steps, args.epochs) == ("wgan_gp", 1e-4, 5, 3)
    gan = example.build(args, 1, "cpu", 100)
    assert gan.D.norm == "none" and gan.gp_lambda == 10.0 and gan.d_steps == 5
    assert gan.d_optimizer.param_groups[0]["betas"] == (0.0, 0.9)
    args = example.parse_args(["--loss", "wgan", "--n-critic", "3"])
    gan = example.build(args, 1, "cpu", 100)
    assert (gan.d_steps, gan.clip_value, gan.D.norm) == (3, 0.01, "batch")
    assert isinstance(gan.d_optimizer, optim.RMSprop) and args.lr == 5e-5
    assert example.build(example.parse_args(["--loss", "r1", "--d-norm", "instance"]), 1, "cpu",
                         100).D.norm == "instance"
    # one saved-config convention (gans.cli): every flag that changes the numbers, unset ones left out
    from minigan.gans import cli
    assert set(cli.run_config(example.parse_args([]))) == {
        "n_train", "batch_size", "seed", "image_size", "ngf", "ndf", "latent_dim", "lr",
        "loss", "d_steps", "real_label", "instance_noise", "eval_samples", "epochs",
        "skip_bad_images"}
    for argv, message in [(["--clip-value", "0.1"], "--clip-value applies to --loss wgan, not "
                                                    "non_saturating"),
                          (["--loss", "dragan", "--r1-gamma", "1"], "--r1-gamma applies to --loss "
                                                                    "r1, not dragan"),
                          (["--loss", "wgan-gp", "--real-label", "0.9"], "--real-label (label "
                                                                          "smoothing) does not "
                                                                          "apply to --loss "
                                                                          "wgan_gp"),
                          (["--loss", "wgan", "--n-critic", "0"], "--d-steps must be positive")]:
        with pytest.raises(SystemExit):
            example.parse_args(argv)
        assert message in capsys.readouterr().err, argv


def test_example_wgan_runs_and_resumes(tmp_path, tiny_judge):
    """Weight clipping through the whole example, and a resume with the same numbers."""
    flags = ("--loss", "wgan", "--n-critic", "2", "--lr", "1e-3")
    straight = run_example(tmp_path / "a", "--epochs", "2", *flags)
    run_example(tmp_path / "b", "--epochs", "1", *flags)
    resumed = run_example(tmp_path / "b", "--epochs", "2", "--resume", *flags)
    assert resumed["history"] == straight["history"] and straight["config"]["loss"] == "wgan"
    state = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["trainer"]["D"]
    weights = [v for k, v in state.items() if k.endswith(("weight", "bias"))]  # not BN statistics
    assert len(weights) == 8 and max(np.abs(w).max() for w in weights) <= 0.01  # 4 convs, 2 BNs
