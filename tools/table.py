"""`fcn table`: the paper's two tables as measured here.

The backbone table: depth, learnable parameters, receptive field and
stride from the nets themselves (fcn info), the forward time of a 500x500
image on this machine (fcn time's way: random weights, the fastest of a
few passes) beside the paper's GPU times, and the paper's mean IU. The
skip table: the four nets' metrics on seg11valid where the data and the
weights are here (fcn score), else the published figures, marked so.
"""
import os

import numpy as np

from core.net import Net
from netspec import fcn_models
from solvers.score import compute_hist, metrics
from tools.net_stats import geometry, learnable_counts
from tools.netload import with_inputs
from tools.recipe import at_data_root, downloaded_name
from weights.caffemodel import copy_weights

HELP = "the paper's backbone and skip tables, measured on this machine where possible"

# The paper's figures (Long, Shelhamer & Darrell): forward ms on its GPU, mean IU.
BACKBONES = [("FCN-AlexNet", "voc-fcn-alexnet", 50, 39.8, 355),
             ("FCN-VGG16", "voc-fcn32s", 210, 56.0, 404),
             ("FCN-GoogLeNet", "voc-fcn-googlenet", 59, 42.5, 907)]
SKIPS = [("FCN-32s-fixed", "voc-fcn32s-fixed", (83.0, 59.7, 45.4, 72.0)),
         ("FCN-32s", "voc-fcn32s", (89.1, 73.3, 59.4, 81.4)),
         ("FCN-16s", "voc-fcn16s", (90.0, 75.7, 62.4, 83.0)),
         ("FCN-8s", "voc-fcn8s", (90.3, 75.9, 62.7, 83.2))]


def add_arguments(parser):
    parser.add_argument("--root", default=".", help="the checkout: data/ and the models' weights live there")
    parser.add_argument("--size", type=int, default=500, help="side of the timed input (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="timed forward passes, the fastest kept (default 3)")
    parser.add_argument("--no-time", action="store_true", help="leave the forward times out")


def forward_ms(model, side, runs, options):
    import time
    net = Net(with_inputs(fcn_models.net(model, "deploy"), (side, side), {}), "TEST", options=options)
    net.blobs[net.inputs[0]].data[...] = np.random.default_rng(0).standard_normal(net.blobs[net.inputs[0]].shape)
    net.forward()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        net.forward()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def backbone_table(args):
    print(f"| | {' | '.join(name for name, *_ in BACKBONES)} |")
    print("| --- |" + " --- |" * len(BACKBONES))
    rows = {key: [] for key in ("mean IU (VOC 2011 val, paper)", "forward (paper's GPU)",
                                f"forward {args.size}x{args.size} here (CPU)", "conv. layers", "parameters",
                                "rf size", "max stride")}
    for _, model, gpu_ms, iu, paper_rf in BACKBONES:
        net = Net(with_inputs(fcn_models.net(model, "deploy"), (args.size, args.size), {}), "TEST",
                  options=args.options)
        shape = geometry(net)
        _, learnable = learnable_counts(net)
        rows["mean IU (VOC 2011 val, paper)"].append(f"{iu}")
        rows["forward (paper's GPU)"].append(f"{gpu_ms} ms")
        rows[f"forward {args.size}x{args.size} here (CPU)"].append(
            "-" if args.no_time else f"{forward_ms(model, args.size, args.runs, args.options):.0f} ms")
        rows["conv. layers"].append(str(shape["depth"]))
        rows["parameters"].append(f"{learnable / 1e6:.0f}M")
        rf = shape["receptive_field"]
        rows["rf size"].append(f"{rf}" if rf == paper_rf else f"{rf} ({paper_rf} with the 7x7 average pool)")
        rows["max stride"].append(str(shape["max_stride"]))
    for key, values in rows.items():
        print(f"| {key} | {' | '.join(values)} |")


def skip_table(args):
    root = os.path.abspath(args.root)
    print("\n| | pixel acc. | mean acc. | mean IU | f.w. IU | source |")
    print("| --- | --- | --- | --- | --- | --- |")
    val = os.path.join(root, "data", "pascal", "VOC2011", "ImageSets", "Segmentation", "seg11valid.txt")
    for name, model, published in SKIPS:
        weights = os.path.join(root, model, f"{model}.caffemodel")
        fallback = downloaded_name(f"{model}/{model}.caffemodel")
        if not os.path.exists(weights) and fallback:
            weights = os.path.join(root, fallback)
        if os.path.exists(val) and os.path.exists(weights):
            net = Net(at_data_root(fcn_models.net(model, "val"), os.path.join(root, "data")), "TEST",
                      keep_blobs=True, options=args.options)
            copy_weights(net, weights)
            with open(val) as f:
                count = len(f.read().split())
            hist, _ = compute_hist(net, count)
            m = metrics(hist)
            figures = [100 * m[k] for k in ("overall accuracy", "mean accuracy", "mean IU", "fwavacc")]
            source = f"measured here ({os.path.relpath(weights, root)})"
        else:
            figures, source = published, "published (no data or weights here)"
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in figures) + f" | {source} |")


def run(args):
    backbone_table(args)
    skip_table(args)
    return 0
