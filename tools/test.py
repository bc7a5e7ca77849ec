"""`fcn test`: Caffe's `caffe test`: forward passes, each output per batch and its mean."""
import numpy as np

from tools.netload import build_net

HELP = "run a net's forward pass N times and average its outputs, as `caffe test`"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name)")
    parser.add_argument("--weights", required=True, help=".caffemodel or .caffemodel.h5")
    parser.add_argument("--iterations", type=int, default=50, help="forward passes (default 50, as Caffe)")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")


def run(args):
    net = build_net(args.model, args.phase, args.weights, options=args.options)
    totals = {}
    for i in range(args.iterations):
        outputs = net.forward()
        for name, value in outputs.items():
            value = np.asarray(value, np.float64)
            totals[name] = totals.get(name, 0) + value
            if value.size == 1:
                print(f"Batch {i}, {name} = {float(value):.6g}")
    for name, total in totals.items():
        mean = total / max(args.iterations, 1)
        text = f"{float(mean):.6g}" if np.size(mean) == 1 else np.array2string(mean.ravel(), precision=5)
        print(f"{name} = {text}")
    return 0
