"""fid / kid / inception_score on folders, statistics files, image arrays and features, with a
small stand-in network (tests/metrics/conftest.py: TinyFeatures); the statistics cache (reused,
remade when a file, the weights or the image set changes); and the one-line errors."""
import os

import numpy as np
import pytest
from PIL import Image

from minigan import metrics
from minigan.data import ImageReadError
from minigan.metrics import (frechet_distance, gaussian_statistics, inception_score_from_logits,
                             kid_from_features, load_statistics, save_statistics)
from minigan.metrics.extract import activations
from minigan.metrics.images import check_images


def pixels(seed, n=6, shape=(16, 16, 3), low=0, high=256):
    return np.random.default_rng(seed).integers(low, high, (n,) + shape, dtype=np.uint8)


@pytest.fixture
def folders(tmp_path, write_images):
    """Two folders of 6 PNGs each: (real, fake, real's uint8 arrays, fake's)."""
    dimmed = np.linspace(0.1, 1.0, 6)[:, None, None, None]                # a spread of brightness
    real, fake = pixels(0), (pixels(1) * dimmed).astype(np.uint8)
    return (write_images(tmp_path / "real", real), write_images(tmp_path / "fake", fake),
            real, fake)


def features_of(model, uint8_images):
    return activations(check_images(uint8_images), model, progress=False)


def test_fid_of_folders_arrays_and_features_agree(folders, tiny_model):
    real_dir, fake_dir, real, fake = folders
    (f_real, _), (f_fake, _) = features_of(tiny_model, real), features_of(tiny_model, fake)
    expected = frechet_distance(*gaussian_statistics(f_real), *gaussian_statistics(f_fake))
    options = {"model": tiny_model, "progress": False}
    assert metrics.fid(real_dir, fake_dir, **options) == pytest.approx(expected, rel=1e-9)
    as_float = real.transpose(0, 3, 1, 2).astype(np.float32) / 255           # (N, 3, H, W)
    assert metrics.fid(as_float, fake, **options) == pytest.approx(expected, rel=1e-9)
    assert metrics.fid(f_real, f_fake) == pytest.approx(expected, rel=1e-9)   # no network
    assert expected > 0.01
    assert metrics.fid(real_dir, real_dir, **options) == pytest.approx(0, abs=1e-9)


def test_grey_files_are_read_as_rgb_and_sizes_may_differ(tmp_path, tiny_model,
                                                         write_images):
    grey = pixels(2, n=3, shape=(12, 20))
    folder = write_images(tmp_path / "grey", grey)
    Image.fromarray(pixels(3, n=1, shape=(9, 9, 3))[0]).save(os.path.join(folder, "z.png"))
    found = metrics.Extractor(tiny_model, progress=False, batch_size=8).collect(
        folder, ("features",))["features"]
    expected_grey, _ = features_of(tiny_model, np.repeat(grey[..., None], 3, axis=3))
    assert found.shape == (4, 6) and np.allclose(found[:3], expected_grey, atol=1e-6)


def test_statistics_files_round_trip_and_read_pytorch_fids_npz(folders, tiny_model, tmp_path):
    real_dir, fake_dir, _, _ = folders
    mu, sigma = metrics.statistics(real_dir, model=tiny_model, progress=False)
    save_statistics(tmp_path / "real.safetensors", mu, sigma)
    np.savez_compressed(tmp_path / "real.npz", mu=mu, sigma=sigma)           # pytorch-fid's
    for path in ("real.safetensors", "real.npz"):
        stats = load_statistics(tmp_path / path)
        assert np.array_equal(stats["mu"], mu) and np.array_equal(stats["sigma"], sigma)
    direct = metrics.fid(real_dir, fake_dir, model=tiny_model, progress=False)
    assert metrics.fid(str(tmp_path / "real.npz"), fake_dir, model=tiny_model,
                       progress=False) == pytest.approx(direct, rel=1e-12)
    import safetensors.numpy
    assert set(safetensors.numpy.load_file(tmp_path / "real.safetensors")) == {"mu", "sigma"}


def test_kid_and_inception_score_through_folders(folders, tiny_model):
    real_dir, fake_dir, real, fake = folders
    tiny_model.fc.weight.data.mul_(30.0)                               # confident "classes"
    (f_real, _), (f_fake, l_fake) = features_of(tiny_model, real), features_of(tiny_model, fake)
    options = {"model": tiny_model, "progress": False}
    assert metrics.kid(real_dir, fake_dir, subsets=5, subset_size=4, **options) == \
        pytest.approx(kid_from_features(f_real, f_fake, subsets=5, subset_size=4), rel=1e-6)
    weight = tiny_model.fc.weight.numpy().astype(np.float64)
    unbiased = f_fake.astype(np.float64) @ weight.T                      # no fc bias, as TF's IS
    assert np.allclose(l_fake, unbiased, rtol=1e-6, atol=1e-7)
    score = metrics.inception_score(fake_dir, splits=2, **options)
    assert score == pytest.approx(inception_score_from_logits(unbiased, splits=2), rel=1e-6)
    assert score[0] > 1.05


def test_cache_is_reused_and_remade_when_files_or_weights_change(folders, tiny_model,
                                                                cache_folder):
    real_dir = folders[0]
    options = {"model": tiny_model, "progress": False}
    first = metrics.statistics(real_dir, **options)
    assert tiny_model.images_seen == 6 and len(os.listdir(cache_folder / "fid-stats")) == 1
    again = metrics.statistics(real_dir, **options)
    assert tiny_model.images_seen == 6 and np.array_equal(first[1], again[1])       # reused
    metrics.kid(real_dir, real_dir, subsets=2, subset_size=3, **options)  # needs the features:
    assert tiny_model.images_seen == 12                                   # one pass, kept after
    metrics.kid(real_dir, real_dir, subsets=2, subset_size=3, **options)
    assert tiny_model.images_seen == 12

    path = os.path.join(real_dir, "000.png")                              # a changed file
    Image.fromarray(pixels(9, n=1)[0]).save(path)
    os.utime(path, ns=(0, 10**18))
    changed = metrics.statistics(real_dir, **options)
    assert tiny_model.images_seen == 18 and not np.array_equal(changed[0], first[0])
    tiny_model.fc.weight.data.mul_(2.0)                                   # other weights
    metrics.statistics(real_dir, **options)
    assert tiny_model.images_seen == 24
    os.remove(path)                                                       # one file fewer
    assert metrics.statistics(real_dir, **options)[0].shape == (6,)
    assert tiny_model.images_seen == 29
    metrics.statistics(real_dir, cache=False, **options)                  # cache off
    assert tiny_model.images_seen == 34


def test_a_damaged_cache_entry_is_remade(folders, tiny_model, cache_folder):
    options = {"model": tiny_model, "progress": False}
    first = metrics.statistics(folders[0], **options)
    (entry,) = (cache_folder / "fid-stats").iterdir()
    entry.write_bytes(entry.read_bytes()[:100])
    assert np.array_equal(metrics.statistics(folders[0], **options)[0], first[0])
    assert tiny_model.images_seen == 12


@pytest.mark.parametrize("make, message", [
    (lambda d: os.makedirs(d / "empty") or d / "empty", "no images in"),
    (lambda d: d / "missing", "no such folder or statistics file"),
    (lambda d: (d / "x.safetensors").write_bytes(b"\x00" * 40) and d / "x.safetensors",
     "cannot read statistics file"),
    (lambda d: (d / "bad.png").write_bytes(b"not a png") and d, "cannot be read: .*bad.png"),
])
def test_bad_sources_are_one_line_errors(tmp_path, tiny_model, write_images, make, message):
    os.makedirs(tmp_path / "ok", exist_ok=True)
    write_images(tmp_path / "ok", pixels(0, n=3))
    source = make(tmp_path / "ok")
    with pytest.raises((OSError, ValueError, ImageReadError), match=message) as info:
        metrics.fid(source, str(tmp_path / "ok"), model=tiny_model, progress=False)
    assert "\n" not in str(info.value)


def test_mismatches_and_stats_only_sources_are_one_line_errors(tmp_path, tiny_model):
    rng = np.random.default_rng(0)
    save_statistics(tmp_path / "s.safetensors", np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="real has 4-d features and fake 6-d"):
        metrics.fid(str(tmp_path / "s.safetensors"), rng.random((10, 6)))
    with pytest.raises(ValueError, match="holds statistics .mu, sigma. only; KID needs the "
                                         "features"):
        metrics.kid(str(tmp_path / "s.safetensors"), rng.random((10, 4)))
    with pytest.raises(ValueError, match=r"\[-1, 1\] output maps with \(x \+ 1\) / 2"):
        metrics.fid(rng.uniform(-1, 1, (4, 3, 8, 8)), rng.random((4, 6)), model=tiny_model)
    with pytest.raises(ValueError, match="uint8 images must be"):
        metrics.fid(np.zeros((4, 8, 8, 5), np.uint8), rng.random((4, 6)), model=tiny_model)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        metrics.fid(pixels(0, n=1), rng.random((4, 6)), model=tiny_model, progress=False)
    save_statistics(tmp_path / "odd.safetensors", np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match=r"expected mu \(D,\) and sigma \(D, D\)"):
        load_statistics(tmp_path / "odd.safetensors")
