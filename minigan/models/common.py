"""Pieces the image-to-image models share: the norm choice and input-size checks.

Init is ``nn.init.dcgan_init_`` (the reference's "normal" init: conv weights N(0, 0.02), biases 0,
BatchNorm weights N(1, 0.02))."""
from minigan import nn
from minigan.autograd import Tensor

NORMS = ("batch", "instance", "none")


def check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"norm must be 'batch' or 'instance' (or 'none'), got {norm!r}")
    return norm


def norm_layer(norm, channels):
    """BatchNorm2d (affine, running statistics), InstanceNorm2d (no affine, no running
    statistics) or Identity, as the reference implementation's "batch", "instance", "none"."""
    if check_norm(norm) == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def uses_bias(norm):
    """Convs before a BatchNorm need no bias (its shift replaces it); before an InstanceNorm
    without affine the reference keeps one, and so does a conv with no norm after it."""
    return check_norm(norm) != "batch"


def _nearest(sides, multiple, minimum):
    """Sizes that work next to the ones given: the multiples of ``multiple`` around each side."""
    near = set()
    for side in sides:
        below = side // multiple * multiple
        near.update(n for n in (below, below + multiple) if n >= minimum)
    near.add(-(-minimum // multiple) * multiple)
    return ", ".join(str(n) for n in sorted(near))


def check_image_input(x, channels, model, multiple=1, minimum=1, note=""):
    """Raise a clear error unless ``x`` is (N, channels, H, W) with H, W multiples of ``multiple``
    and at least ``minimum``; the message says which sizes work."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = f"shape {x.shape}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{model}: expected a (N, C, H, W) image batch, got {got}")
    if x.shape[1] != channels:
        raise ValueError(f"{model}: expected {channels} input channels, got {x.shape[1]} "
                         f"(input shape {x.shape})")
    height, width = x.shape[2:]
    bad = [s for s in (height, width) if s % multiple or s < minimum]
    if not bad:
        return
    why = f" ({note})" if note else ""
    if multiple == 1:
        rule = f"height and width must be at least {minimum}"
    else:
        rule = (f"height and width must be multiples of {multiple}, at least {minimum}; sizes "
                f"that work near yours: {_nearest(bad, multiple, minimum)}")
    raise ValueError(f"{model} cannot take {height}x{width} images{why}: {rule}")
