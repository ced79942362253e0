"""Inception-v3 (the FID network) forward pass on the CPU: minigan vs pytorch-fid, each in its own process.

What the metrics spend their time on: the 2048-d pool3 features and the 1008 logits of a batch of
299x299 images (minigan.models.inception.FIDInceptionV3 against pytorch-fid's InceptionV3, the network
pytorch-fid and torch-fidelity compute FID with).

Method:
- This process imports neither framework. The minigan worker runs first: it draws random weights (He
  normal for the convolutions, so activations keep their scale through the 94 layers and nothing falls
  into denormals) and writes them to a safetensors file, which the torch worker loads into pytorch-fid's
  network. Neither worker imports the other framework (each one checks), since either library can
  change the other's threading.
- The images are random uint8 299x299 RGB, the same in both workers (one seed), fed as float [0, 1] the
  way pytorch-fid's loader does; both networks resize to 299 (bilinear) and scale to [-1, 1] inside.
- Batches of --batch-size (pytorch-fid's default is 50) under no_grad / eval. One untimed batch first,
  then every batch of --images is timed: the table gives the median ms per batch, images per second and
  the time that rate gives for 10,000 images (pass --images 10000 to time all of them).
- Both OPENBLAS_CORETYPE settings (unset, and Haswell, which these machines set and which halves numpy's
  sgemm; torch's oneDNN does not use OpenBLAS).
- check: the largest difference of the two frameworks' pool3 features on the first batch, relative to
  their largest magnitude.
- Run nothing else on the machine meanwhile.

    python bench/inception.py                      # both settings, 500 images; writes bench/results/inception.md
    python bench/inception.py --images 10000 --setting detected
    python bench/inception.py --quick              # 4 images, 64x64: a smoke test, timings meaningless
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
from harness import SETTINGS, cpu_model, run_isolated_worker  # noqa: E402

TORCHVISION_C_OPS = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def images(count, size, seed=0):
    """(count, 3, size, size) float32 in [0, 1], from uint8 pixels, like pytorch-fid's loader."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 3, size, size), dtype=np.uint8).astype(np.float32) / 255


def random_state(state, seed=1):
    """He-normal convolution weights, fc N(0, 0.01), BN identity-like with a little spread."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, value in state.items():
        shape = value.shape
        if key.endswith("conv.weight"):
            fan_in = int(np.prod(shape[1:]))
            out[key] = rng.normal(0, np.sqrt(2 / fan_in), shape)
        elif key.endswith("bn.weight") or key.endswith("bn.running_var"):
            out[key] = rng.uniform(0.8, 1.2, shape)
        elif key.endswith("bn.bias") or key.endswith("bn.running_mean"):
            out[key] = rng.normal(0, 0.1, shape)
        elif key.startswith("fc."):
            out[key] = rng.normal(0, 0.01, shape)
        else:
            out[key] = np.asarray(value)                    # num_batches_tracked and the like
        out[key] = out[key].astype(np.asarray(value).dtype)
    return out


def minigan_model(weights):
    import minigan as mg
    from minigan.models.inception import FIDInceptionV3
    from safetensors.numpy import save_file
    model = FIDInceptionV3()
    state = random_state({k: np.asarray(v.array) for k, v in model.state_dict().items()})
    save_file(state, str(weights))
    model.load_state_dict(mg.load(str(weights)))
    model.eval()

    def run(x):
        with mg.no_grad():
            return np.asarray(model(mg.tensor(x))[0].array)
    from minigan.kernels.cpu import threading_info
    t = threading_info()
    return run, (f"minigan: Numba {t['numba_threading_layer']} x {t['numba_threads']}, GEMMs "
                 f"{t['gemm_threads']}")


def torch_model(weights):
    import types
    for name in TORCHVISION_C_OPS:       # the index's torchvision is a CUDA build whose C ops can't load
        sys.modules[name] = types.ModuleType(name)          # next to CPU torch; the network is pure Python
    import torch
    from pytorch_fid import inception
    from safetensors.torch import load_file
    inception.load_state_dict_from_url = lambda *a, **k: load_file(str(weights))
    model = inception.InceptionV3([3], resize_input=True, normalize_input=True).eval()

    def run(x):
        with torch.no_grad():
            return model(torch.from_numpy(x))[0].reshape(len(x), -1).numpy()
    return run, f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"


def worker(args):
    build = minigan_model if args.worker == "minigan" else torch_model
    run, info = build(Path(args.weights))
    x = images(args.images, args.size)
    batches = [x[i:i + args.batch_size] for i in range(0, len(x), args.batch_size)]
    first = run(batches[0])                                        # untimed: warms caches and JIT
    times = []
    for batch in batches:
        start = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - start)
    other = "torch" if args.worker == "minigan" else "minigan"
    Path(args.json).write_text(json.dumps({
        "info": info, "batch_ms": 1000 * statistics.median(times), "total_s": sum(times),
        "images": len(x), "batch": args.batch_size, "probe": first[: min(4, len(first))].tolist(),
        "isolated": other not in sys.modules}))


def run_worker(name, args, setting, tmp):
    out = Path(tmp) / f"{name}-{setting}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--json", str(out),
           "--weights", str(Path(tmp) / "weights.safetensors"), "--images", str(args.images),
           "--size", str(args.size), "--batch-size", str(args.batch_size)]
    return run_isolated_worker("bench/inception.py", name, cmd, setting, out)


def row(setting, ours, theirs):
    per_image = {k: r["batch_ms"] / r["batch"] for k, r in (("minigan", ours), ("torch", theirs))}
    a, b = np.asarray(ours["probe"]), np.asarray(theirs["probe"])
    check = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
    return (f"| {SETTINGS[setting] or 'unset'} | {theirs['batch_ms']:.0f} | {ours['batch_ms']:.0f} | "
            f"**{theirs['batch_ms'] / ours['batch_ms']:.2f}** | {1000 / per_image['torch']:.1f} | "
            f"{1000 / per_image['minigan']:.1f} | {per_image['torch'] * 10:.0f} | {per_image['minigan'] * 10:.0f} | "
            f"{check:.1e} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default="both")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=299, help="side of the input images (resized to 299)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(BENCH / "results" / "inception.md"))
    parser.add_argument("--worker", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.images, args.size, args.batch_size = 4, 64, 2
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    lines = ["# Inception-v3 (FID network) forward: minigan vs pytorch-fid on the CPU", ""]
    with tempfile.TemporaryDirectory() as tmp:
        results = [(s, run_worker("minigan", args, s, tmp), run_worker("torch", args, s, tmp)) for s in settings]
    ours, theirs = results[0][1], results[0][2]
    lines += [f"{cpu_model()}. {ours['info']}. {theirs['info']}. Each framework in its own process, the "
              f"other not imported. {ours['images']} images of {args.size}x{args.size} (resized to 299x299 "
              f"inside both networks), batches of {args.batch_size}, under no_grad, random weights."
              + (" QUICK MODE: timings meaningless." if args.quick else ""), "",
              "Median ms per batch; ratio = torch time / minigan time (> 1: minigan faster); 10k images: the "
              "seconds the median rate gives for 10,000 images; check: the largest pool3 difference "
              "between the two, relative to the largest feature.", "",
              "| OPENBLAS_CORETYPE | torch ms/batch | minigan ms/batch | ratio | torch img/s | minigan img/s "
              "| torch s/10k | minigan s/10k | check |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [row(s, o, t) for s, o, t in results]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
