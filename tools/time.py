"""`fcn time`: Caffe's `caffe time`: per-layer forward and backward times.

As Caffe, the net is built in TRAIN phase (so backward has a loss to start
from) with the fillers' weights unless --weights; data layers become inputs
of --size, filled with a fixed random image and label 0. One warm-up pass
(numba's kernels load from their cache), then N timed iterations. Per layer,
the mean over the iterations; in total, the fastest iteration.
"""
import json
import time

import numpy as np

from common.atomic import write_atomic
from common.errors import FCNError
from core.net import Net
from tools.netload import load_net_param, parse_inputs, with_inputs
from tools.shapes import parse_size
from weights.caffemodel import copy_weights

HELP = "time each layer's forward and backward passes, as `caffe time`"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name: its train net)")
    parser.add_argument("--weights", help="weights to load (default: the prototxt's fillers)")
    parser.add_argument("--iterations", type=int, default=50, help="timed iterations (default 50, as Caffe)")
    parser.add_argument("--forward-only", action="store_true", help="time the forward pass only")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TRAIN")
    parser.add_argument("--size", default="500x500", help="HxW of the images fed to data layers")
    parser.add_argument("--input", action="append", metavar="NAME=D1,D2,...", help="shape of one input top")
    parser.add_argument("--json", help="write the times here")


def conv_gflop(net):
    """Multiply-adds of every Convolution and Deconvolution, times two."""
    total = 0
    for layer, bottom, top in zip(net.layers, net.bottom_vecs, net.top_vecs):
        if layer.param.type == "Convolution":
            per_output = layer.blobs[0].count // layer.blobs[0].shape[0]
            total += sum(2 * t.count * per_output for t in top)
        elif layer.param.type == "Deconvolution":
            per_input = layer.blobs[0].count // layer.blobs[0].shape[0]
            total += sum(2 * b.count * per_input for b in bottom)
    return total / 1e9


def timing_net(model, phase="TRAIN", size=(500, 500), inputs=None, weights=None, keep_blobs=False, options=None):
    """The net `fcn time` and the benchmarks run, with its inputs filled."""
    if isinstance(model, str):
        net_param, source = load_net_param(model, train=phase == "TRAIN")
    else:
        net_param, source = model, "<net>"
    net = Net(with_inputs(net_param, size, inputs or {}), phase, source=source, keep_blobs=keep_blobs,
              options=options)
    if weights:
        copy_weights(net, weights)
    rng = np.random.default_rng(0)
    for name in net.inputs:
        blob = net.blobs[name]
        if blob.num_axes == 4 and blob.shape[1] == 1:
            blob.data[...] = 0            # labels: class 0 is valid for every model
        else:
            blob.data[...] = rng.standard_normal(blob.shape, dtype=np.float32) * 50
    return net


def time_net(net, iterations, forward_only=False):
    """{'forward_ms', 'backward_ms', 'layers': {name: {...}}}: totals are the
    fastest iteration, per-layer figures the mean."""
    net.forward()
    if not forward_only:
        net.backward()
    names = net.layer_names
    forward = np.zeros((iterations, len(names)))
    backward = np.zeros((iterations, len(names)))
    for it in range(iterations):
        for i, name in enumerate(names):
            start = time.perf_counter()
            net.forward(start=name, end=name)
            forward[it, i] = time.perf_counter() - start
        if forward_only:
            continue
        for i in range(len(names) - 1, -1, -1):
            if not net.layer_need_backward[i]:
                continue
            start = time.perf_counter()
            net.backward(start=names[i], end=names[i])
            backward[it, i] = time.perf_counter() - start
    result = {"forward_ms": 1e3 * forward.sum(axis=1).min(),
              "backward_ms": 1e3 * backward.sum(axis=1).min(),
              "layers": {name: {"forward_ms": 1e3 * forward[:, i].mean(), "backward_ms": 1e3 * backward[:, i].mean()}
                         for i, name in enumerate(names)}}
    return result


def run(args):
    if args.iterations <= 0:
        raise FCNError(f"--iterations must be positive, not {args.iterations}")
    net = timing_net(args.model, args.phase, parse_size(args.size), parse_inputs(args.input), args.weights,
                     options=args.options)
    result = time_net(net, args.iterations, args.forward_only)
    width = max((len(name) for name in net.layer_names), default=0)
    for name, t in result["layers"].items():
        back = "" if args.forward_only else f"  backward: {t['backward_ms']:9.3f} ms"
        print(f"{name:>{width}}  forward: {t['forward_ms']:9.3f} ms{back}")
    gflop = conv_gflop(net)
    print(f"Min forward pass: {result['forward_ms']:.1f} ms ({gflop:.1f} GFLOP of convolution, "
          f"{gflop / max(result['forward_ms'], 1e-9) * 1e3:.1f} GFLOP/s)")
    if not args.forward_only:
        print(f"Min backward pass: {result['backward_ms']:.1f} ms")
    result["gflop"] = gflop
    if args.json:
        write_atomic(args.json, json.dumps(result, indent=1))
    return 0
