"""Inception-v3 as FID computes it: pytorch-fid's network (mseitzer/pytorch-fid 0.3.0, the port of
TensorFlow's 2015-12-05 Inception graph), for FID, KID and IS with paper-comparable numbers.

The facts come from pytorch-fid's ``inception.py``: torchvision's ``Inception3(num_classes=1008,
aux_logits=False)`` with its A, C and E blocks patched to match TensorFlow. What differs from
torchvision's ImageNet Inception:

- the pool branch of Mixed_5b-5d (A), 6b-6e (C) and 7b (E) averages with
  ``count_include_pad=False`` (TensorFlow leaves the padding out of the average);
- the pool branch of Mixed_7c is a 3x3 *max* pool (stride 1, padding 1), a quirk of that graph;
- 1008 classes, not 1000; no auxiliary classifier.

Input path and shapes, for (N, 3, H, W) images in [0, 1]::

    resize to 299x299 (bilinear, align_corners=False), then 2 x - 1      (N, 3, 299, 299)
    Conv2d_1a_3x3 (stride 2), 2a_3x3, 2b_3x3 (pad 1), maxpool1 3/2       (N, 64, 73, 73)
    Conv2d_3b_1x1, 4a_3x3, maxpool2 3/2                                  (N, 192, 35, 35)
    Mixed_5b, 5c, 5d (A)                                                 (N, 288, 35, 35)
    Mixed_6a (B), Mixed_6b-6e (C)                                        (N, 768, 17, 17)
    Mixed_7a (D), Mixed_7b (E, avg pool), Mixed_7c (E, max pool)         (N, 2048, 8, 8)
    avgpool (adaptive, 1x1), flatten                     -> pool3        (N, 2048)
    dropout (identity in eval), fc                       -> logits       (N, 1008)

Every conv is ``BasicConv2d``: a bias-free conv, BatchNorm2d(eps=0.001), ReLU. ``state_dict()``
keys are pytorch-fid's (``Conv2d_1a_3x3.conv.weight``, ``Mixed_7c.branch_pool.bn.running_var``,
``fc.weight``...), so its weights file loads as it is.

API:

- ``FIDInceptionV3(resize_input=True, normalize_input=True)``: ``model(x)`` with x (N, 3, H, W)
  float32 in [0, 1] returns ``(pool3, logits)``, (N, 2048) and (N, 1008). Without the resize
  H and W must be at least 75.
- ``load_fid_inception(path=None, device="cpu")``: the model with the weights loaded, in eval
  mode, parameters frozen. Run it under ``mg.no_grad()``.

The weights are never downloaded. Get them once and convert them (torch is needed only for that)::

    wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
    python -m minigan.convert pt_inception-2015-12-05-6726825d.pth \\
        ~/.cache/minigan/pt_inception-2015-12-05-6726825d.safetensors

``load_fid_inception()`` looks at ``path``, then ``$MINIGAN_INCEPTION_WEIGHTS``, then that cache
file.

    >>> net = load_fid_inception()
    >>> with mg.no_grad():
    ...     pool3, logits = net(mg.rand(8, 3, 64, 64))
    >>> pool3.shape, logits.shape
    ((8, 2048), (8, 1008))
"""
import os

import minigan as mg
import minigan.nn.functional as F
from minigan import nn
from minigan.serialization import CheckpointError

from .common import check_image_input

WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               "pt_inception-2015-12-05-6726825d.pth")
WEIGHTS_ENV = "MINIGAN_INCEPTION_WEIGHTS"
DEFAULT_WEIGHTS = os.path.join("~", ".cache", "minigan",
                               "pt_inception-2015-12-05-6726825d.safetensors")
INPUT_SIZE = 299
MIN_SIZE = 75      # the smallest side that still leaves 1x1 after Mixed_7a (without the resize)


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU; conv arguments as nn.Conv2d.

    In inference (eval mode, no graph recorded) the batch norm is an affine map per channel, so it is
    folded into the conv: weight * scale and a bias shift - mean * scale, with scale = gamma / sqrt(var +
    eps), worked out in float64 each call (cheap next to the conv). One conv with a bias then replaces
    conv, normalisation and their extra pass over the activations, and the ReLU runs in place on the
    conv's fresh output (as torchvision's ``ReLU(inplace=True)``); the numbers differ from the unfolded
    path by float32 rounding only (tests/models/test_inception.py holds both to pytorch-fid)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        if self.training or mg.is_grad_enabled():
            return F.relu(self.bn(self.conv(x)))
        weight, bias = self.folded()
        return F.conv2d(x, weight, bias, self.conv.stride, self.conv.padding).relu_()   # its own output

    def folded(self):
        """(weight, bias) of the conv with the eval-mode batch norm folded in, in the weight's dtype."""
        bn, w = self.bn, self.conv.weight
        xp = mg.backend.get_array_module(w.array)
        scale = bn.weight.array.astype(xp.float64) / xp.sqrt(bn.running_var.array.astype(xp.float64) + bn.eps)
        shift = bn.bias.array - bn.running_mean.array.astype(xp.float64) * scale
        weight = (w.array * scale[:, None, None, None]).astype(w.dtype)
        return mg.Tensor(weight), mg.Tensor(shift.astype(w.dtype))


def _pool_branch(x):
    """TensorFlow's 3x3 average: stride 1, padding 1, padding left out of each mean."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _avg_pool_branch(block, x):
    """block(_pool_branch(x)) for a 1x1 BasicConv2d ``block``: the A, C and 7b pool branches.

    In inference this runs as pool(conv(x)): a 1x1 conv mixes channels pixel by pixel and the pool
    averages each channel on its own, so the two linear steps commute, and the conv's output has 4-6
    times fewer channels to pool (Mixed_5b: 192 in, 32 out; 6b-6e: 768 in, 192 out). The folded bias
    is added after the pool (an average of a constant is that constant), then the ReLU."""
    if block.training or mg.is_grad_enabled():
        return block(_pool_branch(x))
    weight, bias = block.folded()
    y = _pool_branch(F.conv2d(x, weight))                          # 1x1, stride 1, no padding
    y += bias.reshape(1, -1, 1, 1)
    return y.relu_()


class FIDInceptionA(nn.Module):
    """Mixed_5b-5d: 1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avg pool, 1x1 -> 64 + 64 + 96 + pool_features
    channels, same size."""

    def __init__(self, in_channels, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x):
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return mg.cat([self.branch1x1(x), branch5x5, branch3x3dbl,
                       _avg_pool_branch(self.branch_pool, x)], dim=1)


class InceptionB(nn.Module):
    """Mixed_6a, 35 -> 17: 3x3/2 | 1x1, 3x3, 3x3/2 | max pool 3/2 -> 384 + 96 + in_channels."""

    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return mg.cat([self.branch3x3(x), branch3x3dbl, F.max_pool2d(x, 3, stride=2)], dim=1)


class FIDInceptionC(nn.Module):
    """Mixed_6b-6e: 1x1 | 1x1, 1x7, 7x1 | 1x1, (7x1, 1x7) x 2 | avg pool, 1x1 -> 4 x 192
    channels, same size; c7 = channels of the inner 7-tap convs."""

    def __init__(self, in_channels, channels_7x7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x):
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = self.branch7x7dbl_2(self.branch7x7dbl_1(x))
        branch7x7dbl = self.branch7x7dbl_3(branch7x7dbl)
        branch7x7dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(branch7x7dbl))
        return mg.cat([self.branch1x1(x), branch7x7, branch7x7dbl,
                       _avg_pool_branch(self.branch_pool, x)], dim=1)


class InceptionD(nn.Module):
    """Mixed_7a, 17 -> 8: 1x1, 3x3/2 | 1x1, 1x7, 7x1, 3x3/2 | max pool 3/2 -> 320 + 192 +
    in_channels."""

    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        branch7x7x3 = self.branch7x7x3_4(self.branch7x7x3_3(branch7x7x3))
        return mg.cat([branch3x3, branch7x7x3, F.max_pool2d(x, 3, stride=2)], dim=1)


class FIDInceptionE(nn.Module):
    """Mixed_7b (pool="avg", pytorch-fid's FIDInceptionE_1) and Mixed_7c (pool="max",
    FIDInceptionE_2): 1x1 | 1x1, (1x3 | 3x1) | 1x1, 3x3, (1x3 | 3x1) | 3x3 pool, 1x1
    -> 320 + 768 + 768 + 192 = 2048 channels, same size."""

    def __init__(self, in_channels, pool="avg"):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"FIDInceptionE: pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x):
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = mg.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], dim=1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = mg.cat([self.branch3x3dbl_3a(branch3x3dbl),
                               self.branch3x3dbl_3b(branch3x3dbl)], dim=1)
        if self.pool == "max":
            branch_pool = self.branch_pool(F.max_pool2d(x, 3, stride=1, padding=1))
        else:
            branch_pool = _avg_pool_branch(self.branch_pool, x)
        return mg.cat([self.branch1x1(x), branch3x3, branch3x3dbl, branch_pool], dim=1)

    def extra_repr(self):
        return f"pool={self.pool!r}"


class FIDInceptionV3(nn.Module):
    """pytorch-fid's Inception-v3: (N, 3, H, W) images in [0, 1] -> (pool3 (N, 2048), logits
    (N, 1008)); see the module docstring for the layers.

    Args:
        resize_input: resize to 299x299 first (bilinear, align_corners=False), as pytorch-fid.
        normalize_input: map [0, 1] to [-1, 1] (2 x - 1), as pytorch-fid.

    The weights start untrained (minigan's default init); ``load_fid_inception`` loads the real
    ones.
    """

    def __init__(self, resize_input=True, normalize_input=True):
        super().__init__()
        self.resize_input, self.normalize_input = resize_input, normalize_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        check_image_input(x, 3, "FIDInceptionV3", minimum=1 if self.resize_input else MIN_SIZE,
                          note="without resize_input, Mixed_7a needs sides of at least 75")
        if self.resize_input and tuple(x.shape[2:]) != (INPUT_SIZE, INPUT_SIZE):
            # (N, 3, H, W) -> (N, 3, 299, 299); at 299 torch's resize is the identity, so skipped
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                              align_corners=False)
        if self.normalize_input:
            x = 2 * x - 1
        x = self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))            # (N, 32, 147, 147) at 299
        x = self.maxpool1(self.Conv2d_2b_3x3(x))                 # (N, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))            # (N, 192, 71, 71)
        x = self.maxpool2(x)                                     # (N, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))       # (N, 288, 35, 35)
        x = self.Mixed_6a(x)                                     # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))       # (N, 2048, 8, 8)
        pool3 = self.avgpool(x).flatten(1)                       # (N, 2048, 1, 1) -> (N, 2048)
        # torchvision drops out before it flattens; dropout is elementwise, so either order
        return pool3, self.fc(self.dropout(pool3))


# ---------------------------------------------------------------- weights
def default_weights_path():
    """``$MINIGAN_INCEPTION_WEIGHTS`` if set, else ``~/.cache/minigan/pt_inception-....safetensors``
    (DEFAULT_WEIGHTS)."""
    return os.path.expanduser(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS)


def _how_to_get(path):
    return (f"download {WEIGHTS_URL} and convert it once (needs torch): python -m minigan.convert "
            f"pt_inception-2015-12-05-6726825d.pth {path}")


def _check_keys(state, model, path):
    """Raise one clear line unless ``state`` has the model's keys and shapes (num_batches_tracked,
    unused in eval, may be absent or extra)."""
    def counted(key):
        return not key.endswith(".num_batches_tracked")

    own = {k: tuple(v.shape) for k, v in model.state_dict().items() if counted(k)}
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own and counted(k))
    wrong = [f"{k} is {tuple(state[k].shape)}, expected {own[k]}" for k in sorted(own)
             if k in state and tuple(state[k].shape) != own[k]]
    problems = ([f"{len(missing)} keys missing (e.g. {missing[0]!r})"] if missing else []) + \
        ([f"{len(unexpected)} unexpected (e.g. {unexpected[0]!r})"] if unexpected else []) + \
        ([f"{len(wrong)} of other shapes (e.g. {wrong[0]})"] if wrong else [])
    if not problems:
        return
    fc = state.get("fc.weight")
    imagenet = "AuxLogits.fc.weight" in state or (fc is not None and fc.shape[0] == 1000)
    hint = " (torchvision's ImageNet Inception, not the FID one?)" if imagenet else ""
    raise ValueError(f"load_fid_inception: {path!r} does not hold pytorch-fid's Inception "
                     f"weights{hint}: {'; '.join(problems)}; {_how_to_get(path)}")


def load_fid_inception(path=None, device="cpu"):
    """pytorch-fid's Inception-v3 with its weights, in eval mode, parameters frozen.

    Args:
        path: a safetensors file from ``python -m minigan.convert pt_inception-...pth OUT`` or
            ``mg.save(state_dict)``. None: ``$MINIGAN_INCEPTION_WEIGHTS``, then
            ``~/.cache/minigan/pt_inception-2015-12-05-6726825d.safetensors``.
        device: "cpu", "cuda" or "auto".

    Raises FileNotFoundError (no file) or ValueError (a .pth, an unreadable file, other keys or
    shapes), one line each, saying where the weights are and how to convert them.

        >>> net = load_fid_inception("pt_inception.safetensors")
        >>> with mg.no_grad():
        ...     pool3, logits = net(images)                # (N, 2048), (N, 1008)
    """
    where = "" if path is not None else f" (from ${WEIGHTS_ENV}, else the default path)"
    path = default_weights_path() if path is None else os.path.expanduser(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_fid_inception: no Inception weights at {path!r}{where}; "
                                f"{_how_to_get(path)}")
    if path.endswith((".pth", ".pt")):
        out = os.path.splitext(path)[0] + ".safetensors"
        raise ValueError(f"load_fid_inception: {path!r} is a PyTorch file, which minigan never "
                         f"unpickles; convert it once (needs torch): python -m minigan.convert "
                         f"{path} {out}")
    try:
        state = mg.load(path)
    except CheckpointError as e:
        raise ValueError(f"load_fid_inception: {path!r} cannot be read as safetensors weights "
                         f"({str(e).splitlines()[0]}); {_how_to_get(path)}") from None
    if not isinstance(state, dict):
        raise ValueError(f"load_fid_inception: {path!r} holds a {type(state).__name__}, not a "
                         f"state dict; {_how_to_get(path)}")
    model = FIDInceptionV3()
    _check_keys(state, model, path)
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return model.to(device).eval().requires_grad_(False)
