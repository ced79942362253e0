"""Conv2d and ConvTranspose2d: torch.nn's constructors, weight layouts, init and state_dict keys.

    >>> import minigan as mg
    >>> from minigan import nn
    >>> down = nn.Conv2d(3, 64, kernel_size=4, stride=2, padding=1)          # 64x64 -> 32x32
    >>> up = nn.ConvTranspose2d(64, 3, kernel_size=4, stride=2, padding=1)   # 32x32 -> 64x64
    >>> up(down(mg.randn(2, 3, 64, 64))).shape
    (2, 3, 64, 64)
"""
from . import functional as F
from . import init
from .module import Module, new_parameter

PADDING_MODES = ("zeros", "reflect")


def _pair(value, name, layer, minimum=0):
    """An int or a 2-sequence of ints (each >= minimum) -> a 2-tuple."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(f"{layer}: {name} must be an int >= {minimum} or a pair of them, got "
                         f"{value!r}")
    return pair


def _check_channels(in_channels, out_channels, groups, layer):
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                         f"must both be divisible by groups ({groups})")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: geometry checks, parameters, init and repr."""
    init_role = "weight"

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, weight_shape, device, dtype):
        super().__init__()
        layer = type(self).__name__
        _check_channels(in_channels, out_channels, groups, layer)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size", layer, minimum=1)
        self.stride = _pair(stride, "stride", layer, minimum=1)
        self.dilation = _pair(dilation, "dilation", layer, minimum=1)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", layer)
        self.output_padding = _pair(output_padding, "output_padding", layer)
        self.padding_mode = padding_mode
        self.weight = new_parameter(weight_shape + self.kernel_size, device, dtype)
        self.register_parameter("bias", new_parameter((out_channels,), device, dtype) if bias
                                else None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's default: kaiming_uniform_(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias."""
        init.default_init_(self.weight, self.bias)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in torch): (N, C_in, H, W) -> (N, C_out, H', W').

    H' = (H + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1, and likewise W'.
    weight (out_channels, in_channels / groups, kh, kw), bias (out_channels,).
    padding: int, pair, "valid" (none) or "same" (output size = input size; stride 1 only).
    padding_mode: "zeros" or "reflect" (mirror the border, as in CycleGAN's generators).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, (out_channels, in_channels // groups),
                         device, dtype)
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride={self.stride}")
        self._pad4 = self._side_padding()  # (left, right, top, bottom)

    def _side_padding(self):
        """Padding of each side as F.pad's (left, right, top, bottom)."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":  # odd total: the extra row/column goes at the end, as in torch
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]  # (h, w)
            return (totals[1] // 2, totals[1] - totals[1] // 2,
                    totals[0] // 2, totals[0] - totals[0] // 2)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def forward(self, input):
        left, right, top, bottom = self._pad4
        if self.padding_mode == "zeros" and left == right and top == bottom:
            return F.conv2d(input, self.weight, self.bias, self.stride, (top, left),
                            self.dilation, self.groups)
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        padded = F.pad(input, self._pad4, mode=mode)
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed convolution (the adjoint of Conv2d): (N, C_in, H, W) -> (N, C_out, H', W').

    H' = (H - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1.
    weight (in_channels, out_channels / groups, kh, kw), bias (out_channels,).
    `forward(input, output_size=None)`: output_size (H', W') (or a full shape) picks the
    output_padding, like torch.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode,
                         (in_channels, out_channels // groups), device, dtype)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                raise ValueError(f"ConvTranspose2d: output_padding must be smaller than stride or "
                                 f"dilation, got output_padding={self.output_padding}, stride="
                                 f"{self.stride}, dilation={self.dilation}")

    def _output_padding(self, input, output_size):
        """The output_padding that makes the spatial output size `output_size`."""
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        result = []
        for dim, want in enumerate(size):
            smallest = ((input.shape[dim + 2] - 1) * self.stride[dim] - 2 * self.padding[dim]
                        + self.dilation[dim] * (self.kernel_size[dim] - 1) + 1)
            if not smallest <= want < smallest + self.stride[dim]:
                raise ValueError(f"ConvTranspose2d: output_size {size} is not reachable from input "
                                 f"{input.shape}: each size must lie in [{smallest}, "
                                 f"{smallest + self.stride[dim] - 1}] for dimension {dim + 2}")
            result.append(want - smallest)
        return tuple(result)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)
