"""The geometry of one convolution, as the conv kernels (cpu/ and gpu.py) take it."""
from typing import NamedTuple


class Geometry(NamedTuple):
    """Kernel (kh, kw), stride (sh, sw), padding (ph, pw), dilation (dh, dw) and the column grid (Ho, Wo):
    the conv's output size, or for a transposed conv its input size. Numba takes it as a tuple of ints."""
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    Ho: int
    Wo: int

    @classmethod
    def of(cls, kernel, stride, padding, dilation, grid):
        """From the (h, w) pairs, as nn.functional passes them."""
        return cls(int(kernel[0]), int(kernel[1]), int(stride[0]), int(stride[1]), int(padding[0]),
                   int(padding[1]), int(dilation[0]), int(dilation[1]), int(grid[0]), int(grid[1]))
