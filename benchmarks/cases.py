"""One benchmark case per process, so that its peak resident memory is its own.

    python -m benchmarks.cases CASE WEIGHTS [torch]

prints one JSON line: seconds (fastest of the timed runs), gflop, peak_rss_mb.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from common.images import bgr_chw, read_rgb
from layers.net import Net
from netspec import fcn_models
from tools.infer import parse_mean
from tools.netload import image_net
from tools.time import conv_gflop, timing_net
from weights.caffemodel import copy_weights, read_weights

DEMO_IMAGE = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "published", "demo", "image.jpg")

# name: (model, split, phase, side, timed runs)
CASES = {
    "voc-fcn8s forward 250": ("voc-fcn8s", "deploy", "TEST", 250, 5),
    "voc-fcn8s forward 500": ("voc-fcn8s", "deploy", "TEST", 500, 3),
    "voc-fcn8s forward 1000": ("voc-fcn8s", "deploy", "TEST", 1000, 2),
    "voc-fcn8s train iteration 500": ("voc-fcn8s", "train", "TRAIN", 500, 2),
    "voc-fcn-alexnet forward 500": ("voc-fcn-alexnet", "deploy", "TEST", 500, 3),
}


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


def build(case, weights):
    model, split, phase, side, _ = CASES[case]
    shapes = {"data": (1, 3, side, side), "label": (1, 1, side, side)}
    return timing_net(fcn_models.net(model, split), phase, (side, side), shapes, weights)


def run_engine(case, weights):
    net = build(case, weights)
    train = CASES[case][2] == "TRAIN"
    gflop = conv_gflop(net) * (3 if train else 1)
    best = float("inf")
    for i in range(CASES[case][4] + 1):      # the first pass warms up
        start = time.perf_counter()
        net.forward()
        if train:
            net.clear_param_diffs()
            net.backward()
        if i:
            best = min(best, time.perf_counter() - start)
    return {"seconds": best, "gflop": gflop, "peak_rss_mb": peak_rss_mb()}


def run_startup(weights):
    """What `fcn infer` adds to the forward pass of its one image: its whole
    run in a fresh process (interpreter, imports, net, 537 MB of weights,
    numba's kernels from their cache, the image, the PNG) less a warm
    forward pass of the same image."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tools.cli", "infer", "--model", "voc-fcn8s",
                               "--weights", weights, "--out", out, DEMO_IMAGE], capture_output=True, text=True)
        whole = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"fcn infer failed:\n{done.stderr}")
    child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
    net_param, _ = image_net("voc-fcn8s")
    net = Net(net_param, "TEST", source="voc-fcn8s")
    copy_weights(net, weights)
    image = bgr_chw(read_rgb(DEMO_IMAGE), parse_mean(None))[np.newaxis]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        net.forward(data=image)
        best = min(best, time.perf_counter() - start)
    return {"seconds": whole - best, "whole_seconds": whole, "forward_seconds": best,
            "image": list(image.shape[2:]), "gflop": 0.0, "peak_rss_mb": child_rss_mb}


def run_torch(case, weights):
    """The same graph, weights and input in PyTorch (CPU), for a ratio."""
    import torch
    import torch.nn.functional as F
    model, split, phase, side, runs = CASES[case]
    torch.set_grad_enabled(False)
    params = {name: [torch.from_numpy(a) for a in arrays] for name, arrays in read_weights(weights).items()}
    image = np.random.default_rng(0).standard_normal((1, 3, side, side), dtype=np.float32) * 50
    x = {"data": torch.from_numpy(image)}
    layers = [p for p in fcn_models.net(model, split).layer]

    def step():
        t = dict(x)
        for p in layers:
            bottom = [t[b] for b in p.bottom]
            kind = p.type
            if kind == "Convolution" or kind == "Deconvolution":
                c = p.convolution_param
                w = params[p.name]
                pad = c.pad[0] if len(c.pad) else 0
                stride = c.stride[0] if len(c.stride) else 1
                bias = w[1] if len(w) > 1 else None
                op = F.conv2d if kind == "Convolution" else F.conv_transpose2d
                out = op(bottom[0], w[0], bias, stride=stride, padding=pad, groups=c.group)
            elif kind == "Pooling":
                q = p.pooling_param
                out = F.max_pool2d(bottom[0], q.kernel_size, q.stride, q.pad, ceil_mode=True)
            elif kind == "ReLU":
                out = F.relu(bottom[0])
            elif kind == "LRN":
                q = p.lrn_param
                out = F.local_response_norm(bottom[0], q.local_size, q.alpha, q.beta, q.k)
            elif kind == "Crop":
                ref = bottom[1]
                off = p.crop_param.offset[0] if len(p.crop_param.offset) else 0
                out = bottom[0][:, :, off:off + ref.shape[2], off:off + ref.shape[3]]
            elif kind == "Eltwise":
                out = bottom[0] + bottom[1]
            elif kind in ("Split", "Dropout", "Input"):
                out = bottom[0] if bottom else None
            else:
                raise ValueError(f"no PyTorch translation for {kind}")
            for top in p.top:
                if out is not None:
                    t[top] = out
        return t

    best = float("inf")
    for i in range(runs + 1):
        start = time.perf_counter()
        step()
        if i:
            best = min(best, time.perf_counter() - start)
    return {"seconds": best, "gflop": 0.0, "peak_rss_mb": peak_rss_mb()}


def main(argv):
    case, weights = argv[0], argv[1]
    if case == "startup":
        result = run_startup(weights)
    elif len(argv) > 2 and argv[2] == "torch":
        result = run_torch(case, weights)
    else:
        result = run_engine(case, weights)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
