"""`fcn convert`: weights between .caffemodel, .caffemodel.h5 and .npz.

The arrays pass unchanged, bit for bit. A caffemodel in (V2, V1 or with
legacy 4-D dims) keeps its layers' parameters when written back as a
caffemodel, upgraded to V2. With --net, the weights are carried into that
net's layers by transplant (copy, coerce to the net's shape, or drop, each
reported), and written as that net would save them.
"""
from common.atomic import write_atomic
from common.errors import FCNError
from layers.net import Net
from tools.netload import load_net_param
from weights.caffemodel import read_caffemodel, save_weights
from weights.formats import kind_of, load_arrays, save_arrays
from weights.surgery import transplant_arrays

HELP = ("convert weights between .caffemodel, .caffemodel.h5, .npz and .safetensors "
        "(optionally into another net's layout)")


def add_arguments(parser):
    parser.add_argument("input", metavar="IN", help="weights file to read")
    parser.add_argument("output", metavar="OUT", help="file to write; its extension picks the format")
    parser.add_argument("--net", help="carry the weights into this net (prototxt or published model name)")


def run(args):
    kind_of(args.output)
    arrays = load_arrays(args.input)
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
    else:
        save_arrays(args.output, arrays)
    count = sum(a.size for blobs in arrays.values() for a in blobs)
    print(f"{args.input} -> {args.output}: {len(arrays)} layers, {count:,} values")
    return 0
