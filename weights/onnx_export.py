"""A TEST net as an ONNX model (the `onnx` extra), weights as initializers.

Every layer becomes the ONNX operators that compute exactly what Caffe
computes: Convolution and Deconvolution as Conv and ConvTranspose (Caffe's
weight layouts are ONNX's), Pooling with ceil rounding and AVE's divisor
over the padded image (as ONNX's ceil_mode and count_include_pad give
them), Crop as a Slice whose ends come from the reference blob's runtime
shape, LRN within a channel as squares average-pooled, and so on. Fully
convolutional nets get symbolic height and width: one file runs at every
size the prototxt accepts. Layers ONNX has nothing for (data, Python,
losses) are cut before, as `fcn infer` cuts them; one the output needs is
an error naming it.
"""
from __future__ import annotations

import numpy as np

from common.errors import FCNError
from netspec import caffe_pb2

OPSET = 21
PP = caffe_pb2.PoolingParameter
EP = caffe_pb2.EltwiseParameter
# Layers after which the spatial size is no longer free.
FIXED_SIZE = {"InnerProduct", "Flatten", "Reshape"}


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise FCNError("ONNX export needs the onnx package: pip install 'fcn-caffe[onnx]'") from None
    return onnx, helper, numpy_helper, TensorProto


class Graph:
    """Nodes, initializers and unique names being gathered."""

    def __init__(self):
        self.onnx, self.helper, self.numpy_helper, self.TensorProto = _onnx()
        self.nodes, self.initializers, self.count = [], [], 0

    def const(self, name, array, dtype=np.float32):
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def temp(self, hint):
        self.count += 1
        return f"{hint}__{self.count}"

    def node(self, op, inputs, outputs, name="", **attrs):
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=name or outputs[0], **attrs))
        return outputs[0]


def _window(param, kind):
    from netspec.geometry import fields_of, read_window
    p = param.convolution_param if kind != "Pooling" else param.pooling_param
    return read_window(fields_of(p), f"layer {param.name!r} ({param.type})")


def export(net, path, inputs=None, output=None):
    """Write `net` (a built TEST Net with its weights) to `path` as ONNX.
    Returns (input names, output name, symbolic size)."""
    g = Graph()
    types = {layer.param.type for layer in net.layers}
    symbolic = not (types & FIXED_SIZE)
    inputs = inputs or {}
    graph_inputs = []
    for name in net.inputs:
        shape = list(inputs.get(name, net.blobs[name].shape))
        dims = [shape[0], shape[1], "height", "width"] if symbolic and len(shape) == 4 else shape
        graph_inputs.append(g.helper.make_tensor_value_info(name, g.TensorProto.FLOAT, dims))
    # Every value written once (ONNX's rule): an in-place layer's top gets a
    # new name, and readers after it follow.
    current = {name: name for name in net.inputs}
    written = set(net.inputs)
    for layer, bottom, top in zip(net.layers, net.bottom_vecs, net.top_vecs):
        if layer.param.type == "Input":
            continue
        reads = [current[b.name] for b in bottom]
        writes = []
        for t in top:
            fresh = t.name if t.name not in written else f"{t.name}__{layer.name}"
            written.add(fresh)
            current[t.name] = fresh
            writes.append(fresh)
        _convert(g, layer, reads, writes, [b.shape for b in bottom])
    output = output or net.top_vecs[-1][-1].name
    if output not in net.blobs:
        raise FCNError(f"--output {output!r} is not a blob of the net")
    if current[output] != output:
        g.node("Identity", [current[output]], [output], f"{output}__output")
    out_shape = list(net.blobs[output].shape)
    if symbolic and len(out_shape) == 4:
        out_shape = [out_shape[0], out_shape[1], "out_height", "out_width"]
    graph = g.helper.make_graph(g.nodes, net.name or "net", graph_inputs,
                                [g.helper.make_tensor_value_info(output, g.TensorProto.FLOAT, out_shape)],
                                g.initializers)
    model = g.helper.make_model(graph, opset_imports=[g.helper.make_opsetid("", OPSET)],
                                producer_name="fcn-caffe")
    model.ir_version = 10
    try:
        g.onnx.checker.check_model(model)
    except g.onnx.checker.ValidationError as err:
        raise FCNError(f"the ONNX graph does not check: {err}") from None
    from common.atomic import atomic_path
    with atomic_path(path) as tmp:
        g.onnx.save(model, tmp)
    return [i.name for i in graph_inputs], output, symbolic


def _convert(g, layer, bottom, top, shapes):
    p, kind, name = layer.param, layer.param.type, layer.name
    blobs = [b.data for b in layer.blobs]
    if kind == "Input":
        return
    if kind in ("Convolution", "Deconvolution"):
        w = _window(p, kind)
        c = p.convolution_param
        args = [bottom[0], g.const(f"{name}/0", blobs[0])]
        if c.bias_term:
            args.append(g.const(f"{name}/1", blobs[1]))
        op = "Conv" if kind == "Convolution" else "ConvTranspose"
        g.node(op, args, [top[0]], name, kernel_shape=list(w.kernel), strides=list(w.stride),
               pads=list(w.pad) * 2, dilations=list(w.dilation), group=c.group)
    elif kind == "Pooling":
        q = p.pooling_param
        if q.pool not in (PP.MAX, PP.AVE):
            raise FCNError(f"layer {name!r} (Pooling): {PP.PoolMethod.Name(q.pool)} has no ONNX equivalent")
        if len(top) > 1:
            raise FCNError(f"layer {name!r} (Pooling): the mask top has no ONNX equivalent")
        if q.global_pooling:
            g.node("GlobalMaxPool" if q.pool == PP.MAX else "GlobalAveragePool", [bottom[0]], [top[0]], name)
            return
        w = _window(p, kind)
        attrs = dict(kernel_shape=list(w.kernel), strides=list(w.stride), pads=list(w.pad) * 2,
                     ceil_mode=int(q.round_mode == PP.CEIL))
        if q.pool == PP.MAX:
            g.node("MaxPool", [bottom[0]], [top[0]], name, **attrs)
        else:
            g.node("AveragePool", [bottom[0]], [top[0]], name, count_include_pad=1, **attrs)
    elif kind == "Crop":
        _crop(g, layer, bottom, top)
    elif kind == "Eltwise":
        e = p.eltwise_param
        if e.operation == EP.SUM:
            coeffs = list(e.coeff) or [1.0] * len(bottom)
            terms = []
            for b, k in zip(bottom, coeffs):
                terms.append(b if k == 1 else g.node("Mul", [b, g.const(g.temp(f"{name}_coeff"), k)],
                                                     [g.temp(f"{name}_term")]))
            g.node("Sum", terms, [top[0]], name)
        else:
            if e.operation == EP.MAX:
                g.node("Max", bottom, [top[0]], name)
            else:
                _chain(g, "Mul", bottom, top[0], name)
    elif kind == "Concat":
        g.node("Concat", bottom, [top[0]], name, axis=p.concat_param.axis)
    elif kind == "Slice":
        q = p.slice_param
        axis = q.axis if q.axis >= 0 else q.axis + len(shapes[0])
        size = shapes[0][axis]
        points = list(q.slice_point) or [size * i // len(top) for i in range(1, len(top))]
        parts = [b - a for a, b in zip([0] + points, points + [size])]
        g.node("Split", [bottom[0], g.const(g.temp(f"{name}_split"), parts, np.int64)], top, name, axis=axis)
    elif kind == "Split":
        for t in top:
            g.node("Identity", [bottom[0]], [t], f"{name}/{t}")
    elif kind == "Dropout":
        g.node("Identity", [bottom[0]], [top[0]], name)
    elif kind == "ReLU":
        slope = p.relu_param.negative_slope
        g.node("LeakyRelu" if slope else "Relu", [bottom[0]], [top[0]], name, **({"alpha": slope} if slope else {}))
    elif kind in ("Sigmoid", "TanH", "AbsVal", "BNLL"):
        op = {"Sigmoid": "Sigmoid", "TanH": "Tanh", "AbsVal": "Abs", "BNLL": "Softplus"}[kind]
        g.node(op, [bottom[0]], [top[0]], name)
    elif kind == "ELU":
        g.node("Elu", [bottom[0]], [top[0]], name, alpha=p.elu_param.alpha)
    elif kind == "PReLU":
        slope = blobs[0]
        shape = [-1, 1, 1] if slope.size > 1 else [1]
        g.node("PRelu", [bottom[0], g.const(f"{name}/0", slope.reshape(shape))], [top[0]], name)
    elif kind == "Softmax":
        g.node("Softmax", [bottom[0]], [top[0]], name, axis=p.softmax_param.axis)
    elif kind == "InnerProduct":
        q = p.inner_product_param
        flat = g.node("Flatten", [bottom[0]], [g.temp(f"{name}_flat")], axis=q.axis)
        args = [flat, g.const(f"{name}/0", blobs[0])] + ([g.const(f"{name}/1", blobs[1])] if q.bias_term else [])
        g.node("Gemm", args, [top[0]], name, transB=0 if q.transpose else 1)
    elif kind == "Flatten":
        q = p.flatten_param
        if q.end_axis not in (-1,):
            raise FCNError(f"layer {name!r} (Flatten): only end_axis -1 is exported")
        g.node("Flatten", [bottom[0]], [top[0]], name, axis=q.axis)
    elif kind == "Reshape":
        q = p.reshape_param
        if q.axis != 0 or q.num_axes != -1:
            raise FCNError(f"layer {name!r} (Reshape): only a whole-shape reshape is exported")
        g.node("Reshape", [bottom[0], g.const(g.temp(f"{name}_shape"), list(q.shape.dim), np.int64)],
               [top[0]], name)
    elif kind == "BatchNorm":
        factor = float(blobs[2][0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        channels = blobs[0].size
        args = [bottom[0], g.const(g.temp(f"{name}_one"), np.ones(channels)),
                g.const(g.temp(f"{name}_zero"), np.zeros(channels)),
                g.const(f"{name}/0", blobs[0] * factor), g.const(f"{name}/1", blobs[1] * factor)]
        g.node("BatchNormalization", args, [top[0]], name, epsilon=p.batch_norm_param.eps)
    elif kind in ("Scale", "Bias"):
        _scale_bias(g, layer, bottom, top, blobs)
    elif kind == "LRN":
        _lrn(g, layer, bottom, top)
    elif kind == "Power":
        q = p.power_param
        x = bottom[0]
        if q.scale != 1:
            x = g.node("Mul", [x, g.const(g.temp(f"{name}_scale"), q.scale)], [g.temp(name)])
        if q.shift != 0:
            x = g.node("Add", [x, g.const(g.temp(f"{name}_shift"), q.shift)], [g.temp(name)])
        if q.power != 1:
            x = g.node("Pow", [x, g.const(g.temp(f"{name}_power"), q.power)], [g.temp(name)])
        g.node("Identity", [x], [top[0]], name)
    elif kind in ("Exp", "Log"):
        q = p.exp_param if kind == "Exp" else p.log_param
        x = bottom[0]
        if q.scale != 1:
            x = g.node("Mul", [x, g.const(g.temp(f"{name}_scale"), q.scale)], [g.temp(name)])
        if q.shift != 0:
            x = g.node("Add", [x, g.const(g.temp(f"{name}_shift"), q.shift)], [g.temp(name)])
        if kind == "Exp":
            if q.base != -1:       # base^y = e^(y ln base)
                x = g.node("Mul", [x, g.const(g.temp(f"{name}_ln"), np.log(q.base))], [g.temp(name)])
            x = g.node("Exp", [x], [g.temp(name)])
        else:
            x = g.node("Log", [x], [g.temp(name)])
            if q.base != -1:
                x = g.node("Div", [x, g.const(g.temp(f"{name}_ln"), np.log(q.base))], [g.temp(name)])
        g.node("Identity", [x], [top[0]], name)
    elif kind == "Threshold":
        above = g.node("Greater", [bottom[0], g.const(g.temp(f"{name}_t"), p.threshold_param.threshold)],
                       [g.temp(name)])
        g.node("Cast", [above], [top[0]], name, to=g.TensorProto.FLOAT)
    elif kind == "ArgMax":
        q = p.argmax_param
        if q.top_k != 1 or q.out_max_val or not q.HasField("axis"):
            raise FCNError(f"layer {name!r} (ArgMax): only top_k 1 along an axis is exported")
        index = g.node("ArgMax", [bottom[0]], [g.temp(name)], axis=q.axis, keepdims=1)
        g.node("Cast", [index], [top[0]], name, to=g.TensorProto.FLOAT)
    else:
        raise FCNError(f"layer {name!r} ({kind}) has no ONNX equivalent here; cut it from the net "
                       "or choose another --output")


def _chain(g, op, inputs, out, name):
    value = inputs[0]
    for i, other in enumerate(inputs[1:]):
        last = i == len(inputs) - 2
        value = g.node(op, [value, other], [out if last else g.temp(name)], name if last else "")
    return value


def _scale_bias(g, layer, bottom, top, blobs):
    p, name = layer.param, layer.name
    q = p.scale_param if p.type == "Scale" else p.bias_param
    axis = q.axis if q.axis >= 0 else q.axis + 4
    if axis != 1:
        raise FCNError(f"layer {name!r} ({p.type}): only axis 1 is exported")
    x = bottom[0]
    k = 0
    if len(bottom) > 1:
        factor = bottom[1]
    else:
        shape = blobs[0].shape
        factor = g.const(f"{name}/0", blobs[0].reshape(shape + (1,) * (3 - len(shape))))
        k = 1
    if p.type == "Scale":
        x = g.node("Mul", [x, factor], [g.temp(name)])
        if q.bias_term:
            bias = blobs[k]
            x = g.node("Add", [x, g.const(f"{name}/{k}", bias.reshape(bias.shape + (1,) * (3 - bias.ndim)))],
                       [g.temp(name)])
    else:
        x = g.node("Add", [x, factor], [g.temp(name)])
    g.node("Identity", [x], [top[0]], name)


def _lrn(g, layer, bottom, top):
    p, name = layer.param, layer.name
    q = p.lrn_param
    if q.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS:
        g.node("LRN", [bottom[0]], [top[0]], name, size=q.local_size, alpha=q.alpha, beta=q.beta, bias=q.k)
        return
    # Within a channel: x * (1 + alpha * mean of squares over the size x size window)^-beta
    pad = (q.local_size - 1) // 2
    square = g.node("Mul", [bottom[0], bottom[0]], [g.temp(name)])
    mean = g.node("AveragePool", [square], [g.temp(name)], kernel_shape=[q.local_size] * 2, strides=[1, 1],
                  pads=[pad] * 4, count_include_pad=1)
    scaled = g.node("Mul", [mean, g.const(g.temp(f"{name}_alpha"), q.alpha)], [g.temp(name)])
    base = g.node("Add", [scaled, g.const(g.temp(f"{name}_one"), 1.0)], [g.temp(name)])
    power = g.node("Pow", [base, g.const(g.temp(f"{name}_beta"), -q.beta)], [g.temp(name)])
    g.node("Mul", [bottom[0], power], [top[0]], name)


def _crop(g, layer, bottom, top):
    """Slice the first bottom from the offsets to the reference's runtime size."""
    p, name = layer.param, layer.name
    q = p.crop_param
    axis = q.axis if q.axis >= 0 else q.axis + 4
    axes = list(range(axis, 4))
    offsets = list(q.offset) or [0]
    offsets = offsets * len(axes) if len(offsets) == 1 else offsets
    starts = g.const(g.temp(f"{name}_starts"), offsets, np.int64)
    shape = g.node("Shape", [bottom[1]], [g.temp(name)])
    sizes = g.node("Slice", [shape, g.const(g.temp(f"{name}_a"), [axis], np.int64),
                             g.const(g.temp(f"{name}_b"), [4], np.int64)], [g.temp(name)])
    ends = g.node("Add", [starts, sizes], [g.temp(name)])
    g.node("Slice", [bottom[0], starts, ends, g.const(g.temp(f"{name}_axes"), axes, np.int64)], [top[0]], name)
