"""Procedural scenes: determinism, sizes, shared geometry of the three renderings, datasets."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigan.data import DataLoader
from minigan.data.scenes import (CLASSES, PALETTE, PairedSceneTest, SceneLabelsToPhoto,
                                 UnpairedScenes, colorize, random_scene, render, render_scene,
                                 render_set, scene_seeds, to_chw)

SKY, HILL = CLASSES.index("sky"), CLASSES.index("hill")


def _interior(classes, cls):
    """Pixels of class ``cls`` whose 4 neighbours are of that class too (away from edges)."""
    m = classes == cls
    inner = m.copy()
    inner[1:] &= m[:-1]
    inner[:-1] &= m[1:]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return inner


def test_same_seed_same_images_and_different_seeds_differ():
    a, b, c = render_scene(7), render_scene(7), render_scene(8)
    for kind in ("labels", "summer", "winter", "classes"):
        np.testing.assert_array_equal(getattr(a, kind), getattr(b, kind))
    assert random_scene(7) == random_scene(7) and random_scene(7) != random_scene(8)
    assert np.mean(a.classes != c.classes) > 0.05
    assert np.abs(a.summer.astype(int) - c.summer).mean() > 5


@settings(deadline=None)
@given(st.integers(0, 2**62), st.integers(8, 40), st.sampled_from([1, 2]))
def test_any_seed_renders_deterministically(seed, size, supersample):
    a, b = render_scene(seed, size, supersample), render_scene(seed, size, supersample)
    np.testing.assert_array_equal(a.summer, b.summer)
    np.testing.assert_array_equal(a.winter, b.winter)
    np.testing.assert_array_equal(a.labels, PALETTE[a.classes])
    assert a.summer.shape == (size, size, 3) and a.classes.max() < len(CLASSES)
    assert SKY in a.classes and HILL in a.classes


@pytest.mark.parametrize("size", [64, 128, 256, (48, 80)])
def test_sizes(size):
    images = render_scene(3, size)
    h, w = (size, size) if isinstance(size, int) else size
    for kind in ("labels", "summer", "winter"):
        image = getattr(images, kind)
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
    assert images.classes.shape == (h, w)


def test_sizes_describe_the_same_scene():
    small, large = render_scene(11, 64), render_scene(11, 256)
    # 4x4 blocks of the large label map mostly agree with the small one (edges may move by a pixel)
    down = large.classes[1::4, 1::4]
    assert np.mean(down == small.classes) > 0.9


def test_labels_are_flat_palette_colours():
    images = render_scene(5)
    np.testing.assert_array_equal(images.labels, PALETTE[images.classes])
    np.testing.assert_array_equal(colorize(images.classes), images.labels)
    assert SKY in images.classes and HILL in images.classes
    with pytest.raises(ValueError, match="class ids must be in"):
        colorize(np.array([[len(CLASSES)]]))


@pytest.mark.parametrize("seed", range(0, 80, 10))
def test_label_map_and_photos_share_geometry(seed):
    """Where the labels say sky the photos show sky colours, where they say hill, grass or snow."""
    images = render_scene(seed, 64)
    summer, winter = images.summer.astype(int), images.winter.astype(int)
    sky, hill = _interior(images.classes, SKY), _interior(images.classes, HILL)
    assert sky.sum() > 100 and hill.sum() > 100
    r, g, b = summer[..., 0], summer[..., 1], summer[..., 2]
    assert np.mean(((b > r + 20) & (b > g))[sky]) > 0.97, "summer sky is blue"
    assert np.mean((g > r + 10)[hill]) > 0.97, "summer hills are green"
    saturation = winter.max(axis=2) - winter.min(axis=2)
    assert np.mean((saturation < summer.max(axis=2) - summer.min(axis=2) - 15)[sky]) > 0.97, \
        "winter sky is greyer than summer sky"
    snowy = (winter[..., 2] >= winter[..., 0]) & (winter.mean(axis=2) > summer.mean(axis=2) + 40)
    assert np.mean(snowy[hill]) > 0.97, "winter hills are snow: brighter than grass, blue shadows"


def test_geometry_test_can_fail_on_misaligned_labels():
    """The check above rejects a label map shifted by a quarter of the image."""
    images = render_scene(0, 64)
    shifted = np.roll(images.classes, 16, axis=0)
    summer = images.summer.astype(int)
    sky = _interior(shifted, SKY)
    blue = (summer[..., 2] > summer[..., 0] + 20) & (summer[..., 2] > summer[..., 1])
    assert np.mean(blue[sky]) < 0.97


def test_winter_differs_from_summer_on_the_same_layout():
    images = render_scene(2, 64)
    diff = np.abs(images.summer.astype(int) - images.winter).mean(axis=2)
    assert diff[_interior(images.classes, HILL)].mean() > 60
    assert diff[_interior(images.classes, SKY)].mean() > 20
    # the map is consistent: the season change of a class is one colour change, so a per-class
    # affine map from summer to winter explains the winter photo well
    pred = np.zeros(images.winter.shape)
    for cls in np.unique(images.classes):
        m = images.classes == cls
        x = np.c_[images.summer[m], np.ones(m.sum())]
        coef = np.linalg.lstsq(x, images.winter[m].astype(float), rcond=None)[0]
        pred[m] = x @ coef
    psnr = 10 * np.log10(255 ** 2 / np.mean((pred - images.winter) ** 2))
    identity = 10 * np.log10(255 ** 2 / np.mean((images.summer.astype(float) - images.winter) ** 2))
    assert psnr > identity + 10 and psnr > 24


def test_supersample_one_is_hard_edged_and_aligned():
    soft, hard = render_scene(4, 64, supersample=2), render_scene(4, 64, supersample=1)
    assert np.mean(soft.classes == hard.classes) > 0.95
    with pytest.raises(ValueError, match="supersample must be 1 or 2"):
        render(random_scene(4), 64, supersample=3)


@pytest.mark.parametrize("bad", [0, 4, 5000, "64", (64,), 64.0, True])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="scene size"):
        render_scene(0, bad)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        random_scene(-1)


@settings(deadline=None)
@given(*2 * [st.tuples(st.integers(0, 50), st.sampled_from(["train", "test"]),
                       st.sampled_from(["paired", "summer", "winter"]))])
def test_scene_seeds_disjoint_across_splits_and_streams(first, second):
    a, b = set(scene_seeds(20, *first)), set(scene_seeds(20, *second))
    assert (a == b) if first == second else not a & b


def test_scene_seed_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        scene_seeds(4, 0, "val")
    with pytest.raises(ValueError, match="stream must be one of"):
        scene_seeds(4, 0, "train", "autumn")
    with pytest.raises(ValueError, match="n must be an int"):
        SceneLabelsToPhoto(0)


def test_labels_to_photo_pairs():
    data = SceneLabelsToPhoto(6, size=32, seed=1)
    assert len(data) == 6 and not data.needs_rng
    a, b = data[4]
    assert a.shape == b.shape == (3, 32, 32) and a.dtype == b.dtype == np.float32
    assert -1 <= b.min() and b.max() <= 1
    truth = render_scene(scene_seeds(6, 1, "train", "paired")[4], 32)
    np.testing.assert_array_equal(a, to_chw(truth.labels))
    np.testing.assert_array_equal(b, to_chw(truth.summer))
    flipped = SceneLabelsToPhoto(6, size=32, seed=1, flip=True)
    outs = [flipped.get(4, np.random.default_rng(k)) for k in range(8)]
    mirrored = [np.array_equal(x, a[:, :, ::-1]) and np.array_equal(y, b[:, :, ::-1])
                for x, y in outs]
    assert any(mirrored)
    assert all(np.array_equal(x, a) == np.array_equal(y, b) for x, y in outs), "pair stays aligned"


def test_paired_test_set_is_aligned_ground_truth():
    test = PairedSceneTest(5, size=32, seed=2)
    pix = SceneLabelsToPhoto(5, size=32, seed=2, split="test")
    train = SceneLabelsToPhoto(5, size=32, seed=2, split="train")
    for i in range(5):
        summer, winter, labels = test[i]
        truth = render_scene(scene_seeds(5, 2, "test")[i], 32)
        np.testing.assert_array_equal(summer, to_chw(truth.summer))
        np.testing.assert_array_equal(winter, to_chw(truth.winter))
        np.testing.assert_array_equal(labels, pix[i][0])
        np.testing.assert_array_equal(summer, pix[i][1])
        assert not np.array_equal(labels, train[i][0]), "test scenes are not training scenes"


def test_unpaired_sets_come_from_different_scenes():
    data = UnpairedScenes(6, size=32, seed=3, serial=True)
    summer_ids = scene_seeds(6, 3, "train", "summer")
    winter_ids = scene_seeds(6, 3, "train", "winter")
    assert not set(summer_ids) & set(winter_ids)
    x, y = data[2]
    np.testing.assert_array_equal(x, to_chw(render_scene(summer_ids[2], 32).summer))
    np.testing.assert_array_equal(y, to_chw(render_scene(winter_ids[2], 32).winter))
    layouts_x = {render_scene(s, 32).classes.tobytes() for s in summer_ids}
    layouts_y = {render_scene(s, 32).classes.tobytes() for s in winter_ids}
    assert not layouts_x & layouts_y


def test_unpaired_random_pairing_follows_the_sample_rng():
    data = UnpairedScenes(6, size=32, seed=3)
    assert data.needs_rng
    first = [data.get(0, np.random.default_rng(k))[1] for k in range(12)]
    again = [data.get(0, np.random.default_rng(k))[1] for k in range(12)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len({a.tobytes() for a in first}) > 2
    batches = [[t.numpy() for t in batch] for batch in DataLoader(data, batch_size=3, seed=5)]
    again = [[t.numpy() for t in batch] for batch in DataLoader(data, batch_size=3, seed=5)]
    assert len(batches) == 2 and batches[0][0].shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(batches[1][1], again[1][1])


def test_render_set_is_cached():
    first = render_set(4, 16, seed=9)
    assert render_set(4, 16, seed=9) is first
    assert set(first) == {"labels", "summer", "winter"} and first["summer"].shape == (4, 16, 16, 3)
    assert set(render_set(4, 16, seed=9, stream="winter")) == {"winter"}
