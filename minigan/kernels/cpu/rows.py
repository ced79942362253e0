"""Row helpers shared by the CPU loops: tiny inline functions over 1-D views.

They all index their arguments from 0. Numba cannot vectorise a[i + offset] when the offset might be
negative (it checks for wraparound: negative indices count from the end), so the loops in columns_nchw,
columns_nhwc and direct slice a view that starts where the data starts and loop over that.
"""
from numba import njit


@njit(cache=True, inline="always")
def _valid(n_out, n_in, stride, offset):
    """Range [lo, hi) of output positions o with 0 <= o*stride + offset < n_in."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = (n_in - 1 - offset) // stride + 1 if n_in - 1 - offset >= 0 else 0
    hi = min(hi, n_out)
    return lo, max(hi, lo)


@njit(cache=True, inline="always")
def _taps(row, lo, hi, stride, offset):
    """The view row[o*stride + offset] for o in [lo, hi): indexed from 0, so loops over it vectorise
    (Numba cannot vectorise a[i + offset] when offset might be negative: it checks for wraparound)."""
    return row[lo * stride + offset: (hi - 1) * stride + offset + 1: stride]


@njit(cache=True, inline="always")
def _axpy(dst, a, src):
    for q in range(dst.size):
        dst[q] += a * src[q]


@njit(cache=True, inline="always")
def _add(dst, src):
    for q in range(dst.size):
        dst[q] += src[q]


@njit(cache=True, inline="always")
def _copy(dst, src):
    for q in range(dst.size):
        dst[q] = src[q]


@njit(cache=True, inline="always")
def _dot(a, b):
    """Vectorises where the caller allows reassociation (fastmath): Numba inlines into the caller's flags."""
    s = a[0] * 0            # the arrays' own float type
    for q in range(a.size):
        s += a[q] * b[q]
    return s


@njit(cache=True, inline="always")
def _taps4_axpy(dst, r, d, w0, w1, w2, w3):
    """dst[q] += w0*r[q] + w1*r[q + d] + w2*r[q + 2d] + w3*r[q + 3d]: four taps of a row in one pass."""
    r1, r2, r3 = r[d:], r[2 * d:], r[3 * d:]
    for q in range(dst.size):
        dst[q] += w0 * r[q] + w1 * r1[q] + w2 * r2[q] + w3 * r3[q]


@njit(cache=True, inline="always")
def _taps4_dot(g, r, d):
    """(sum g*r, sum g*r[d:], sum g*r[2d:], sum g*r[3d:]) over len(g); vectorises under caller's fastmath."""
    r1, r2, r3 = r[d:], r[2 * d:], r[3 * d:]
    s0 = s1 = s2 = s3 = g[0] * 0
    for q in range(g.size):
        v = g[q]
        s0 += v * r[q]
        s1 += v * r1[q]
        s2 += v * r2[q]
        s3 += v * r3[q]
    return s0, s1, s2, s3
