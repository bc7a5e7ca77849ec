"""One benchmark case in one framework per process, so that its peak
resident memory is its own.

    python -m benchmarks.cases LABEL engine|opencv|torch
    python -m benchmarks.cases startup

prints one JSON line: seconds (fastest of the timed runs, after a warm-up
run), gflop, peak_rss_mb, and where the output blob went (an .npy under
build/bench/, which run.py compares across frameworks).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.nets import CACHE, by_label, files, image, net_param
from common.atomic import atomic_path
from common.images import bgr_chw, read_rgb
from core.net import Net
from core.options import Options
from tools.infer import parse_mean
from tools.netload import image_net
from tools.time import conv_gflop
from weights.caffemodel import copy_weights, read_weights

DEMO_IMAGE = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "published", "demo", "image.jpg")


def peak_rss_mb():
    """This process's high-water mark of resident memory in MB of 10^6
    bytes, the unit of the 537 MB of weights (VmHWM: unlike ru_maxrss, not
    inherited from the parent across fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def fastest(step, runs):
    best = float("inf")
    for i in range(runs + 1):      # the first run warms up
        start = time.perf_counter()
        step()
        if i:
            best = min(best, time.perf_counter() - start)
    return best


def output_path(case, framework):
    return os.path.join(CACHE, f"out-{case.label.replace(' ', '_')}-{framework}.npy")


def save_output(case, framework, array):
    with atomic_path(output_path(case, framework)) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))


def run_engine(case):
    prototxt, weights = files(case)
    net = Net(net_param(case, deploy=not case.train), "TRAIN" if case.train else "TEST", source=case.net,
              options=Options.from_environment())
    copy_weights(net, weights)
    x = image(case)
    net.blobs["data"].data[...] = x
    if case.train:
        net.blobs["label"].data[...] = 0
    else:
        net.keep(case.output)
    gflop = conv_gflop(net) * (3 if case.train else 1)

    def step():
        net.forward()
        if case.train:
            net.clear_param_diffs()
            net.backward()
    seconds = fastest(step, case.runs)
    save_output(case, "engine", net.blobs[case.output].data)
    return {"seconds": seconds, "gflop": gflop, "peak_rss_mb": peak_rss_mb()}


def run_opencv(case):
    import cv2
    cv2.setNumThreads(len(os.sched_getaffinity(0)))
    prototxt, weights = files(case)
    net = cv2.dnn.readNetFromCaffe(prototxt, weights)
    x = image(case)
    result = {}

    def step():
        net.setInput(x)
        result["out"] = net.forward(case.output)
    seconds = fastest(step, case.runs)
    save_output(case, "opencv", result["out"])
    return {"seconds": seconds, "gflop": 0.0, "peak_rss_mb": peak_rss_mb(), "version": cv2.__version__}


def run_torch(case):
    import torch

    from benchmarks.torch_graph import TorchGraph
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    _, weights = files(case)
    graph = TorchGraph(net_param(case, deploy=not case.train), read_weights(weights), train=case.train)
    feeds = {"data": image(case)}
    if case.train:
        feeds["label"] = np.zeros((case.batch, 1, case.side, case.side), np.float32)
    result = {}

    def step():
        if case.train:
            for arrays in graph.params.values():
                for p in arrays:
                    p.grad = None
            tops = graph.run(feeds)
            tops["loss"].backward()
            result["out"] = tops[case.output].detach().numpy()
        else:
            with torch.no_grad():
                result["out"] = graph.run(feeds)[case.output].numpy()
    seconds = fastest(step, case.runs)
    save_output(case, "torch", result["out"])
    return {"seconds": seconds, "gflop": 0.0, "peak_rss_mb": peak_rss_mb(), "version": torch.__version__}


def run_startup():
    """What `fcn infer` adds to the forward pass of its one image: its whole
    run in a fresh process (interpreter, imports, net, 537 MB of weights,
    numba's kernels from their cache, the image, the PNG) less a warm
    forward pass of the same image."""
    _, weights = files(by_label("voc-fcn8s forward 500x500"))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tools.cli", "infer", "--model", "voc-fcn8s",
                               "--weights", weights, "--out", out, DEMO_IMAGE], capture_output=True, text=True)
        whole = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"fcn infer failed:\n{done.stderr}")
    child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
    param, _ = image_net("voc-fcn8s")
    net = Net(param, "TEST", source="voc-fcn8s")
    copy_weights(net, weights)
    x = bgr_chw(read_rgb(DEMO_IMAGE), parse_mean(None))[np.newaxis]
    best = fastest(lambda: net.forward(data=x), 3)
    return {"seconds": whole - best, "whole_seconds": whole, "forward_seconds": best,
            "image": list(x.shape[2:]), "gflop": 0.0, "peak_rss_mb": child_rss_mb}


RUNNERS = {"engine": run_engine, "opencv": run_opencv, "torch": run_torch}


def main(argv):
    if argv[0] == "startup":
        result = run_startup()
    else:
        result = RUNNERS[argv[1]](by_label(argv[0]))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
