"""`fcn test`: Caffe's `caffe test`: forward passes, each output per batch and its mean."""
import numpy as np

from tools.netload import build_net

HELP = "run a net's forward pass N times and average its outputs, as `caffe test`"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name)")
    parser.add_argument("--weights", required=True, help=".caffemodel or .caffemodel.h5")
    parser.add_argument("--iterations", type=int, default=50, help="forward passes (default 50, as Caffe)")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")


def run(args, log=print):
    """`log(line)` prints each line (the `caffe` command gives glog's form)."""
    net = build_net(args.model, args.phase, args.weights, options=args.options)
    weights = {blob.name: layer.loss_weights[k] for layer, top in zip(net.layers, net.top_vecs)
               for k, blob in enumerate(top) if layer.loss_weights[k]}
    totals = {}
    for i in range(args.iterations):
        outputs = net.forward()
        for name, value in outputs.items():
            value = np.asarray(value, np.float64)
            totals[name] = totals.get(name, 0) + value
            if value.size == 1:
                log(f"Batch {i}, {name} = {float(value):.6g}")
    loss = sum(weights.get(name, 0) * float(np.sum(total)) for name, total in totals.items())
    log(f"Loss: {loss / max(args.iterations, 1):.6g}")
    for name, total in totals.items():
        mean = total / max(args.iterations, 1)
        text = f"{float(mean):.6g}" if np.size(mean) == 1 else np.array2string(mean.ravel(), precision=5)
        weight = weights.get(name, 0)
        extra = f" (* {weight:g} = {weight * float(np.sum(mean)):.6g} loss)" if weight and np.size(mean) == 1 else ""
        log(f"{name} = {text}{extra}")
    return 0
