"""`fcn info`: what a weights file or a net holds.

For weights: the format (V2, V1, V0, legacy dims, HDF5, npz), each layer's
type and blob shapes, parameter counts and the total. For a prototxt (or a
published model name): each layer's type and the shapes of its tops, as
`fcn shapes` computes them at --size.
"""
import json
import os

import numpy as np

from common import sizes
from common.atomic import write_atomic
from common.errors import FCNError
from core.net import Net
from netspec import dialects
from tools.net_stats import geometry, learnable_counts
from tools.netload import load_net_param, with_inputs
from tools.shapes import parse_size
from weights.formats import describe

HELP = "describe a weights file (format, layers, shapes, sizes) or a net (layers and output shapes)"
WEIGHT_ENDINGS = (".caffemodel", ".h5", ".hdf5", ".npz", ".safetensors")


def add_arguments(parser):
    parser.add_argument("path", metavar="FILE", help="weights file, prototxt or published model name")
    parser.add_argument("--size", default="500x500", help="HxW fed to a net's data layers (default 500x500)")
    parser.add_argument("--json", help="for a net: write its figures (layers, parameters, learnable parameters, "
                                       "depth, receptive field, max stride) here")


def onnx_info(path):
    """An ONNX model's inputs, output, operators and parameters, or one line if it is not one."""
    try:
        import onnx
    except ImportError:
        raise FCNError(f"{path}: reading ONNX needs the onnx package (pip install 'fcn-caffe[onnx]')") from None
    from google.protobuf.message import DecodeError
    try:
        model = onnx.load(path, load_external_data=False)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, OSError) as err:
        raise FCNError(f"{path}: not a readable ONNX model ({str(err).splitlines()[0] if str(err) else err})") from None

    def dims(value):
        return "x".join(d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim)
    graph = model.graph
    params = sum(int(np.prod(init.dims)) for init in graph.initializer)
    ops = sorted({node.op_type for node in graph.node})
    print(f"{path}: ONNX opset {model.opset_import[0].version}, {len(graph.node)} nodes ({', '.join(ops)})")
    for value in graph.input:
        print(f"  input  {value.name}: {dims(value)}")
    for value in graph.output:
        print(f"  output {value.name}: {dims(value)}")
    print(f"{len(graph.initializer)} initializers, {params:,} parameters")


def weights_info(path):
    text, layers = describe(path)
    print(f"{path}: {text}, {os.path.getsize(path):,} bytes")
    width = max([len(name) for name, _, _ in layers] + [5])
    total = 0
    for name, kind, shapes in layers:
        count = sum(sizes.count(s) for s in shapes)
        total += count
        dims = ", ".join("x".join(map(str, s)) or "scalar" for s in shapes) or "-"
        print(f"  {name:<{width}}  {kind or '?':<16} {dims:<36} {count:>12,}")
    print(f"{len(layers)} layers, {total:,} parameters ({total * 4 / 2**20:.1f} MiB as float32)")


def net_info(model, size, options=None, json_path=None):
    net_param, source = load_net_param(model)
    net = Net(with_inputs(net_param, size, {}), "TEST", source=source, options=options)
    print(f"{source}: net {net.name or '(unnamed)'}, {len(net.layers)} layers (TEST, {size[0]}x{size[1]} input)")
    print(f"dialect: {dialects.describe(net_param)}")
    width = max((len(name) for name in net.layer_names), default=0)
    total = 0
    for name, layer, top in zip(net.layer_names, net.layers, net.top_vecs):
        shapes = ", ".join(" x ".join(map(str, t.shape)) for t in top) or "-"
        count = sum(b.count for b in layer.blobs)
        total += count
        print(f"  {name:<{width}}  {layer.param.type:<16} {shapes:<28} {count:>12,}")
    print(f"{total:,} parameters ({total * 4 / 2**20:.1f} MiB as float32)")
    _, learnable = learnable_counts(net)
    shape = geometry(net)
    print(f"{learnable:,} learnable (lr_mult > 0); depth {shape['depth']} layers that learn; receptive field "
          f"{shape['receptive_field']} and stride {shape['max_stride']} at the coarsest output")
    if json_path:
        figures = {"net": net.name, "source": source, "dialect": dialects.describe(net_param),
                   "layers": len(net.layers), "parameters": total,
                   "learnable_parameters": learnable, **shape,
                   "layer_types": {name: layer.param.type for name, layer in zip(net.layer_names, net.layers)}}
        write_atomic(json_path, json.dumps(figures, indent=1))


def run(args):
    if args.path.endswith(".onnx"):
        if not os.path.isfile(args.path):
            raise FCNError(f"{args.path}: no such file")
        onnx_info(args.path)
    elif args.path.endswith(WEIGHT_ENDINGS):
        if not os.path.isfile(args.path):
            raise FCNError(f"{args.path}: no such file")
        weights_info(args.path)
    else:
        net_info(args.path, parse_size(args.size), args.options, args.json)
    return 0
