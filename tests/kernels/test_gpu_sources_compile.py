"""Every GPU kernel source compiles with nvcc (a CPU test: no GPU or CuPy needed, skipped without nvcc).

Raw kernels compile as written, for float and double. Elementwise and reduction bodies are wrapped in a
small generated __global__ function that declares each parameter the way CuPy does (the element at the
current index for plain arrays, a pointer for `raw` ones, `T` declared inside the kernel after the
preamble), so a typo, a wrong type or an unknown helper in any kernel fails here. Everything goes into
one translation unit and one `nvcc -ptx` call. What this cannot check is how CuPy itself calls them:
that is tests/kernels/test_gpu.py, on a GPU.
"""
import re
import shutil
import subprocess

import pytest

from minigan.kernels import gpu_sources as src

NVCC = shutil.which("nvcc")
C_TYPES = {"int32": "int", "int64": "long long", "uint32": "unsigned int", "float32": "float",
           "float64": "double", "bool": "bool"}


def _params(spec, ctype):
    """[(is_raw, c type, name)] of a CuPy parameter list such as 'raw T x, int32 H, T y'."""
    out = []
    for part in spec.split(","):
        words = part.split()
        is_raw = words[0] == "raw"
        type_name, name = words[-2], words[-1]
        out.append((is_raw, ctype if type_name == "T" else C_TYPES[type_name], name))
    return out


def _elementwise_unit(name, spec, ctype):
    ins, outs = _params(spec.in_params, ctype), _params(spec.out_params, ctype)
    args = [f"const {t}* {n}" if raw else f"const {t}* {n}_arr" for raw, t, n in ins]
    args += [f"{t}* {n}_arr" for _, t, n in outs]
    decls = [f"const {t} {n} = {n}_arr[i];" for raw, t, n in ins if not raw]
    decls += [f"{t}& {n} = {n}_arr[i];" for _, t, n in outs]
    return f"""
namespace ew_{name}_{ctype} {{
{spec.preamble}
extern "C" __global__ void check_{name}_{ctype}({", ".join(args)}, long long n)
{{
    typedef {ctype} T;
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    {" ".join(decls)}
    {spec.body};
}}
}}
"""


def _reduction_unit(name, spec, reduction, ctype):
    ins, outs = _params(spec.in_params, ctype), _params(spec.out_params, ctype)
    args = [f"const {t}* {n}_arr" for _, t, n in ins] + [f"{t}* {n}_arr" for _, t, n in outs]
    loads = " ".join(f"const {t} {n} = {n}_arr[i];" for _, t, n in ins)
    outs_decl = " ".join(f"{t}& {n} = {n}_arr[0];" for _, t, n in outs)
    return f"""
namespace red_{name}_{reduction}_{ctype} {{
{spec.preamble}
struct Indexer {{ long long n; __device__ long long size() const {{ return n; }} }};
extern "C" __global__ void check_{name}_{reduction}_{ctype}({", ".join(args)}, long long n)
{{
    typedef {ctype} T;
    typedef {spec.reduce_type} _type_reduce;
    const Indexer _in_ind = {{n}}, _out_ind = {{1}};
    _type_reduce a = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {{
        {loads}
        const _type_reduce b = ({spec.map_expr});
        a = a + b;
    }}
    (void)_in_ind;
    (void)_out_ind;
    {outs_decl}
    {spec.post_map[reduction]};
}}
}}
"""


def translation_unit():
    """One CUDA file holding every kernel, each in its own namespace."""
    units = []
    for ctype in src.CTYPES.values():
        units += [f"namespace raw_{k}_{ctype} {{\n{src.raw_source(k, ctype)}\n}}" for k in src.RAW]
        units += [_elementwise_unit(k, spec, ctype) for k, spec in src.ELEMENTWISE.items()]
        units += [_reduction_unit(k, spec, r, ctype) for k, spec in src.REDUCTION.items() for r in spec.post_map]
    return "\n".join(units)


def test_param_parser():
    assert _params("raw T x, int32 H, T y", "float") == [(True, "float", "x"), (False, "int", "H"),
                                                          (False, "float", "y")]


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
def test_every_gpu_kernel_compiles_with_nvcc(tmp_path):
    code = translation_unit()
    (tmp_path / "kernels.cu").write_text(code)
    result = subprocess.run([NVCC, "-ptx", "-std=c++17", "kernels.cu", "-o", "kernels.ptx"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"nvcc failed:\n{result.stderr}"
    assert "warning" not in result.stderr, f"nvcc warned:\n{result.stderr}"
    ptx = (tmp_path / "kernels.ptx").read_text()
    for kernel in src.RAW:                  # every raw kernel name exists, unmangled, for CuPy to find
        for ctype in src.CTYPES.values():
            assert re.search(rf"\.entry\s+{src.kernel_name(kernel, ctype)}\(", ptx), kernel


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
def test_a_broken_kernel_fails_to_compile(tmp_path):
    """The check can fail: an undefined name in a body is reported by nvcc."""
    broken = src.Elementwise("T x", "T y", "y = x * undefined_slope", "")
    (tmp_path / "bad.cu").write_text(_elementwise_unit("bad", broken, "float"))
    result = subprocess.run([NVCC, "-ptx", "bad.cu", "-o", "bad.ptx"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode != 0 and "undefined_slope" in result.stderr
