"""A CPU stand-in for CuPy, to run minigan's GPU code path (kernels/gpu.py and the engine on "cuda")
where there is no GPU. Test helper, also a pytest plugin:

    python -m pytest -p cupy_emulator tests/kernels/test_gpu.py     # (tests/kernels on PYTHONPATH)

- The CUDA sources of minigan/kernels/gpu_sources.py are compiled as C++ for the host with g++ and run
  under a small emulation of CUDA's execution model: a block's threads run as a loop, and block_sum's
  result is handed to thread 0 directly; `threaded()` runs a block's threads as std::threads instead,
  with barriers standing in for __syncthreads and warp shuffles, to check block_sum itself.
  Elementwise and reduction bodies run in a loop over the broadcast elements, as CuPy would run them.
- Device arrays are `DeviceArray`, a numpy subclass. Mixing one with a plain numpy array in an operation
  raises TypeError, as CuPy does, and every transfer is counted in `TRANSFERS` (to_host: float(),
  .item(), bool(), asnumpy; to_device: asarray of host data), so a test can count the host round trips
  of a training step.
- The fake kernels are strict where CuPy's behaviour was assumed: raw-kernel int arguments must be
  numpy.int32, pointer arguments C-contiguous arrays of the declared type, grids within CUDA's limits.

What it cannot check: CuPy itself (its argument conversion, compilation with NVRTC, caching), real
parallel execution and races, performance, memory limits.
"""
import contextlib
import ctypes
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from minigan.kernels import gpu_sources as src

TRANSFERS = {"to_host": 0, "to_device": 0}
C_TYPES = {"int32": "int", "int64": "long long", "uint32": "unsigned int", "float32": "float",
           "float64": "double", "bool": "bool"}
NP_OF_C = {c: np.dtype(n) for n, c in C_TYPES.items()}

_PRELUDE = r"""
#include <barrier>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>
using namespace std;

struct emu_dim3 { unsigned x, y, z; };
static thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 blockDim, gridDim;
static std::barrier<>* emu_block_barrier;
static std::vector<std::unique_ptr<std::barrier<>>> emu_warp_barriers;
static double emu_shuffle[1024];
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

inline double __shfl_down_sync(unsigned, double v, int offset)
{
    const int t = threadIdx.x;
    std::barrier<>& warp = *emu_warp_barriers[t >> 5];
    emu_shuffle[t] = v;
    warp.arrive_and_wait();
    const double r = (t & 31) + offset < 32 ? emu_shuffle[t + offset] : v;
    warp.arrive_and_wait();
    return r;
}

// Fast mode (the default): a block's threads run one after another, last thread first, and
// emu_block_sum adds each thread's k-th contribution to a running total that thread 0, running
// last, receives. Exact for kernels whose threads share nothing but block_sum's result in thread 0.
// Threaded mode (emu_set_threaded(1)) runs block_sum itself, with real barriers and shuffles.
static bool emu_threaded = false;
static std::vector<double> emu_totals;
static int emu_calls[1024];
extern "C" void emu_set_threaded(int on) { emu_threaded = on != 0; }

inline double emu_block_sum(double v, double (*block_sum)(double))
{
    if (emu_threaded)
        return block_sum(v);
    const int k = emu_calls[threadIdx.x]++;
    if ((int)emu_totals.size() <= k)
        emu_totals.resize(k + 1, 0.0);
    emu_totals[k] += v;
    return threadIdx.x == 0 ? emu_totals[k] : 0.0;
}

template <typename... P, typename... A>
void emu_launch(void (*kernel)(P...), bool syncs, int gx, int gy, int bx, A... args)
{
    gridDim = {(unsigned)gx, (unsigned)gy, 1u};
    blockDim = {(unsigned)bx, 1u, 1u};
    if (!(syncs && emu_threaded)) {
        for (int by_ = 0; by_ < gy; ++by_)
            for (int bx_ = 0; bx_ < gx; ++bx_) {
                emu_totals.assign(emu_totals.size(), 0.0);
                for (int t = 0; t < bx; ++t)
                    emu_calls[t] = 0;
                for (int t = bx - 1; t >= 0; --t) {
                    blockIdx = {(unsigned)bx_, (unsigned)by_, 0u};
                    threadIdx = {(unsigned)t, 0u, 0u};
                    kernel(args...);
                }
            }
        return;
    }
    // bx threads play every block in turn; a barrier after each block keeps blocks apart
    std::barrier<> block(bx);
    emu_block_barrier = &block;
    emu_warp_barriers.clear();
    for (int w = 0; w < bx / 32; ++w)
        emu_warp_barriers.emplace_back(std::make_unique<std::barrier<>>(32));
    std::vector<std::thread> threads;
    for (int t = 0; t < bx; ++t)
        threads.emplace_back([=, &block] {
            threadIdx = {(unsigned)t, 0u, 0u};
            for (int by_ = 0; by_ < gy; ++by_)
                for (int bx_ = 0; bx_ < gx; ++bx_) {
                    blockIdx = {(unsigned)bx_, (unsigned)by_, 0u};
                    kernel(args...);
                    block.arrive_and_wait();
                }
        });
    for (auto& th : threads)
        th.join();
}
"""


def params(spec, ctype):
    """[(is_raw, c type, name)] of a CuPy parameter list such as 'raw T x, int32 H, T y'."""
    out = []
    for part in spec.split(","):
        words = part.split()
        out.append((words[0] == "raw", ctype if words[-2] == "T" else C_TYPES[words[-2]], words[-1]))
    return out


def raw_params(kernel, ctype):
    """[(declaration with T resolved, name)] of RAW[kernel]'s parameters."""
    source = src.raw_source(kernel, ctype)
    match = re.search(rf"void {src.kernel_name(kernel, ctype)}\((.*?)\)\s*\{{", source, re.S)
    decls = [" ".join(d.replace("__restrict__", "").split()) for d in match.group(1).split(",")]
    return [(re.sub(r"\bT\b", ctype, d), re.split(r"[\s*]+", d)[-1]) for d in decls]


def _raw_unit(kernel, ctype):
    name = src.kernel_name(kernel, ctype)
    decls = raw_params(kernel, ctype)
    syncs = "__syncthreads" in src.RAW[kernel] or "block_sum" in src.RAW[kernel]
    source, body = src.raw_source(kernel, ctype), src.raw_body(kernel, ctype)
    head = source[:-len(body)]                                         # the typedef and block_sum
    body = body.replace("block_sum(", "emu_block_sum_(")
    return f"""
namespace raw_{kernel}_{ctype} {{
{head}
inline double emu_block_sum_(double v) {{ return emu_block_sum(v, block_sum); }}
{body}
}}
extern "C" void launch_{name}(int gx, int gy, int bx, {", ".join(d for d, _ in decls)})
{{
    emu_launch(raw_{kernel}_{ctype}::{name}, {"true" if syncs else "false"}, gx, gy, bx,
               {", ".join(n for _, n in decls)});
}}
"""


def _elementwise_unit(kernel, spec, ctype):
    ins, outs = params(spec.in_params, ctype), params(spec.out_params, ctype)
    args = [f"const {t}* {n}" if raw else f"const {t}* {n}_arr" for raw, t, n in ins]
    args += [f"{t}* {n}_arr" for _, t, n in outs]
    decls = [f"const {t} {n} = {n}_arr[i];" for raw, t, n in ins if not raw]
    decls += [f"{t}& {n} = {n}_arr[i];" for _, t, n in outs]
    return f"""
namespace ew_{kernel}_{ctype} {{
{spec.preamble}
extern "C" void run_ew_{kernel}_{ctype}({", ".join(args)}, long long n)
{{
    typedef {ctype} T;
    for (long long i = 0; i < n; ++i) {{
        {" ".join(decls)}
        {spec.body};
    }}
}}
}}
"""


def _reduction_unit(kernel, spec, reduction, ctype):
    ins, outs = params(spec.in_params, ctype), params(spec.out_params, ctype)
    args = [f"const {t}* {n}_arr" for _, t, n in ins] + [f"{t}* {n}_arr" for _, t, n in outs]
    return f"""
namespace red_{kernel}_{reduction}_{ctype} {{
{spec.preamble}
struct Indexer {{ long long n; long long size() const {{ return n; }} }};
extern "C" void run_red_{kernel}_{reduction}_{ctype}({", ".join(args)}, long long n)
{{
    typedef {ctype} T;
    typedef {spec.reduce_type} _type_reduce;
    const Indexer _in_ind = {{n}};
    _type_reduce a = 0;
    for (long long i = 0; i < n; ++i) {{
        {" ".join(f"const {t} {n} = {n}_arr[i];" for _, t, n in ins)}
        const _type_reduce b = ({spec.map_expr});
        a = a + b;
    }}
    {" ".join(f"{t}& {n} = {n}_arr[0];" for _, t, n in outs)}
    {spec.post_map[reduction]};
}}
}}
"""


def host_source():
    units = [_PRELUDE]
    for ctype in src.CTYPES.values():
        units += [_raw_unit(k, ctype) for k in src.RAW]
        units += [_elementwise_unit(k, spec, ctype) for k, spec in src.ELEMENTWISE.items()]
        units += [_reduction_unit(k, spec, r, ctype) for k, spec in src.REDUCTION.items() for r in spec.post_map]
    return "\n".join(units)


def build_library():
    """Compile host_source() into a shared library (cached by content in the temp directory)."""
    code = host_source()
    path = Path(tempfile.gettempdir()) / f"minigan_cuda_emu_{hashlib.sha1(code.encode()).hexdigest()[:16]}.so"
    if not path.exists():
        gxx = shutil.which("g++")
        if gxx is None:
            raise RuntimeError("the CuPy emulator needs g++")
        cu = path.with_suffix(".cpp")
        cu.write_text(code)
        tmp = path.with_suffix(".tmp.so")
        subprocess.run([gxx, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", str(cu), "-o", str(tmp)],
                       check=True, capture_output=True, text=True)
        tmp.rename(path)
    return ctypes.CDLL(str(path))


# ------------------------------------------------------------------------------------ device arrays

class _Device:
    id = 0

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_DEVICE = _Device()


def _host_operand(a):
    return isinstance(a, np.ndarray) and not isinstance(a, DeviceArray)


def _to_host_view(a):
    return a.view(np.ndarray) if isinstance(a, DeviceArray) else a


def _wrap(result, scalars=False):
    """Results as device arrays: host ndarrays (and numpy scalars, when `scalars`) become DeviceArrays."""
    if isinstance(result, (tuple, list)):
        return type(result)(_wrap(r, scalars) for r in result)
    if isinstance(result, np.ndarray) and not isinstance(result, DeviceArray):
        return result.view(DeviceArray)
    if scalars and isinstance(result, np.generic):
        return np.asarray(result).view(DeviceArray)
    return result


class DeviceArray(np.ndarray):
    """A numpy array that plays a CuPy array: device-only arithmetic, counted transfers."""

    device = property(lambda self: _DEVICE)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out", ())
        for a in inputs + tuple(out):
            if _host_operand(a):
                raise TypeError(f"Unsupported type {type(a)}: a host array mixed with device arrays in "
                                f"{ufunc.__name__}")
        inputs = tuple(_to_host_view(a) for a in inputs)
        if out:
            kwargs["out"] = tuple(_to_host_view(a) for a in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return None if method == "at" else _wrap(result, scalars=True)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(super().__array_function__(func, types_, args, kwargs))

    def __getitem__(self, index):
        return _wrap(super().__getitem__(_device_index(index)), scalars=True)

    def __setitem__(self, index, value):
        if _host_operand(value):
            raise TypeError("Unsupported type: a host array assigned into a device array")
        super().__setitem__(_device_index(index), value)

    def _to_host(self):
        TRANSFERS["to_host"] += 1
        return np.array(self.view(np.ndarray))

    def item(self, *args):
        return self._to_host().item(*args)

    def tolist(self):
        return self._to_host().tolist()

    def get(self):
        return self._to_host()

    def __float__(self):
        return float(self._to_host())

    def __int__(self):
        return int(self._to_host())

    def __bool__(self):
        return bool(self._to_host())

    def __index__(self):
        return self._to_host().__index__()

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _device_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    if any(_host_operand(p) for p in parts):
        raise TypeError("a host numpy array used to index a device array")
    return index


# --------------------------------------------------------------------------------------- fake kernels

def _ctypes_arg(value, decl):
    if "*" in decl:
        if not isinstance(value, DeviceArray):
            raise TypeError(f"raw kernel argument {decl!r}: expected a device array, got {type(value)}")
        if not value.flags.c_contiguous:
            raise ValueError(f"raw kernel argument {decl!r}: the array is not C-contiguous")
        want = "float64" if "double" in decl else "float32"
        if value.size and value.dtype != want:
            raise TypeError(f"raw kernel argument {decl!r}: got a {value.dtype} array")
        return ctypes.c_void_p(value.ctypes.data)
    if "double" in decl:
        if not isinstance(value, (float, np.float64)):
            raise TypeError(f"raw kernel argument {decl!r}: expected a float, got {type(value)}")
        return ctypes.c_double(value)
    if not isinstance(value, np.int32):
        raise TypeError(f"raw kernel argument {decl!r}: expected numpy.int32, got {type(value)}")
    return ctypes.c_int(int(value))


class RawKernel:
    def __init__(self, code, name):
        kernel, ctype = re.fullmatch(r"minigan_(\w+)_(float|double)", name).groups()
        assert code == src.raw_source(kernel, ctype), "source differs from gpu_sources"
        self.decls = [d for d, _ in raw_params(kernel, ctype)]
        self.fn = getattr(_LIB, f"launch_{name}")

    def __call__(self, grid, block, args):
        grid = tuple(grid) + (1,) * (2 - len(grid))
        if not (1 <= grid[0] < 2 ** 31 and 1 <= grid[1] <= 65535 and 32 <= block[0] <= 1024 and block[0] % 32 == 0):
            raise ValueError(f"invalid launch configuration grid={grid}, block={block}")
        if len(args) != len(self.decls):
            raise TypeError(f"expected {len(self.decls)} arguments, got {len(args)}")
        self.fn(ctypes.c_int(grid[0]), ctypes.c_int(grid[1]), ctypes.c_int(block[0]),
                *[_ctypes_arg(a, d) for a, d in zip(args, self.decls)])


def _kernel_dtype(ins, values):
    dtypes = {v.dtype for (_, t, _), v in zip(ins, values) if t == "T" and isinstance(v, DeviceArray)}
    if len(dtypes) != 1:
        raise TypeError(f"Type is mismatched: T bound to {sorted(map(str, dtypes))}")
    return dtypes.pop()


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name, preamble=""):
        self.kernel = name.removeprefix("minigan_")
        spec = src.ELEMENTWISE[self.kernel]
        assert (in_params, out_params, operation, preamble) == tuple(spec)
        self.ins, self.outs = params(in_params, "T"), params(out_params, "T")

    def __call__(self, *args):
        values, outs = args[:len(self.ins)], args[len(self.ins):]
        if _host_operand_in(args):
            raise TypeError("Unsupported type: a host array passed to an ElementwiseKernel")
        dtype = _kernel_dtype(self.ins + self.outs, list(values) + list(outs))
        shapes = [v.shape for (raw, _, _), v in zip(self.ins, values) if not raw and isinstance(v, np.ndarray)]
        shapes += [o.shape for o in outs]
        shape = np.broadcast_shapes(*shapes)
        if outs and any(o.shape != shape or o.dtype != dtype or not o.flags.c_contiguous for o in outs):
            raise ValueError("output arrays must be C-contiguous, of the broadcast shape and of type T")
        outs = outs or tuple(np.empty(shape, dtype).view(DeviceArray) for _ in self.outs)
        c_args, keep = [], []                                          # keep: arrays alive until the call
        for (raw, t, _), v in zip(self.ins, values):
            if raw:
                if not v.flags.c_contiguous:
                    raise ValueError("the emulator expects raw arrays to be C-contiguous")
                keep.append(v)
            else:
                kind = dtype if t == "T" else NP_OF_C[t]
                keep.append(np.ascontiguousarray(np.broadcast_to(np.asarray(_to_host_view(v), dtype=kind), shape)))
            c_args.append(ctypes.c_void_p(keep[-1].ctypes.data))
        fn = getattr(_LIB, f"run_ew_{self.kernel}_{src.CTYPES[dtype.name]}")
        fn(*c_args, *[ctypes.c_void_p(o.ctypes.data) for o in outs], ctypes.c_longlong(int(np.prod(shape))))
        return outs[0] if len(outs) == 1 else outs


def _host_operand_in(args):
    return any(_host_operand(a) for a in args)


class ReductionKernel:
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
                 reduce_type=None, preamble=""):
        self.kernel, self.reduction = re.fullmatch(r"minigan_(\w+)_(sum|mean)", name).groups()
        spec = src.REDUCTION[self.kernel]
        assert (in_params, map_expr, post_map_expr, reduce_type) == \
            (spec.in_params, spec.map_expr, spec.post_map[self.reduction], spec.reduce_type)
        assert (reduce_expr, identity) == ("a + b", "0")
        self.ins = params(in_params, "T")

    def __call__(self, *args):
        if _host_operand_in(args):
            raise TypeError("Unsupported type: a host array passed to a ReductionKernel")
        dtype = _kernel_dtype(self.ins, args)
        shape = np.broadcast_shapes(*[a.shape for a in args])
        arrays = [np.ascontiguousarray(np.broadcast_to(_to_host_view(a).astype(dtype), shape)) for a in args]
        out = np.empty((), dtype).view(DeviceArray)
        fn = getattr(_LIB, f"run_red_{self.kernel}_{self.reduction}_{src.CTYPES[dtype.name]}")
        fn(*[ctypes.c_void_p(a.ctypes.data) for a in arrays], ctypes.c_void_p(out.ctypes.data),
           ctypes.c_longlong(int(np.prod(shape))))
        return out


# ------------------------------------------------------------------------------------------ the module

def _asarray(a, dtype=None, order=None):
    if isinstance(a, DeviceArray):
        return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
    TRANSFERS["to_device"] += 1
    return np.array(a, dtype=dtype).view(DeviceArray)


def _asnumpy(a):
    return a._to_host() if isinstance(a, DeviceArray) else np.asarray(a)


def _ascontiguousarray(a, dtype=None):
    if not isinstance(a, DeviceArray):
        raise TypeError(f"ascontiguousarray: expected a device array, got {type(a)}")
    return np.ascontiguousarray(a, dtype=dtype).view(DeviceArray)


class _Philox4x3210:
    """cupy.random.Philox4x3210's stand-in: NumPy's Philox (other numbers than cuRAND's, same role)."""

    def __init__(self, seed=None):
        self.rng = np.random.Generator(np.random.Philox(seed))


class _Generator:
    """cupy.random.Generator's stand-in: draws land on the device without a counted transfer."""

    def __init__(self, bit_generator):
        self.bit_generator = bit_generator

    def random(self, size=None, dtype=np.float64):
        return np.asarray(self.bit_generator.rng.random(size, dtype=dtype)).view(DeviceArray)


def _numpy_fallback(name):
    f = getattr(np, name)
    if isinstance(f, np.ufunc) or not callable(f) or isinstance(f, type):
        return f

    def call(*args, **kwargs):
        data = args[0] if args else None                    # the array argument(s); metadata may be host
        if any(_host_operand(a) for a in (data if isinstance(data, (list, tuple)) else (data,))):
            raise TypeError(f"cupy.{name}: Unsupported type numpy.ndarray")
        return _wrap(f(*args, **kwargs))
    return call


def make_module():
    """The fake `cupy` module."""
    module = types.ModuleType("cupy_emulated")
    module.ndarray, module.__version__ = DeviceArray, "emulated"
    module.asarray, module.asnumpy, module.ascontiguousarray = _asarray, _asnumpy, _ascontiguousarray
    module.RawKernel, module.ElementwiseKernel, module.ReductionKernel = RawKernel, ElementwiseKernel, ReductionKernel
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                    getDeviceProperties=lambda i: {"multiProcessorCount": 4, "name": b"CuPy emulator"})
    module.cuda = types.SimpleNamespace(Device=lambda i=0: _DEVICE, runtime=runtime)
    module.random = types.SimpleNamespace(Generator=_Generator, Philox4x3210=_Philox4x3210)
    module.__getattr__ = _numpy_fallback
    return module


_LIB = None


@contextlib.contextmanager
def threaded():
    """Run kernels that synchronise with one host thread per GPU thread (checks block_sum itself)."""
    _LIB.emu_set_threaded(1)
    try:
        yield
    finally:
        _LIB.emu_set_threaded(0)


@contextlib.contextmanager
def emulated():
    """install() for the duration of a with-block, then put minigan's backend back as it was."""
    from minigan import backend, kernels
    saved = backend.cp, backend.cupy_available, src.BLOCK, src.MAX_GRID_X, src.MAX_GRID_Y
    real_gpu = sys.modules.pop("minigan.kernels.gpu", None)
    try:
        yield install()
    finally:
        backend.cp, backend.cupy_available, src.BLOCK, src.MAX_GRID_X, src.MAX_GRID_Y = saved
        sys.modules.pop("minigan.kernels.gpu", None)
        kernels.__dict__.pop("gpu", None)
        if real_gpu is not None:
            sys.modules["minigan.kernels.gpu"] = kernels.gpu = real_gpu
        kernels._gpu.cache_clear()


def install():
    """Make minigan see the emulated CuPy (backend.cp); returns the fake module."""
    global _LIB
    from minigan import backend, kernels
    _LIB = _LIB or build_library()
    fake = make_module()
    backend.cp, backend.cupy_available = fake, True
    src.BLOCK = 64                  # two warps per block: cross-warp reductions run, fewer host threads
    src.MAX_GRID_X, src.MAX_GRID_Y = 3, 7   # small grids: every test runs the kernels' loops past the grid
    sys.modules.pop("minigan.kernels.gpu", None)    # re-imported on first use, bound to the fake
    kernels._gpu.cache_clear()
    return fake


def pytest_configure(config):
    """As a pytest plugin (-p cupy_emulator): install before any test module imports minigan's GPU code."""
    install()

