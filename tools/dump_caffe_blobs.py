#!/usr/bin/env python3
"""Write a reference file of your own Caffe's blobs, for `fcn compare`.

Run it where pycaffe imports (real Caffe). It feeds the net's inputs,
runs forward (and backward with --backward) and writes the layout that
`fcn compare` reads (see tests/data/reference/README.md):

    blobs.h5: input/<name>, data/<blob>, diff/<blob>, param_diff/<layer>/<i>
    meta.json: phase, seed, input shapes, loss values, blob order

Inputs come from --input NAME=FILE.npy, else random: normal(0, 50) for images
and, for tops given as --label NAME=CLASSES, integers below CLASSES with about
a tenth set to 255 (ignored). Example:

    python tools/dump_caffe_blobs.py --model val.prototxt --weights fcn8s.caffemodel \\
        --label label=21 --out ref/blobs.h5
    fcn compare --model val.prototxt --weights fcn8s.caffemodel --reference ref/blobs.h5
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np

# Runs beside real pycaffe, not from an install of this project: the atomic
# writer comes from the checkout this file sits in.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common.atomic import atomic_path, write_atomic  # noqa: E402


def parse_pairs(values, kind):
    pairs = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"dump_caffe_blobs: {kind} {item!r}: expected NAME=VALUE")
        pairs[name] = value
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", required=True, help="blobs.h5 to write (meta.json goes beside it)")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    parser.add_argument("--label", action="append", metavar="NAME=CLASSES")
    args = parser.parse_args(argv)

    import caffe  # pycaffe: real Caffe (or this project's compatibility package)
    caffe.set_mode_cpu()
    net = caffe.Net(args.model, args.weights, getattr(caffe, args.phase))
    files, labels = parse_pairs(args.input, "--input"), parse_pairs(args.label, "--label")
    rng = np.random.default_rng(args.seed)
    inputs = {}
    for name in net.inputs:
        shape = net.blobs[name].data.shape
        if name in files:
            value = np.load(files[name], allow_pickle=False).astype(np.float32)
        elif name in labels:
            value = rng.integers(0, int(labels[name]), shape).astype(np.float32)
            value[rng.random(shape) < 0.1] = 255
        else:
            value = rng.normal(0, 50, shape).astype(np.float32)
        net.blobs[name].reshape(*value.shape)
        inputs[name] = value
    for name, value in inputs.items():
        net.blobs[name].data[...] = value
    outputs = net.forward()
    if args.backward:
        for blobs in net.params.values():
            for blob in blobs:
                blob.diff[...] = 0
        net.backward()
    folder = os.path.dirname(os.path.abspath(args.out))
    with atomic_path(args.out) as tmp, h5py.File(tmp, "w") as f:
        for name, value in inputs.items():
            f[f"input/{name}"] = value
        for name, blob in net.blobs.items():
            f[f"data/{name}"] = np.asarray(blob.data, np.float32)
            if args.backward:
                f[f"diff/{name}"] = np.asarray(blob.diff, np.float32)
        if args.backward:
            for layer, blobs in net.params.items():
                for i, blob in enumerate(blobs):
                    f[f"param_diff/{layer}/{i}"] = np.asarray(blob.diff, np.float32)
    meta = {"phase": args.phase, "seed": args.seed, "inputs": {k: list(v.shape) for k, v in inputs.items()},
            "outputs": {k: float(np.asarray(v).ravel()[0]) for k, v in outputs.items() if np.asarray(v).size == 1},
            "backward": args.backward, "blob_order": list(net.blobs)}
    write_atomic(os.path.join(folder, "meta.json"), json.dumps(meta, indent=1))
    print(f"wrote {args.out} ({len(net.blobs)} blobs)")


if __name__ == "__main__":
    main()
