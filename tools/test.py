"""`fcn test`: Caffe's `caffe test`: forward passes, each output per batch and its mean."""
import numpy as np

from solvers.distributed import join
from tools.netload import build_net


def _silent(line):
    """What a rank other than 0 prints."""

HELP = "run a net's forward pass N times and average its outputs, as `caffe test`"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name)")
    parser.add_argument("--weights", required=True, help=".caffemodel or .caffemodel.h5")
    parser.add_argument("--iterations", type=int, default=50, help="forward passes (default 50, as Caffe)")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")


def run(args, log=print):
    """`log(line)` prints each line (the `caffe` command gives glog's form).
    Under mpirun with several ranks, the batches are dealt across them and
    the outputs' sums added up; rank 0 prints its own batches and the means."""
    world = join()
    options = args.options.but(shard=(world.rank, world.size)) if world is not None else args.options
    if world is not None and world.rank != 0:
        log = _silent
    net = build_net(args.model, args.phase, args.weights, options=options)
    weights = {blob.name: layer.loss_weights[k] for layer, top in zip(net.layers, net.top_vecs)
               for k, blob in enumerate(top) if layer.loss_weights[k]}
    totals = {}
    mine = range(world.rank, args.iterations, world.size) if world is not None else range(args.iterations)
    for i in mine:
        outputs = net.forward()
        for name, value in outputs.items():
            value = np.asarray(value, np.float64)
            totals[name] = totals.get(name, 0) + value
            if value.size == 1:
                log(f"Batch {i}, {name} = {float(value):.6g}")
    if world is not None:
        totals = {name: world.sum(total) for name, total in totals.items()}
    loss = sum(weights.get(name, 0) * float(np.sum(total)) for name, total in totals.items())
    log(f"Loss: {loss / max(args.iterations, 1):.6g}")
    for name, total in totals.items():
        mean = total / max(args.iterations, 1)
        text = f"{float(mean):.6g}" if np.size(mean) == 1 else np.array2string(mean.ravel(), precision=5)
        weight = weights.get(name, 0)
        extra = f" (* {weight:g} = {weight * float(np.sum(mean)):.6g} loss)" if weight and np.size(mean) == 1 else ""
        log(f"{name} = {text}{extra}")
    return 0
