"""`fcn shapes`: every blob's shape, without weights or allocation."""
import json

from common.atomic import write_atomic
from common.errors import FCNError
from core.net import Net
from tools.netload import load_net_param, parse_inputs, with_inputs

HELP = "print every blob's shape (TEST phase; data layers become inputs of --size)"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name)")
    parser.add_argument("--size", default="500x500", help="HxW of the images fed to data layers (default 500x500)")
    parser.add_argument("--input", action="append", metavar="NAME=D1,D2,...",
                        help="shape of one input top, overriding --size")
    parser.add_argument("--json", help="write {blob: [dims]} here")


def parse_size(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise FCNError(f"--size {text!r}: expected HxW, such as 500x500") from None
    if h <= 0 or w <= 0:
        raise FCNError(f"--size {text!r}: sizes must be positive")
    return h, w


def blob_shapes(model, size=(500, 500), inputs=None, options=None):
    net_param, source = load_net_param(model)
    net = Net(with_inputs(net_param, size, inputs or {}), "TEST", source=source, options=options)
    return {name: list(blob.shape) for name, blob in net.blobs.items()}


def run(args):
    shapes = blob_shapes(args.model, parse_size(args.size), parse_inputs(args.input), args.options)
    width = max((len(name) for name in shapes), default=0)
    for name, shape in shapes.items():
        print(f"{name:<{width}}  {' x '.join(map(str, shape)) or 'scalar'}")
    if args.json:
        write_atomic(args.json, json.dumps(shapes, indent=1))
    return 0
