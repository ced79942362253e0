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
    """Sizes that work next to the ones given: the multiples of ``multiple`` around each side
    (the minimum only when a side is below it), then whole sizes: "48, 52, 64, 68 (e.g. 48x64
    or 52x68)" for 50x66 with multiple 4."""
    def around(side):
        below = max(side // multiple * multiple, -(-minimum // multiple) * multiple)
        above = max(-(-side // multiple) * multiple, below)
        return below, above

    near = sorted({n for side in sides for n in around(side)})
    (h_lo, h_hi), (w_lo, w_hi) = around(sides[0]), around(sides[-1])
    whole = f"{h_lo}x{w_lo}" if (h_lo, w_lo) == (h_hi, w_hi) else \
        f"{h_lo}x{w_lo} or {h_hi}x{w_hi}"
    return f"{', '.join(str(n) for n in near)} (e.g. {whole})"


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
    if not any(s % multiple or s < minimum for s in (height, width)):
        return
    why = f" ({note})" if note else ""
    if multiple == 1:
        rule = f"height and width must be at least {minimum}"
    else:
        rule = (f"height and width must be multiples of {multiple}, at least {minimum}; sizes "
                f"that work near yours: {_nearest((height, width), multiple, minimum)}")
    raise ValueError(f"{model} cannot take {height}x{width} images{why}: {rule}")
