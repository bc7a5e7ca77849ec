"""Building a Net from what a user names on the command line."""
import os

from common.errors import FCNError
from core.net import Net
from netspec import caffe_pb2, fcn_models, read_net
from weights.caffemodel import copy_weights

# Python data-layer tops that hold one channel; every other image top has three.
ONE_CHANNEL_TOPS = {"label", "sem", "geo", "depth"}


def load_net_param(model, train=False):
    """A prototxt path, or the name of a published model (its val/test net,
    or its train net if `train`)."""
    if not os.path.isfile(model) and model in fcn_models.model_names(extras=True):
        return fcn_models.net(model, fcn_models.splits(model)[0 if train else 1]), model
    net_param = read_net(model)
    if not len(net_param.layer):
        name = f"net {net_param.name!r}" if net_param.name else "the net"
        raise FCNError(f"{model}: {name} has no layers; nothing to run")
    return net_param, model


def parse_inputs(specs):
    """['data=1,3,500,500', ...] -> {'data': (1, 3, 500, 500)}."""
    shapes = {}
    for spec in specs or []:
        name, _, dims = spec.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise FCNError(f"--input {spec!r}: expected NAME=D1,D2,... with whole numbers") from None
        if not name or not shapes[name] or min(shapes[name]) <= 0:
            raise FCNError(f"--input {spec!r}: expected NAME=D1,D2,... with positive dims")
    return shapes


def with_inputs(net_param, size, shapes):
    """Python data layers replaced by Input layers of the same tops, shaped
    1 x C x H x W (C from ONE_CHANNEL_TOPS, else 3) unless `shapes` says."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    h, w = size
    for layer in out.layer:
        if layer.type != "Python" or len(layer.bottom):
            continue
        tops, name = list(layer.top), layer.name
        layer.Clear()
        layer.name, layer.type = name, "Input"
        layer.top.extend(tops)
        for top in tops:
            dims = shapes.get(top) or (1, 1 if top in ONE_CHANNEL_TOPS else 3, h, w)
            layer.input_param.shape.add().dim.extend(dims)
    for layer in out.layer:
        if layer.type == "Input":
            for top, shape in zip(layer.top, layer.input_param.shape):
                if top in shapes:
                    shape.ClearField("dim")
                    shape.dim.extend(shapes[top])
    return out


def build_net(model, phase="TEST", weights=None, keep_blobs=False, options=None):
    net_param, source = load_net_param(model)
    net = Net(net_param, phase, source=source, keep_blobs=keep_blobs, options=options)
    if weights:
        copy_weights(net, weights)
    return net


def image_net(model):
    """The net `model` names, cut down to what an image alone feeds: data
    layers become Inputs, and every input but the image (labels), with
    each layer that depends on one (losses, accuracies), is dropped. A
    published model's name gives its deploy net."""
    if not os.path.isfile(model) and model in fcn_models.model_names(extras=True):
        return fcn_models.net(model, "deploy"), model
    net_param, source = load_net_param(model)
    net_param = with_inputs(net_param, (fcn_models.DEPLOY_SIZE, fcn_models.DEPLOY_SIZE), {})
    inputs = [(layer, top) for layer in net_param.layer if layer.type == "Input" for top in layer.top]
    if not inputs:
        raise FCNError(f"{source}: no Input (or data) layer to feed images into")
    image = "data" if any(top == "data" for _, top in inputs) else inputs[0][1]
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    out.ClearField("layer")
    dropped = set()
    for layer in net_param.layer:
        if layer.type == "Input":
            shapes = [s for top, s in zip(layer.top, layer.input_param.shape) if top == image]
            dropped.update(top for top in layer.top if top != image)
            if not shapes:
                continue
            kept = out.layer.add()
            kept.CopyFrom(layer)
            kept.ClearField("top")
            kept.top.append(image)
            kept.input_param.ClearField("shape")
            kept.input_param.shape.add().CopyFrom(shapes[0])
        elif any(b in dropped for b in layer.bottom):
            dropped.update(layer.top)
        else:
            out.layer.add().CopyFrom(layer)
    return out, source
