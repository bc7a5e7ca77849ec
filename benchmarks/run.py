"""`make bench`: the engine's speed and memory beside its peers'.

Each case runs in its own process per framework (benchmarks/cases.py) on
the same random full-size weights, saved once as a caffemodel and loaded
as a user's would be: the engine; OpenCV's DNN module (4.x, the last line
with a Caffe importer), which reads the same prototxt and caffemodel; and
PyTorch, which runs the same graph through its functional ops
(benchmarks/torch_graph.py). Each peer's output is held against the
engine's (agreement: largest difference over the largest magnitude).
Ratios are peer time over the engine's, measured in the same run. The
GEMM peak (numpy.matmul of two 4096x4096 float32 matrices, with BLAS's own
threads) is measured before every case. Results go to
build/bench/results.json and, as the README's table, build/bench/table.md.
"""
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from benchmarks.cases import output_path
from benchmarks.nets import CACHE, CASES, files
from common.atomic import write_atomic

PEERS = {"opencv": "cv2", "torch": "torch"}
AGREEMENT = 1e-4
TARGETS = ("targets: forward <= 0.8x OpenCV's time on every net (batch 1 and 8); voc-fcn8s 500x500 forward "
           "and training <= 0.5x PyTorch's; peak memory no worse than before (fcn infer 500x500: 1068 MB)")


def gemm_peak():
    """Measured in a child process: OpenBLAS's threads spin for a while after
    a call, and in this process they would take cores from the next case."""
    done = subprocess.run([sys.executable, "-c", "from benchmarks.run import gemm_rate; print(gemm_rate())"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def gemm_rate(n=4096, runs=3):
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


def run_case(label, framework):
    done = subprocess.run([sys.executable, "-m", "benchmarks.cases", label, framework], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"benchmark {label!r} ({framework}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(case, framework):
    """max |peer - engine| / max |engine| of the case's output blob."""
    ours, theirs = np.load(output_path(case, "engine")), np.load(output_path(case, framework))
    if ours.shape != theirs.shape:
        return float("inf")
    return float(np.abs(ours - theirs).max() / max(float(np.abs(ours).max()), 1e-30))


def peer_cell(row, framework):
    peer = row.get(framework)
    if not peer:
        return ""
    return f"{peer['seconds']:.3f} s ({row['seconds'] / peer['seconds']:.2f}×, {peer['agreement']:.0e})"


def table(rows, startup, peak, peers_seen):
    lines = ["| case | this engine | GFLOP/s | peak RSS | OpenCV DNN | PyTorch |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        rate = row["gflop"] / row["seconds"]
        lines.append(f"| {row['label']} | {row['seconds']:.3f} s | {rate:.0f} | {row['peak_rss_mb']:.0f} MB | "
                     f"{peer_cell(row, 'opencv')} | {peer_cell(row, 'torch')} |")
    lines.append(f"| start-up of `fcn infer` | {startup['seconds']:.2f} s | | {startup['peak_rss_mb']:.0f} MB | | |")
    versions = ", ".join(f"{name} {version}" for name, version in peers_seen.items())
    return "\n".join(lines) + (f"\n\nGEMM peak in this run: {peak:.0f} GFLOP/s. Peers: {versions}. "
                               "A peer's cell: its time (this engine's time over it; agreement of outputs).\n")


def main():
    available = {name: importlib.util.find_spec(module) is not None for name, module in PEERS.items()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}")
    rows, peaks, peers_seen = [], [], {}
    for case in CASES:      # weights made here, not in the first case's process (its memory)
        files(case)
    for case in CASES:
        peaks.append(gemm_peak())
        frameworks = ["engine"] + [f for f, present in available.items()
                                   if present and not (case.train and f == "opencv")]
        best = {}
        for _ in range(case.rounds):       # taking turns, the fastest of each kept
            for framework in frameworks:
                result = run_case(case.label, framework)
                if framework not in best or result["seconds"] < best[framework]["seconds"]:
                    best[framework] = result
        row = {"label": case.label, "peak_gflops": peaks[-1], "rounds": case.rounds, **best.pop("engine")}
        for framework, peer in best.items():
            peers_seen[framework] = peer.pop("version")
            peer["agreement"] = agreement(case, framework)
            row[framework] = peer
        rows.append(row)
        print(f"  {case.label}: {row['seconds']:.3f} s" + "".join(
            f", {f} {row[f]['seconds']:.3f} s ({row['seconds'] / row[f]['seconds']:.2f}x)" for f in PEERS if f in row),
            flush=True)
    startup = run_case("startup", "engine")
    peak = max(peaks)

    print(f"\nGEMM peak in this run: {peak:.0f} GFLOP/s (4096x4096 float32 matmul; lowest {min(peaks):.0f})")
    print(f"{'case':<44}{'seconds':>9}{'GFLOP/s':>9}{'RSS MB':>8}" + "".join(
        f"{name + ' s':>12}{'ours/' + name:>13}{'agree':>9}{name + ' MB':>11}" for name in PEERS if available[name]))
    failed = []
    for row in rows:
        rate = row["gflop"] / row["seconds"]
        line = f"{row['label']:<44}{row['seconds']:>9.3f}{rate:>9.0f}{row['peak_rss_mb']:>8.0f}"
        for name in PEERS:
            if not available[name]:
                continue
            peer = row.get(name)
            if peer is None:
                line += f"{'':>45}"
                continue
            line += (f"{peer['seconds']:>12.3f}{row['seconds'] / peer['seconds']:>13.2f}{peer['agreement']:>9.0e}"
                     f"{peer['peak_rss_mb']:>11.0f}")
            if peer["agreement"] > AGREEMENT:
                failed.append(f"{row['label']} ({name}): outputs differ by {peer['agreement']:.1e}")
        print(line)
    height, width = startup["image"]
    print(f"{'start-up of fcn infer':<44}{startup['seconds']:>9.2f}{'':>9}{startup['peak_rss_mb']:>8.0f}")
    print(f"  (its whole run on the {width}x{height} demo image {startup['whole_seconds']:.2f} s, "
          f"less a warm forward pass of it {startup['forward_seconds']:.2f} s)")
    for name, module in PEERS.items():
        if not available[name]:
            print(f"{module} is not installed: no {name} column (make bench installs the bench extra)")
    print(TARGETS)
    os.makedirs(CACHE, exist_ok=True)
    write_atomic(os.path.join(CACHE, "results.json"),
                 json.dumps({"peak_gflops": peak, "cases": rows, "startup": startup, "peers": peers_seen}, indent=1))
    write_atomic(os.path.join(CACHE, "table.md"), table(rows, startup, peak, peers_seen))
    print(f"README table: {os.path.join(CACHE, 'table.md')}")
    if failed:
        raise SystemExit("outputs disagree beyond 1e-4:\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
