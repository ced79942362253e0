"""The torch side of the Inception / FID tests: pytorch-fid's own network, with random weights.

The real weights cannot be fetched here, so ``TorchFIDInception`` builds pytorch-fid's
``InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True)`` with its
download replaced by a random state dict, then sets every BatchNorm's running statistics from one
batch, so that activations stay near unit scale through the ~95 layers (with random statistics
they would explode or die out, and the comparison would test nothing).

Import it from a test as the MPI tests import their launcher::

    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))     # tests/
    import fid_oracle                                # skips the module without torch/pytorch-fid
    oracle = fid_oracle.TorchFIDInception(seed=0)
    net.load_state_dict(oracle.state_dict())         # minigan's FIDInceptionV3
    pool3, logits = oracle(images)                   # NumPy, pytorch-fid's float32 results

After the import, ``pytorch_fid`` and ``torch_fidelity`` import too (see ``import_torchvision``).
"""
import copy
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def import_torchvision():
    """``import torchvision``, even where its C ops cannot load.

    The torchvision wheel installed here (0.28, the CUDA build) does not find its C operators
    with the CPU build of torch, and its import fails in ``torchvision/_meta_registrations.py``,
    which registers meta kernels for those operators (nms, roi_align...). pytorch-fid's network
    is pure Python and uses none of them, so on that failure the two registration modules are
    replaced by empty ones and the import is tried again. Skips the test without torchvision.
    """
    try:
        import torchvision
        return torchvision
    except ImportError:
        pytest.skip("torchvision is not installed")
    except Exception:                                   # RuntimeError: operator ... does not exist
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]                       # the half-imported package
        for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
            sys.modules[name] = types.ModuleType(name)
        import torchvision
        return torchvision


import_torchvision()
pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")


def random_state_dict(shapes, seed):
    """Random weights for pytorch-fid's network, keyed and shaped as ``shapes`` (a torch state
    dict): He-scaled convs, BatchNorm scale U(0.5, 1.5) and shift N(0, 0.2) (running statistics
    are set later, by ``TorchFIDInception``), fc N(0, 1 / 2048), fc bias N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in shapes.items():
        shape = tuple(value.shape)
        if key.endswith("conv.weight") or key == "fc.weight":
            fan_in = int(np.prod(shape[1:]))
            gain = 2.0 if key.endswith("conv.weight") else 1.0    # ReLU follows each conv
            array = rng.normal(0.0, np.sqrt(gain / fan_in), shape)
        elif key.endswith("bn.weight"):
            array = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("bn.bias"):
            array = rng.normal(0.0, 0.2, shape)
        elif key == "fc.bias":
            array = rng.normal(0.0, 0.1, shape)
        elif key.endswith("running_mean"):
            array = np.zeros(shape)
        elif key.endswith("running_var"):
            array = np.ones(shape)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.int64)
            continue
        else:
            raise KeyError(f"random_state_dict: no rule for {key!r}")
        state[key] = torch.from_numpy(array.astype(np.float32))
    return state


def default_calibration_images(seed):
    """(4, 3, 299, 299) in [0, 1]: noise at 32x32 (two), 64x96 and 299x299, resized as pytorch-fid
    does. With statistics from these mixed scales, the mean |activation| stays within 0.3-0.7 from
    Conv2d_4a to Mixed_7c for inputs of all these kinds; from 299 noise alone, smooth (upsampled)
    inputs grew about 100-fold by Mixed_7c."""
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (32, 32), (64, 96), (299, 299)]
    images = [torch.from_numpy(rng.random((1, 3) + size, dtype=np.float32)) for size in sizes]
    images = [torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                              align_corners=False) for x in images]
    return torch.cat(images).numpy()


class TorchFIDInception:
    """pytorch-fid's InceptionV3 (output block 3, resize and normalize on) with random weights.

    ``self(images)`` -> (pool3 (N, 2048), logits (N, 1008)) as NumPy float32, for images a NumPy
    (N, 3, H, W) array in [0, 1]. pool3 is pytorch-fid's output; the logits are the fc layer of the
    same Inception3, from its own forward (avgpool, dropout (identity in eval), flatten, fc).
    ``dtype=torch.float64`` runs a float64 copy, the reference for float32 rounding.
    ``state_dict()`` is the weights as NumPy arrays, keys as pytorch-fid's file.
    """
    float32, float64 = torch.float32, torch.float64

    def __init__(self, seed=0, calibration_images=None):
        torchvision = import_torchvision()
        shapes = torchvision.models.inception.Inception3(
            num_classes=1008, aux_logits=False, init_weights=False).state_dict()
        state = random_state_dict(shapes, seed)
        built = {}

        def fid_inception_v3():                 # pytorch-fid's builder, keeping what it built
            built["inception"] = original()
            return built["inception"]

        original = pytorch_fid_inception.fid_inception_v3
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pytorch_fid_inception, "load_state_dict_from_url",
                          lambda *args, **kwargs: state)
            patch.setattr(pytorch_fid_inception, "fid_inception_v3", fid_inception_v3)
            self.blocks = pytorch_fid_inception.InceptionV3(
                [3], resize_input=True, normalize_input=True, use_fid_inception=True)
        self.inception = built["inception"]     # shares its layers with self.blocks
        if calibration_images is None:
            calibration_images = default_calibration_images(seed + 1)
        self._calibrate(calibration_images)
        self.blocks.eval()
        self.inception.eval()
        self._float64 = None

    def _calibrate(self, images):
        """Running statistics = one batch's statistics, layer by layer (momentum None: a
        cumulative average, here of one batch), so every BatchNorm sees unit-scale input."""
        for module in self.inception.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None
        self.inception.train()
        with torch.no_grad():
            self.inception(2 * torch.from_numpy(np.asarray(images, np.float32)) - 1)

    def state_dict(self):
        return {k: v.detach().numpy().copy() for k, v in self.inception.state_dict().items()}

    def torch_state_dict(self):
        return self.inception.state_dict()

    def __call__(self, images, dtype=torch.float32):
        blocks, inception = self.blocks, self.inception
        if dtype == torch.float64:
            if self._float64 is None:
                self._float64 = copy.deepcopy((blocks, inception))
                for module in self._float64:
                    module.double()
            blocks, inception = self._float64
        x = torch.from_numpy(np.asarray(images)).to(dtype)
        with torch.no_grad():
            pool3 = blocks(x)[0].flatten(1)                    # (N, 2048, 1, 1) -> (N, 2048)
            # the logits: Inception3's own forward, on pytorch-fid's resized, rescaled input
            x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
                                                align_corners=False)
            logits = inception(2 * x - 1)
        return pool3.numpy(), logits.numpy()
