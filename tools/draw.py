"""`fcn draw`: a net as a Graphviz graph: layers as boxes with their main
parameters, blobs as the edges between them (labelled with their shapes).

Written as DOT; as SVG or PNG when --out names one and Graphviz's `dot` is
on the machine.
"""
import shutil
import subprocess

from common.atomic import write_atomic
from common.errors import FCNError
from core.net import filter_net, phase_value
from netspec import caffe_pb2
from tools.netload import load_net_param
from tools.shapes import blob_shapes

HELP = "draw a net as a Graphviz graph (DOT; SVG or PNG with Graphviz installed)"
COLOURS = {"Convolution": "#ff9966", "Deconvolution": "#ffcc66", "Pooling": "#99ccff", "ReLU": "#dddddd",
           "Crop": "#cc99ff", "Eltwise": "#99ff99", "SoftmaxWithLoss": "#ff6666"}


def add_arguments(parser):
    parser.add_argument("model", metavar="NET", help="net prototxt (or a published model name)")
    parser.add_argument("--out", required=True, help="FILE.dot, FILE.svg or FILE.png")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"], default="TEST")
    parser.add_argument("--rankdir", choices=["LR", "TB", "BT", "RL"], default="LR")


def describe(layer):
    """The layer's main parameters, one per line."""
    lines = [f"{layer.name}", f"({layer.type})"]
    if layer.type in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        lines.append(f"{p.num_output} out, kernel {list(p.kernel_size) or [p.kernel_h, p.kernel_w]}")
        extras = [f"stride {list(p.stride)}" if len(p.stride) else "", f"pad {list(p.pad)}" if len(p.pad) else "",
                  f"group {p.group}" if p.group != 1 else ""]
        lines.extend(e for e in extras if e)
    elif layer.type == "Pooling":
        p = layer.pooling_param
        lines.append(f"{caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)} {p.kernel_size}, stride {p.stride}")
    elif layer.type == "Crop":
        p = layer.crop_param
        lines.append(f"axis {p.axis}, offset {list(p.offset)}")
    elif layer.type == "Eltwise":
        lines.append(caffe_pb2.EltwiseParameter.EltwiseOp.Name(layer.eltwise_param.operation))
    elif layer.type == "Dropout":
        lines.append(f"ratio {layer.dropout_param.dropout_ratio:g}")
    return "\\n".join(lines)


def quote(text):
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(net_param, shapes, rankdir="LR"):
    out = [f"digraph {quote(net_param.name or 'net')} {{", f"  rankdir={rankdir};",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=8];']
    producer = {}
    for i, layer in enumerate(net_param.layer):
        node = f"layer{i}"
        colour = COLOURS.get(layer.type, "#eeeeee")
        out.append(f"  {node} [label={quote(describe(layer))}, fillcolor={quote(colour)}];")
        for bottom in layer.bottom:
            if bottom not in producer:
                producer[bottom] = f"blob_{len(producer)}"
                out.append(f"  {producer[bottom]} [label={quote(bottom)}, shape=ellipse, style=solid];")
            shape = " x ".join(map(str, shapes.get(bottom, [])))
            label = f"{bottom}\\n{shape}" if shape else bottom
            out.append(f"  {producer[bottom]} -> {node} [label={quote(label)}];")
        for top in layer.top:
            producer[top] = node
    out.append("}")
    return "\n".join(out) + "\n"


def run(args):
    kind = args.out.rsplit(".", 1)[-1].lower()
    if kind not in ("dot", "svg", "png"):
        raise FCNError(f"--out {args.out!r}: name a .dot, .svg or .png file")
    net_param, source = load_net_param(args.model)
    state = caffe_pb2.NetState(phase=phase_value(args.phase))
    filtered = filter_net(net_param, state)
    try:
        shapes = blob_shapes(args.model) if args.phase == "TEST" else {}
    except FCNError:
        shapes = {}      # a net that cannot be shaped is still drawn
    dot = to_dot(filtered, shapes, args.rankdir)
    if kind == "dot":
        write_atomic(args.out, dot)
        return 0
    program = shutil.which("dot")
    if program is None:
        raise FCNError(f"--out {args.out}: Graphviz's `dot` is not installed; write a .dot file instead")
    done = subprocess.run([program, f"-T{kind}"], input=dot.encode(), capture_output=True)
    if done.returncode:
        raise FCNError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    write_atomic(args.out, done.stdout)
    return 0
