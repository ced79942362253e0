"""CUDA C sources of the GPU kernels in gpu.py, as plain strings (importable without CuPy).

gpu.py compiles them with CuPy; tests/kernels/test_gpu_sources_compile.py compiles every one with
`nvcc -ptx` on machines without a GPU, so a typo fails CI rather than a GPU run. Three kinds:

- RAW: whole `__global__` functions for `cupy.RawKernel`, written for an element type `T` and a kernel
  name `$name`; `raw_source(kernel, ctype)` fills both in (T is float or double).
- ELEMENTWISE: `cupy.ElementwiseKernel` specs. The body sees each non-raw input and output as the
  element at the current index `i`; `raw` arrays are indexed by hand.
- REDUCTION: `cupy.ReductionKernel` specs; `map_expr` gives one element's value, summed in double
  (`reduce_type`), and `post_map` (one per reduction, 'sum' or 'mean') writes the result.

Preambles hold device helpers. CuPy declares the type `T` inside the kernel, after the preamble, so
helpers that need it are templates.
"""
import string
from collections import namedtuple

CTYPES = {"float32": "float", "float64": "double"}
BLOCK = 256                     # threads per block of the raw kernels (a multiple of 32)
MAX_GRID_Y = 65535              # CUDA's limit on gridDim.y; the raw kernels loop past it
MAX_GRID_X = 1 << 20            # blocks of a grid-stride loop (enough to fill any GPU)

Elementwise = namedtuple("Elementwise", "in_params out_params body preamble")
Reduction = namedtuple("Reduction", "in_params out_params map_expr post_map reduce_type preamble")


def kernel_name(kernel, ctype):
    """The CUDA name of a raw kernel instance, e.g. minigan_im2col_float (named for profilers)."""
    return f"minigan_{kernel}_{ctype}"


def raw_body(kernel, ctype):
    """RAW[kernel] with its name filled in for element type `ctype`."""
    return string.Template(RAW[kernel]).substitute(name=kernel_name(kernel, ctype))


def raw_source(kernel, ctype):
    """Complete CUDA source of RAW[kernel] for element type `ctype` ("float" or "double")."""
    return f"typedef {ctype} T;\n{_BLOCK_SUM}\n{raw_body(kernel, ctype)}"


# ------------------------------------------------------------------------------------- raw kernels

_BLOCK_SUM = r"""
// Sum of v over the whole block; the result is valid in thread 0. blockDim.x is a multiple of 32.
__device__ double block_sum(double v)
{
    __shared__ double warp_sums[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    v = threadIdx.x < (blockDim.x >> 5) ? warp_sums[threadIdx.x] : 0.0;
    if (warp == 0)
        for (int offset = 16; offset > 0; offset >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, offset);
    __syncthreads();                                  // warp_sums may be reused by the next call
    return v;
}
"""

RAW = {}

# cols (C*kh*kw, N*Ho*Wo); cols[(c, i, j), (n, ho, wo)] = x[n, c, ho*sh - ph + i*dh, wo*sw - pw + j*dw],
# zero outside x. Grid: x over the N*Ho*Wo columns, y over the rows (looping past MAX_GRID_Y).
RAW["im2col"] = r"""
extern "C" __global__ void $name(
    const T* __restrict__ x, T* __restrict__ cols, int N, int C, int H, int W,
    int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo)
{
    const int L = Ho * Wo, NL = N * L, K = C * kh * kw;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= NL)
        return;
    const int n = col / L, ho = (col % L) / Wo, wo = col % Wo;
    for (int r = blockIdx.y; r < K; r += gridDim.y) {
        const int c = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
        const int h = ho * sh - ph + i * dh, w = wo * sw - pw + j * dw;
        T v = 0;
        if (h >= 0 && h < H && w >= 0 && w < W)
            v = x[((long long)(n * C + c) * H + h) * W + w];
        cols[(long long)r * NL + col] = v;
    }
}
"""

# The adjoint of im2col, as a gather: each pixel x[n, c, h, w] sums the column entries of the taps
# that read it (no atomics, so the result is deterministic), plus bias[c] when has_bias.
# One thread per pixel (a grid-stride loop over all N*C*H*W of them, fewer than 2^31).
RAW["col2im"] = r"""
extern "C" __global__ void $name(
    const T* __restrict__ cols, const T* __restrict__ bias, T* __restrict__ x, int has_bias,
    int N, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
    int Ho, int Wo)
{
    const int HW = H * W, NL = N * Ho * Wo, total = N * C * HW;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int plane = (int)e / HW, p = (int)e - plane * HW;
        const int n = plane / C, c = plane - n * C, h = p / W, w = p - h * W;
        T acc = has_bias ? bias[c] : (T)0;
        for (int i = 0; i < kh; ++i) {
            const int th = h + ph - i * dh;               // = ho * sh for the tap's output row
            if (th < 0 || th % sh != 0 || th / sh >= Ho)
                continue;
            for (int j = 0; j < kw; ++j) {
                const int tw = w + pw - j * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= Wo)
                    continue;
                const long long row = (c * kh + i) * kw + j;
                acc += cols[row * NL + (n * Ho + th / sh) * Wo + tw / sw];
            }
        }
        x[e] = acc;
    }
}
"""

# Per-channel partial sums over a (N, C, L) array, in double. Block (s, c) sums its share
# [M*s/S, M*(s+1)/S) of the channel's M = N*L elements and writes partial[(c*S + s)*2 + {0, 1}].
#   mode 0 (statistics): sum(a - a0), sum((a - a0)^2), a0 = the channel's first element (a shift that
#                        keeps the one-pass variance accurate when |mean| >> std)
#   mode 1 (norm grads): sum(a), sum(a * (b - mean[c]))       (a = gy, b = x)
#   mode 2 (plain sum):  sum(a), 0
# b and mean are not read in modes 0 and 2.
RAW["channel_partial_sums"] = r"""
extern "C" __global__ void $name(
    const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ mean,
    double* __restrict__ partial, int mode, int N, int C, int L)
{
    const int S = gridDim.x, s = blockIdx.x, M = N * L;
    const int start = (int)((long long)M * s / S), stop = (int)((long long)M * (s + 1) / S);
    for (int c = blockIdx.y; c < C; c += gridDim.y) {
        const double shift = mode == 0 ? (double)a[(long long)c * L] : 0.0;
        const double centre = mode == 1 ? (double)mean[c] : 0.0;
        double s0 = 0.0, s1 = 0.0;
        for (int m = start + threadIdx.x; m < stop; m += blockDim.x) {
            const int n = m / L;
            const long long at = ((long long)n * C + c) * L + (m - n * L);
            const double v = (double)a[at];
            if (mode == 0) {
                s0 += v - shift;
                s1 += (v - shift) * (v - shift);
            } else if (mode == 1) {
                s0 += v;
                s1 += v * ((double)b[at] - centre);
            } else {
                s0 += v;
            }
        }
        s0 = block_sum(s0);
        s1 = block_sum(s1);
        if (threadIdx.x == 0) {
            partial[((long long)c * S + s) * 2] = s0;
            partial[((long long)c * S + s) * 2 + 1] = s1;
        }
    }
}
"""

# Mode 0 finish: mean[c] and biased var[c] of a (N, C, L) from its S partial sums per channel.
RAW["channel_stats_finish"] = r"""
extern "C" __global__ void $name(
    const double* __restrict__ partial, const T* __restrict__ a, T* __restrict__ mean,
    T* __restrict__ var, int S, int N, int C, int L)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    double s0 = 0.0, s1 = 0.0;
    for (int s = 0; s < S; ++s) {
        s0 += partial[((long long)c * S + s) * 2];
        s1 += partial[((long long)c * S + s) * 2 + 1];
    }
    const double M = (double)N * L, d = s0 / M;          // d = mean - shift
    mean[c] = (T)((double)a[(long long)c * L] + d);
    var[c] = (T)fmax(s1 / M - d * d, 0.0);
}
"""

# Mode 1 finish for batch norm: gbias = sum gy, gweight = sum gy * xhat, and the coefficients of
# gx = ca * gy + cb * x + cd (training: statistics from this batch; eval: cb = cd = 0).
RAW["norm_backward_finish"] = r"""
extern "C" __global__ void $name(
    const double* __restrict__ partial, const T* __restrict__ mean, const T* __restrict__ invstd,
    const T* __restrict__ weight, T* __restrict__ gweight, T* __restrict__ gbias,
    T* __restrict__ ca, T* __restrict__ cb, T* __restrict__ cd,
    int has_weight, int training, int S, int C, double M)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    double gsum = 0.0, gxsum = 0.0;
    for (int s = 0; s < S; ++s) {
        gsum += partial[((long long)c * S + s) * 2];
        gxsum += partial[((long long)c * S + s) * 2 + 1];
    }
    const double inv = (double)invstd[c];
    const double scale = has_weight ? inv * (double)weight[c] : inv;
    const double gw = gxsum * inv;                              // sum gy * xhat
    double b = 0.0, d = 0.0;
    if (training) {             // gx = scale * (gy - gsum/M - xhat * gw/M), xhat = (x - mean) * inv
        b = -scale * inv * gw / M;
        d = -scale * gsum / M - b * (double)mean[c];
    }
    gweight[c] = (T)gw;
    gbias[c] = (T)gsum;
    ca[c] = (T)scale;
    cb[c] = (T)b;
    cd[c] = (T)d;
}
"""

# Mode 2 finish: out[c] = the channel's sum.
RAW["channel_sum_finish"] = r"""
extern "C" __global__ void $name(const double* __restrict__ partial, T* __restrict__ out, int S, int C)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    double total = 0.0;
    for (int s = 0; s < S; ++s)
        total += partial[((long long)c * S + s) * 2];
    out[c] = (T)total;
}
"""

# Direct convolution for a weight w (O, C, kh, kw) with O <= DIRECT_CHANNELS (gpu.py's direct path):
# no column matrix, each kernel reads the images themselves. The geometry is im2col's: output pixel
# (n, ho, wo) tap (c, i, j) reads x[n, c, ho*sh - ph + i*dh, wo*sw - pw + j*dw], zero outside x.
# - O is a template argument (the kernel switches on it once), so the per-output sums unroll into
#   registers and the loads of several taps are in flight together; taps outside the image are
#   predicated loads of 0. (A first version with a runtime O, a branch around each weight load, took
#   0.45 ms, about 250 cycles a tap, for CycleGAN's 64 -> 3 k7 head on an H200; this one 0.29 ms.)
# - Weights are read from global memory at warp-uniform addresses (one cached load serves the warp):
#   no shared memory, no __syncthreads besides block_sum's.
# - Gradients are named dx, dy in the sources (the emulator's launch wrapper takes gx, gy for the grid).
DIRECT_CHANNELS = 4             # the largest O the direct kernels are instantiated for

# The geometry as one struct for the templates below (filled from the kernels' int arguments).
_DIRECT_GEOMETRY = r"""
struct minigan_geometry { int N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo; };
"""

# y (N, O, Ho, Wo) = conv(x (N, C, H, W), w) + bias[o] when has_bias: one thread per output pixel.
RAW["conv_direct_forward"] = _DIRECT_GEOMETRY + r"""
// y[n, :, ho, wo] for every output pixel e (grid-stride): a thread's NO sums use each input value once
// loaded; neighbouring threads are neighbouring wo, so a warp's loads run along an input row.
template <int NO> __device__ void minigan_direct_forward(
    const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ y,
    int has_bias, const minigan_geometry g)
{
    const int L = g.Ho * g.Wo, total = g.N * L, K = g.C * g.kh * g.kw;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int n = (int)e / L, p = (int)e - n * L, ho = p / g.Wo, wo = p - ho * g.Wo;
        const int w0 = wo * g.sw - g.pw;
        T acc[NO];
#pragma unroll
        for (int o = 0; o < NO; ++o)
            acc[o] = has_bias ? bias[o] : (T)0;
        for (int c = 0; c < g.C; ++c) {
            for (int i = 0; i < g.kh; ++i) {
                const int h = ho * g.sh - g.ph + i * g.dh;
                if (h < 0 || h >= g.H)
                    continue;
                const T* row = x + (((long long)n * g.C + c) * g.H + h) * g.W;
                const T* taps = w + (c * g.kh + i) * g.kw;            // w[o, c, i, j] = taps[o*K + j]
#pragma unroll 4
                for (int j = 0; j < g.kw; ++j) {
                    const int col = w0 + j * g.dw;
                    const T v = col >= 0 && col < g.W ? row[col] : (T)0;
#pragma unroll
                    for (int o = 0; o < NO; ++o)
                        acc[o] += taps[o * K + j] * v;
                }
            }
        }
#pragma unroll
        for (int o = 0; o < NO; ++o)
            y[((long long)n * NO + o) * L + p] = acc[o];
    }
}

extern "C" __global__ void $name(
    const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ y,
    int has_bias, int N, int C, int H, int W, int O,
    int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo)
{
    const minigan_geometry g = {N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo};
    switch (O) {
    case 1: minigan_direct_forward<1>(x, w, bias, y, has_bias, g); break;
    case 2: minigan_direct_forward<2>(x, w, bias, y, has_bias, g); break;
    case 3: minigan_direct_forward<3>(x, w, bias, y, has_bias, g); break;
    default: minigan_direct_forward<4>(x, w, bias, y, has_bias, g); break;
    }
}
"""

# The adjoint of conv_direct_forward, a gather like col2im: dx (N, C, H, W) for dy (N, O, Ho, Wo), one
# thread per input pixel, plus bias[c] when has_bias; no atomics, so deterministic. With x and dy
# swapped it is also conv_transpose2d's forward (gpu.py uses it when C_in <= 4).
RAW["conv_direct_input"] = _DIRECT_GEOMETRY + r"""
// dx[n, c, h, col] for every input pixel e (grid-stride): the sum of dy * w over the (o, i, j) taps
// that read it, plus bias[c]. A tap reads it when h + ph - i*dh = ho*sh with 0 <= ho < Ho (and the
// same along the width); stride 1 needs no division.
template <int NO> __device__ void minigan_direct_input(
    const T* __restrict__ dy, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ dx,
    int has_bias, const minigan_geometry g)
{
    const int HW = g.H * g.W, L = g.Ho * g.Wo, K = g.C * g.kh * g.kw, total = g.N * g.C * HW;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int plane = (int)e / HW, p = (int)e - plane * HW;
        const int n = plane / g.C, c = plane - n * g.C, h = p / g.W, col = p - h * g.W;
        T acc = has_bias ? bias[c] : (T)0;
        for (int i = 0; i < g.kh; ++i) {
            const int th = h + g.ph - i * g.dh;
            const int ho = g.sh == 1 ? th : th / g.sh;
            if (th < 0 || ho >= g.Ho || (g.sh != 1 && ho * g.sh != th))
                continue;
            const T* grad = dy + ((long long)n * NO * g.Ho + ho) * g.Wo;     // dy[n, o, ho, :] = grad + o*L
            const T* taps = w + (c * g.kh + i) * g.kw;                       // w[o, c, i, j] = taps[o*K + j]
#pragma unroll 4
            for (int j = 0; j < g.kw; ++j) {
                const int tw = col + g.pw - j * g.dw;
                const int wo = g.sw == 1 ? tw : tw / g.sw;
                const bool reads = tw >= 0 && wo < g.Wo && (g.sw == 1 || wo * g.sw == tw);
#pragma unroll
                for (int o = 0; o < NO; ++o)
                    acc += (reads ? grad[(long long)o * L + wo] : (T)0) * taps[o * K + j];
            }
        }
        dx[e] = acc;
    }
}

extern "C" __global__ void $name(
    const T* __restrict__ dy, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ dx,
    int has_bias, int N, int C, int H, int W, int O,
    int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo)
{
    const minigan_geometry g = {N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo};
    switch (O) {
    case 1: minigan_direct_input<1>(dy, w, bias, dx, has_bias, g); break;
    case 2: minigan_direct_input<2>(dy, w, bias, dx, has_bias, g); break;
    case 3: minigan_direct_input<3>(dy, w, bias, dx, has_bias, g); break;
    default: minigan_direct_input<4>(dy, w, bias, dx, has_bias, g); break;
    }
}
"""

# gw (O, C, kh, kw) as partial sums in double, partial[s, o, (c, i, j)] (S = gridDim.y shares of the
# pixels), four taps of one kernel row a block. Grid: x over the C*kh*ceil(kw/4) tap groups (a loop
# past gridDim.x), y = S. conv_direct_weight_finish adds the S partials: no atomics, deterministic.
RAW["conv_direct_weight"] = _DIRECT_GEOMETRY + r"""
// Block (grp, s): partial[s, o, (c, i, j)] for the four taps j0..j0+3 of kernel row (c, i), over the
// block's share [M*s/S, M*(s+1)/S) of the M = N*Ho*Wo output pixels. A thread loads a pixel's NO
// gradients once for the four taps (4*NO sums in double, in registers), then 4*NO block_sums.
template <int NO> __device__ void minigan_direct_weight(
    const T* __restrict__ x, const T* __restrict__ dy, double* __restrict__ partial, const minigan_geometry g)
{
    const int L = g.Ho * g.Wo, M = g.N * L, K = g.C * g.kh * g.kw, JG = (g.kw + 3) / 4;
    const int S = gridDim.y, s = blockIdx.y;
    const int start = (int)((long long)M * s / S), stop = (int)((long long)M * (s + 1) / S);
    for (int grp = blockIdx.x; grp < g.C * g.kh * JG; grp += gridDim.x) {
        const int c = grp / (g.kh * JG), i = (grp / JG) % g.kh, j0 = (grp % JG) * 4;
        const int nj = g.kw - j0 < 4 ? g.kw - j0 : 4;
        double acc[NO][4] = {};                                          // [o][j - j0]
        for (int m = start + threadIdx.x; m < stop; m += blockDim.x) {
            const int n = m / L, p = m - n * L, ho = p / g.Wo, wo = p - ho * g.Wo;
            const int h = ho * g.sh - g.ph + i * g.dh;
            if (h < 0 || h >= g.H)
                continue;
            const T* row = x + (((long long)n * g.C + c) * g.H + h) * g.W;
            double grad[NO];
#pragma unroll
            for (int o = 0; o < NO; ++o)
                grad[o] = (double)dy[((long long)n * NO + o) * L + p];
            const int w0 = wo * g.sw - g.pw + j0 * g.dw;
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {
                const int col = w0 + jj * g.dw;
                const double v = jj < nj && col >= 0 && col < g.W ? (double)row[col] : 0.0;
#pragma unroll
                for (int o = 0; o < NO; ++o)
                    acc[o][jj] += grad[o] * v;
            }
        }
#pragma unroll
        for (int o = 0; o < NO; ++o)
#pragma unroll
            for (int jj = 0; jj < 4; ++jj)
                if (jj < nj) {                                           // the same in every thread
                    const double total = block_sum(acc[o][jj]);
                    if (threadIdx.x == 0)
                        partial[((long long)s * NO + o) * K + (c * g.kh + i) * g.kw + j0 + jj] = total;
                }
    }
}

extern "C" __global__ void $name(
    const T* __restrict__ x, const T* __restrict__ dy, double* __restrict__ partial,
    int N, int C, int H, int W, int O,
    int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int Ho, int Wo)
{
    const minigan_geometry g = {N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo};
    switch (O) {
    case 1: minigan_direct_weight<1>(x, dy, partial, g); break;
    case 2: minigan_direct_weight<2>(x, dy, partial, g); break;
    case 3: minigan_direct_weight<3>(x, dy, partial, g); break;
    default: minigan_direct_weight<4>(x, dy, partial, g); break;
    }
}
"""

# gw[e] = sum over s of partial[s, e] (e indexes (O, C, kh, kw)), one thread per weight.
RAW["conv_direct_weight_finish"] = r"""
extern "C" __global__ void $name(const double* __restrict__ partial, T* __restrict__ gw, int S, int size)
{
    const int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= size)
        return;
    double total = 0.0;
    for (int s = 0; s < S; ++s)
        total += partial[(long long)s * size + e];
    gw[e] = (T)total;
}
"""

# -------------------------------------------------------------------------------- elementwise kernels

_LOSS_PREAMBLE = r"""
// Unweighted BCE of probability p against target y, each log clamped at -100 (PyTorch's rule).
template <typename T> __device__ T minigan_bce(T p, T y)
{
    const T log_p = fmax(log(p), (T)-100);
    const T log_q = fmax(log1p(-p), (T)-100);
    return -(y * log_p + ((T)1 - y) * log_q);
}

// BCE on a logit x: (1 - y) x + (1 + (pw - 1) y) softplus(-x), with softplus(-x) computed stably.
template <typename T> __device__ T minigan_bce_logits(T x, T y, T pw)
{
    const T softplus_neg = fmax(-x, (T)0) + log1p(exp(-fabs(x)));
    return ((T)1 - y) * x + ((T)1 + (pw - (T)1) * y) * softplus_neg;
}

// sigmoid(x) without overflow for any x.
template <typename T> __device__ T minigan_sigmoid(T x)
{
    const T e = exp(-fabs(x));
    return x >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
}
"""

_PAD_PREAMBLE = r"""
// Source index of position v (counted from the start of the data) on a reflect-padded axis of size n.
__device__ int minigan_mirror(int v, int n)
{
    v = v < 0 ? -v : v;
    return v > n - 1 ? 2 * (n - 1) - v : v;
}

// The positions p of a padded axis (size before + n + after) that mirror to source index v; returns
// how many (1 to 3) and writes them to out.
__device__ int minigan_mirror_sources(int v, int n, int before, int after, int* out)
{
    int count = 0;
    out[count++] = before + v;                                  // the copy itself
    if (v >= 1 && v <= before)
        out[count++] = before - v;                              // mirrored into the leading pad
    if (v <= n - 2 && v >= n - 1 - after)
        out[count++] = before + 2 * (n - 1) - v;                // mirrored into the trailing pad
    return count;
}
"""

ELEMENTWISE = {
    "leaky_relu_forward": Elementwise(
        "T x, T slope", "T y", "y = x > (T)0 ? x : x * slope", ""),
    "leaky_relu_backward": Elementwise(
        "T gy, T x, T slope", "T gx", "gx = x > (T)0 ? gy : gy * slope", ""),
    # Per-channel arrays arrive as (1, C, 1) views of x (N, C, L), or 0-d ones/zeros for None.
    "norm_apply": Elementwise(
        "T x, T mean, T invstd, T weight, T bias", "T y", "y = (x - mean) * invstd * weight + bias", ""),
    "norm_grad_input": Elementwise(
        "T gy, T x, T ca, T cb, T cd", "T gx", "gx = ca * gy + cb * x + cd", ""),
    # g: the upstream gradient, 0-d for 'mean'/'sum'; scale: 1/n for 'mean', else 1; w: weight or 0-d one.
    "bce_forward": Elementwise(
        "T p, T y, T w", "T loss", "loss = minigan_bce(p, y) * w", _LOSS_PREAMBLE),
    "bce_backward": Elementwise(
        "T g, T p, T y, T w, T scale", "T gp",
        "gp = g * scale * w * (p - y) / fmax(p * ((T)1 - p), (T)1e-12)", _LOSS_PREAMBLE),
    "bce_logits_forward": Elementwise(
        "T x, T y, T w, T pw", "T loss", "loss = minigan_bce_logits(x, y, pw) * w", _LOSS_PREAMBLE),
    "bce_logits_backward": Elementwise(
        "T g, T x, T y, T w, T pw, T scale", "T gx",
        "gx = g * scale * w * (((T)1 + (pw - (T)1) * y) * minigan_sigmoid(x) - pw * y)", _LOSS_PREAMBLE),
    # y (P, Hp, Wp) from x (P, H, W): each padded pixel copies its mirrored source.
    "reflection_pad_forward": Elementwise(
        "raw T x, int32 H, int32 W, int32 Hp, int32 Wp, int32 top, int32 left", "T y",
        """
        const long long row = i / Wp;                            // plane * Hp + padded row
        const long long plane = row / Hp;
        const int r = minigan_mirror((int)(row % Hp) - top, H);
        const int c = minigan_mirror((int)(i % Wp) - left, W);
        y = x[(plane * H + r) * W + c];
        """, _PAD_PREAMBLE),
    # gx (P, H, W) from gy (P, Hp, Wp): each source pixel gathers the padded positions mirroring to it.
    "reflection_pad_backward": Elementwise(
        "raw T gy, int32 H, int32 W, int32 top, int32 bottom, int32 left, int32 right", "T gx",
        """
        const int Hp = H + top + bottom, Wp = W + left + right;
        const long long row = i / W;                             // plane * H + source row
        const long long plane = row / H;
        int rows[3], cols[3];
        const int nr = minigan_mirror_sources((int)(row % H), H, top, bottom, rows);
        const int nc = minigan_mirror_sources((int)(i % W), W, left, right, cols);
        T acc = 0;
        for (int a = 0; a < nr; ++a)
            for (int b = 0; b < nc; ++b)
                acc += gy[(plane * Hp + rows[a]) * Wp + cols[b]];
        gx = acc;
        """, _PAD_PREAMBLE),
}

# ---------------------------------------------------------------------------------- reduction kernels

POST_MAP = {"sum": "total = (T)a", "mean": "total = (T)(a / (double)_in_ind.size())"}

REDUCTION = {
    "bce_reduce": Reduction("T p, T y, T w", "T total", "minigan_bce(p, y) * w", POST_MAP, "double",
                            _LOSS_PREAMBLE),
    "bce_logits_reduce": Reduction("T x, T y, T w, T pw", "T total", "minigan_bce_logits(x, y, pw) * w",
                                   POST_MAP, "double", _LOSS_PREAMBLE),
}
