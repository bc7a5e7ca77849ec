"""`make bench`: the engine's speed and memory against the machine's GEMM peak.

Each case runs in its own process (benchmarks/cases.py) on random weights
saved once as a full-size caffemodel under build/bench/, loaded as a user's
would be. The GEMM peak (numpy.matmul of two 4096x4096 float32 matrices,
with BLAS's own threads) is measured before every case; efficiencies are
against the highest peak of the run. With PyTorch installed, the same graph
runs in PyTorch too, for a ratio. Results also go to build/bench/results.json.
"""
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from benchmarks.cases import CASES
from layers.net import Net
from netspec import fcn_models
from weights.caffemodel import save_caffemodel

CACHE = os.path.join("build", "bench")
TARGETS = ("targets: forward >= 0.85 of peak in <= 1200 MB; training >= 0.70 in <= 2850 MB; "
           "start-up <= 1.5 s (MB: 10^6 bytes)")


def gemm_peak(n=4096, runs=3):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    best = float("inf")
    for _ in range(runs + 1):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def weights_file(model):
    """Random full-size weights for a model's deploy net, made once."""
    path = os.path.join(CACHE, f"{model}-random.caffemodel")
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        print(f"writing {path} (random weights, once)", flush=True)
        net = Net(fcn_models.net(model, "deploy"), "TEST", source=model)
        rng = np.random.default_rng(0)
        for blobs in net.params.values():
            for blob in blobs:
                blob.overwrite()[...] = rng.standard_normal(blob.shape, dtype=np.float32) * 0.01
        save_caffemodel(net, path)
    return path


def run_case(case, weights, *extra):
    done = subprocess.run([sys.executable, "-m", "benchmarks.cases", case, weights, *extra],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"benchmark {case!r} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    has_torch = importlib.util.find_spec("torch") is not None
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}")
    results, peaks = [], []
    for case, (model, _, phase, _, _) in CASES.items():
        weights = weights_file(model)
        peaks.append(gemm_peak())
        row = {"case": case, "peak_gflops": peaks[-1], **run_case(case, weights)}
        if has_torch and phase == "TEST":
            torch_row = run_case(case, weights, "torch")
            row["torch_seconds"], row["torch_peak_rss_mb"] = torch_row["seconds"], torch_row["peak_rss_mb"]
        results.append(row)
        print(f"  {case}: {row['seconds']:.2f} s", flush=True)
    startup = run_case("startup", weights_file("voc-fcn8s"))
    peak = max(peaks)

    print(f"\nGEMM peak in this run: {peak:.0f} GFLOP/s (4096x4096 float32 matmul; "
          f"lowest {min(peaks):.0f})")
    header = f"{'case':<32}{'seconds':>8}{'GFLOP':>8}{'GFLOP/s':>9}{'of peak':>9}{'peak RSS MB':>13}"
    print(header + (f"{'PyTorch s':>11}{'PyTorch/ours':>14}{'PyTorch MB':>12}" if has_torch else ""))
    for row in results:
        rate = row["gflop"] / row["seconds"]
        row["efficiency"] = rate / peak
        line = (f"{row['case']:<32}{row['seconds']:>8.2f}{row['gflop']:>8.0f}{rate:>9.1f}"
                f"{row['efficiency']:>9.2f}{row['peak_rss_mb']:>13.0f}")
        if "torch_seconds" in row:
            line += (f"{row['torch_seconds']:>11.2f}{row['torch_seconds'] / row['seconds']:>14.2f}"
                     f"{row['torch_peak_rss_mb']:>12.0f}")
        print(line)
    height, width = startup["image"]
    print(f"{'start-up of fcn infer':<32}{startup['seconds']:>8.2f}{'':>26}{startup['peak_rss_mb']:>13.0f}")
    print(f"  (its whole run on the {width}x{height} demo image {startup['whole_seconds']:.2f} s, "
          f"less a warm forward pass of it {startup['forward_seconds']:.2f} s)")
    if not has_torch:
        print("PyTorch is not installed: no PyTorch column (pip install torch==2.13.0 adds it)")
    print(TARGETS)
    with open(os.path.join(CACHE, "results.json"), "w") as f:
        json.dump({"peak_gflops": peak, "cases": results, "startup": startup}, f, indent=1)


if __name__ == "__main__":
    main()
