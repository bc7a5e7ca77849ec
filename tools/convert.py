"""`fcn convert`: weights between .caffemodel, .caffemodel.h5, .npz and
.safetensors.

The arrays pass unchanged, bit for bit. A caffemodel in (V2, V1 or with
legacy 4-D dims) keeps its layers' parameters when written back as a
caffemodel, upgraded to V2; through .safetensors it comes back as the
same file, byte for byte (its NetParameter rides in the metadata). Blobs
with legacy dims leave in the shapes their layers' types give them. With --net, the weights are carried into that
net's layers by transplant (copy, coerce to the net's shape, or drop, each
reported), and written as that net would save them.
"""
import sys

from common.atomic import write_atomic
from common.errors import FCNError
from core.net import Net
from tools.netload import load_net_param
from weights.caffemodel import read_caffemodel, read_weights, save_weights
from weights.formats import kind_of, load_arrays, save_arrays
from weights.safetensors_io import caffemodel_to_safetensors, safetensors_to_caffemodel
from weights.surgery import transplant_arrays

HELP = ("convert weights between .caffemodel, .caffemodel.h5, .npz and .safetensors "
        "(optionally into another net's layout)")


def add_arguments(parser):
    parser.add_argument("input", metavar="IN", help="weights file to read")
    parser.add_argument("output", metavar="OUT", help="file to write; its extension picks the format "
                                                      "(.onnx: the net with --net, as an ONNX model)")
    parser.add_argument("--net", help="carry the weights into this net (prototxt or published model name)")
    parser.add_argument("--input", dest="inputs", action="append", metavar="NAME=N,C,H,W",
                        help="ONNX: the shape of an input (default: the net's)")
    parser.add_argument("--output", dest="onnx_output", metavar="BLOB",
                        help="ONNX: the blob the graph gives (default: the net's last)")


def to_onnx(args):
    """The net (data layers, labels and losses cut, as fcn infer cuts them)
    with its weights, as an ONNX model."""
    from tools.netload import image_net, parse_inputs
    from weights.caffemodel import copy_weights
    from weights.onnx_export import export
    if not args.net:
        raise FCNError(f"{args.output}: an ONNX model needs the net: give --net NET")
    inputs = parse_inputs(args.inputs)
    net_param, source = image_net(args.net)
    net = Net(net_param, "TEST", source=source, keep_blobs=True, options=args.options)
    for name, shape in inputs.items():
        if name not in net.inputs:
            raise FCNError(f"--input {name}: the net's inputs are {', '.join(net.inputs)}")
        net.blobs[name].reshape(shape)
    net.reshape()
    copy_weights(net, args.input)
    names, output, symbolic = export(net, args.output, inputs, args.onnx_output)
    size = "any height and width" if symbolic else "fixed sizes"
    print(f"{args.input} -> {args.output}: inputs {', '.join(names)} ({size}), output {output}")
    return 0


def run(args):
    if args.output.endswith(".onnx"):
        return to_onnx(args)
    kind_of(args.output)
    legacy_kept: list = []
    arrays = read_weights(args.input, legacy_kept) if kind_of(args.input) == "caffemodel" else load_arrays(args.input)
    if args.net:
        net_param, source = load_net_param(args.net)
        net = Net(net_param, "TEST", source=source, options=args.options)
        actions = transplant_arrays(net, arrays)
        if not any(action == "copy" or action == "coerce" for action, _, _ in actions):
            raise FCNError(f"{args.input}: no layer name matches a layer of {args.net}; nothing to carry over")
        if kind_of(args.output) == "npz":
            save_arrays(args.output, {name: [b.data for b in blobs] for name, blobs in net.params.items()})
        else:
            save_weights(net, args.output)
    elif kind_of(args.input) == "caffemodel" and kind_of(args.output) == "caffemodel":
        write_atomic(args.output, read_caffemodel(args.input).SerializeToString())   # upgraded to V2
    elif kind_of(args.input) == "caffemodel" and kind_of(args.output) == "safetensors":
        if not caffemodel_to_safetensors(args.input, args.output):
            print(f"{args.input}: its parameters are too large to carry as metadata; only the blobs are kept",
                  file=sys.stderr)
    elif not (kind_of(args.input) == "safetensors" and kind_of(args.output) == "caffemodel"
              and safetensors_to_caffemodel(args.input, args.output)):
        save_arrays(args.output, arrays)
    for name, index, shape in legacy_kept:
        print(f"{args.input}: layer {name!r} blob {index} keeps its legacy dims {list(shape)}: its type does "
              "not say its true shape", file=sys.stderr)
    count = sum(a.size for blobs in arrays.values() for a in blobs)
    print(f"{args.input} -> {args.output}: {len(arrays)} layers, {count:,} values")
    return 0
