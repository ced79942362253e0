"""minigan.vision: torchvision's transforms (on Pillow images and Tensors), ImageFolder, FakeData."""
import numpy as np
import pytest
from PIL import Image

import minigan as mg
from minigan.utils.data import DataLoader
from minigan.vision import datasets as dset, transforms as T


def _image(width, height, mode="RGB"):
    """A Pillow image whose pixel (y, x) holds (10 y + x) in every channel."""
    values = (10 * np.arange(height)[:, None] + np.arange(width)[None, :]).astype(np.uint8)
    return Image.fromarray(values if mode == "L" else np.stack([values] * 3, axis=2))


def test_resize_matches_the_shorter_side_or_sets_both():
    assert T.Resize(4)(_image(8, 6)).size == (5, 4)          # (width, height): 4 * 8 / 6 -> 5
    assert T.Resize([4])(_image(6, 8)).size == (4, 5)
    assert T.Resize((3, 7), Image.BICUBIC)(_image(8, 6)).size == (7, 3)
    assert T.Resize(5, T.InterpolationMode.NEAREST)(_image(8, 6)).size == (6, 5)
    resized = T.Resize((3, 4))(T.ToTensor()(_image(8, 6)))   # a Tensor, resized per channel
    assert isinstance(resized, mg.Tensor) and resized.shape == (3, 3, 4)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        T.Resize(4, interpolation="cubic-ish")
    with pytest.raises(ValueError, match="Resize size"):
        T.Resize(0)


def test_center_crop_rounds_like_torchvision():
    # offsets: int(round((7 - 4) / 2)) = 2 (1.5 rounds to even), int(round((9 - 4) / 2)) = 2
    cropped = np.asarray(T.CenterCrop(4)(_image(9, 7, "L")))
    assert cropped[0, 0] == 10 * 2 + 2 and cropped.shape == (4, 4)
    tensor = T.CenterCrop((2, 3))(T.ToTensor()(_image(9, 7, "L")))
    assert tensor.shape == (1, 2, 3) and round(float(tensor.numpy()[0, 0, 0]) * 255) == 10 * 2 + 3
    with pytest.raises(ValueError, match=r"CenterCrop: crop size \(8, 8\) is larger"):
        T.CenterCrop(8)(_image(9, 7))


def test_to_tensor_and_normalize():
    x = T.ToTensor()(_image(3, 2))
    assert isinstance(x, mg.Tensor) and x.shape == (3, 2, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy()[1], np.float32([[0, 1, 2], [10, 11, 12]]) / 255)
    y = T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(x)
    np.testing.assert_allclose(y.numpy(), x.numpy() * 2 - 1, atol=1e-6)
    with pytest.raises(ValueError, match="2 means for an image of 3 channels"):
        T.Normalize((0.5, 0.5), (0.5, 0.5))(x)


def test_random_transforms_follow_the_seed_outside_a_loader():
    pipeline = T.Compose([T.RandomCrop((3, 4)), T.RandomHorizontalFlip(), T.ToTensor()])
    image = _image(9, 7)
    mg.manual_seed(5)
    a = [pipeline(image).numpy() for _ in range(4)]
    mg.manual_seed(5)
    b = [pipeline(image).numpy() for _ in range(4)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert any(not np.array_equal(a[0], other) for other in a[1:])
    assert a[0].shape == (3, 3, 4)


def test_fake_data_through_a_loader_with_workers():
    data = dset.FakeData(size=9, image_size=(3, 12, 10), num_classes=4,
                         transform=T.Compose([T.Resize(8), T.RandomCrop(8),
                                              T.RandomHorizontalFlip(), T.ToTensor()]))
    image, label = data[3]
    assert image.shape == (3, 8, 8) and 0 <= label < 4
    serial = [(x.numpy(), y.numpy()) for x, y in DataLoader(data, 4, shuffle=True, seed=2)]
    threaded = [(x.numpy(), y.numpy()) for x, y in
                DataLoader(data, 4, shuffle=True, seed=2, num_workers=2)]
    assert len(serial) == 3 and all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1])
                                    for p, q in zip(serial, threaded))


def test_image_folder(tmp_path):
    for name, count in (("dogs", 2), ("cats", 3)):
        (tmp_path / name / "sub").mkdir(parents=True)
        for i in range(count):
            _image(5, 4).save(tmp_path / name / ("sub" if i else "") / f"{i}.png")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    data = dset.ImageFolder(tmp_path, transform=T.ToTensor())
    assert data.classes == ["cats", "dogs"] and data.class_to_idx == {"cats": 0, "dogs": 1}
    assert data.targets == [0, 0, 0, 1, 1] and len(data) == 5
    image, target = data[4]
    assert image.shape == (3, 4, 5) and target == 1
    with pytest.raises(FileNotFoundError, match="no class folders in"):
        dset.ImageFolder(tmp_path / "dogs" / "sub")
    with pytest.raises(FileNotFoundError, match="missing"):
        dset.ImageFolder(tmp_path / "nope")


def test_pipelines_match_torchvision_when_installed():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    for width, height in ((80, 70), (70, 80), (91, 77), (33, 100)):
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        for size, crop in ((64, 64), (32, 30), (50, (20, 31))):
            ours = T.Compose([T.Resize(size, Image.BICUBIC), T.CenterCrop(crop), T.ToTensor(),
                              T.Normalize((0.5,) * 3, (0.5,) * 3)])(image).numpy()
            theirs = tv.Compose([tv.Resize(size, tv.InterpolationMode.BICUBIC), tv.CenterCrop(crop),
                                 tv.ToTensor(), tv.Normalize((0.5,) * 3, (0.5,) * 3)])(image)
            np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-6)
    assert torch is not None
