"""Upgrading old nets and solvers on read, as Caffe's upgrade_proto does.

Order matters and follows Caffe: V0 layers become V1, V1 data layers move
their transformation fields into transform_param, V1 layers become V2,
net-level inputs become an Input layer, old BatchNorm param specs are fixed.
"""
from common.errors import FCNError
from netspec import caffe_pb2

V1 = caffe_pb2.V1LayerParameter

# V1's enum names to the type strings of V2 layers.
V1_TYPE_NAMES = {
    V1.NONE: "", V1.ABSVAL: "AbsVal", V1.ACCURACY: "Accuracy", V1.ARGMAX: "ArgMax",
    V1.BNLL: "BNLL", V1.CONCAT: "Concat", V1.CONTRASTIVE_LOSS: "ContrastiveLoss",
    V1.CONVOLUTION: "Convolution", V1.DECONVOLUTION: "Deconvolution", V1.DATA: "Data",
    V1.DROPOUT: "Dropout", V1.DUMMY_DATA: "DummyData", V1.EUCLIDEAN_LOSS: "EuclideanLoss",
    V1.ELTWISE: "Eltwise", V1.EXP: "Exp", V1.FLATTEN: "Flatten", V1.HDF5_DATA: "HDF5Data",
    V1.HDF5_OUTPUT: "HDF5Output", V1.HINGE_LOSS: "HingeLoss", V1.IM2COL: "Im2col",
    V1.IMAGE_DATA: "ImageData", V1.INFOGAIN_LOSS: "InfogainLoss",
    V1.INNER_PRODUCT: "InnerProduct", V1.LRN: "LRN", V1.MEMORY_DATA: "MemoryData",
    V1.MULTINOMIAL_LOGISTIC_LOSS: "MultinomialLogisticLoss", V1.MVN: "MVN",
    V1.POOLING: "Pooling", V1.POWER: "Power", V1.RELU: "ReLU", V1.SIGMOID: "Sigmoid",
    V1.SIGMOID_CROSS_ENTROPY_LOSS: "SigmoidCrossEntropyLoss", V1.SILENCE: "Silence",
    V1.SOFTMAX: "Softmax", V1.SOFTMAX_LOSS: "SoftmaxWithLoss", V1.SPLIT: "Split",
    V1.SLICE: "Slice", V1.TANH: "TanH", V1.WINDOW_DATA: "WindowData",
    V1.THRESHOLD: "Threshold",
}

# V0's type strings to V1's enum.
V0_TYPES = {
    "accuracy": V1.ACCURACY, "bnll": V1.BNLL, "concat": V1.CONCAT, "conv": V1.CONVOLUTION,
    "data": V1.DATA, "dropout": V1.DROPOUT, "euclidean_loss": V1.EUCLIDEAN_LOSS,
    "flatten": V1.FLATTEN, "hdf5_data": V1.HDF5_DATA, "hdf5_output": V1.HDF5_OUTPUT,
    "im2col": V1.IM2COL, "images": V1.IMAGE_DATA, "infogain_loss": V1.INFOGAIN_LOSS,
    "innerproduct": V1.INNER_PRODUCT, "lrn": V1.LRN,
    "multinomial_logistic_loss": V1.MULTINOMIAL_LOGISTIC_LOSS, "pool": V1.POOLING,
    "relu": V1.RELU, "sigmoid": V1.SIGMOID, "softmax": V1.SOFTMAX,
    "softmax_loss": V1.SOFTMAX_LOSS, "split": V1.SPLIT, "tanh": V1.TANH,
    "window_data": V1.WINDOW_DATA,
}

SOLVER_TYPE_NAMES = {0: "SGD", 1: "Nesterov", 2: "AdaGrad", 3: "RMSProp", 4: "AdaDelta", 5: "Adam"}


def upgrade_net(net, source="<net>"):
    """Upgrade `net` in place to the current format and return it."""
    if any(v1.HasField("layer") for v1 in net.layers):
        _upgrade_v0_net(net, source)
    _upgrade_data_transformation(net)
    if len(net.layers):
        if len(net.layer):
            raise FCNError(f"{source}: the net has both 'layer' and 'layers' fields; "
                           "Caffe refuses such a mix and so do we")
        for v1 in net.layers:
            _upgrade_v1_layer(v1, net.layer.add(), source)
        net.ClearField("layers")
    _upgrade_net_input(net, source)
    for layer in net.layer:
        # Old BatchNorm definitions declared three params meant to stay fixed.
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0
                spec.decay_mult = 0
    return net


def upgrade_solver(solver, source="<solver>"):
    if solver.HasField("solver_type"):
        if solver.HasField("type"):
            raise FCNError(f"{source}: give either the old 'solver_type' or the new 'type', not both")
        solver.type = SOLVER_TYPE_NAMES[solver.solver_type]
        solver.ClearField("solver_type")
    return solver


def _upgrade_v1_layer(v1, layer, source):
    layer.bottom.extend(v1.bottom)
    layer.top.extend(v1.top)
    if v1.HasField("name"):
        layer.name = v1.name
    layer.include.extend(v1.include)
    layer.exclude.extend(v1.exclude)
    if v1.HasField("type"):
        layer.type = V1_TYPE_NAMES[v1.type]
    layer.blobs.extend(v1.blobs)

    def spec(i):
        while len(layer.param) <= i:
            layer.param.add()
        return layer.param[i]

    for i, name in enumerate(v1.param):
        spec(i).name = name
    for i, mode in enumerate(v1.blob_share_mode):
        spec(i).share_mode = mode
    for i, lr in enumerate(v1.blobs_lr):
        spec(i).lr_mult = lr
    for i, decay in enumerate(v1.weight_decay):
        spec(i).decay_mult = decay
    layer.loss_weight.extend(v1.loss_weight)
    for field, value in v1.ListFields():
        if field.name.endswith("_param") and field.name != "param":
            getattr(layer, field.name).CopyFrom(value)
    if v1.HasField("layer"):
        raise FCNError(f"{source}: layer {v1.name!r} mixes V1 and V0 definitions")


def _upgrade_data_transformation(net):
    owners = {V1.DATA: "data_param", V1.IMAGE_DATA: "image_data_param",
              V1.WINDOW_DATA: "window_data_param"}
    for v1 in net.layers:
        owner = owners.get(v1.type)
        if owner is None or not v1.HasField(owner):
            continue
        params = getattr(v1, owner)
        for name in ("scale", "mean_file", "crop_size", "mirror"):
            if params.HasField(name):
                setattr(v1.transform_param, name, getattr(params, name))
                params.ClearField(name)


def _upgrade_net_input(net, source):
    if not len(net.input):
        return
    has_shape, has_dim = len(net.input_shape) > 0, len(net.input_dim) > 0
    if has_shape or has_dim:
        if has_shape and len(net.input_shape) != len(net.input):
            raise FCNError(f"{source}: {len(net.input)} inputs but {len(net.input_shape)} input_shape entries")
        if has_dim and not has_shape and len(net.input_dim) != 4 * len(net.input):
            raise FCNError(f"{source}: {len(net.input)} inputs need {4 * len(net.input)} "
                           f"input_dim values, got {len(net.input_dim)}")
        layer = caffe_pb2.LayerParameter(name="input", type="Input")
        for i, name in enumerate(net.input):
            layer.top.append(name)
            shape = layer.input_param.shape.add()
            if has_shape:
                shape.CopyFrom(net.input_shape[i])
            else:
                shape.dim.extend(net.input_dim[4 * i:4 * i + 4])
        layers = [layer] + list(net.layer)
        net.ClearField("layer")
        net.layer.extend(layers)
    # An input without shape is a legacy caffemodel: dropping it is enough.
    net.ClearField("input")
    net.ClearField("input_shape")
    net.ClearField("input_dim")


def _upgrade_v0_net(net, source):
    """V0 layers (`layers { layer { type: "conv" ... } }`) to V1."""
    old = list(net.layers)
    # A V0 "padding" layer folds into the convolution or pooling it feeds.
    padding = {}
    kept = []
    for v1 in old:
        v0 = v1.layer
        if v0.type == "padding":
            if len(v1.bottom) != 1 or len(v1.top) != 1:
                raise FCNError(f"{source}: padding layer {v0.name!r} needs one bottom and one top")
            padding[v1.top[0]] = (v1.bottom[0], v0.pad)
            continue
        kept.append(v1)
    net.ClearField("layers")
    for old_layer in kept:
        new = net.layers.add()
        new.bottom.extend(old_layer.bottom)
        new.top.extend(old_layer.top)
        v0 = old_layer.layer
        for i, bottom in enumerate(new.bottom):
            if bottom in padding:
                if v0.type not in ("conv", "pool"):
                    raise FCNError(f"{source}: padding feeds {v0.type} layer {v0.name!r}; "
                                   "only conv and pool can absorb it")
                new.bottom[i], pad = padding[bottom]
                if v0.type == "conv":
                    new.convolution_param.pad.append(pad)
                else:
                    new.pooling_param.pad = pad
        _upgrade_v0_layer(v0, new, source)


def _upgrade_v0_layer(v0, v1, source):
    if v0.HasField("name"):
        v1.name = v0.name
    kind = v0.type
    if v0.HasField("type"):
        if kind not in V0_TYPES:
            raise FCNError(f"{source}: V0 layer {v0.name!r} has unknown type {kind!r}")
        v1.type = V0_TYPES[kind]
    v1.blobs.extend(v0.blobs)
    v1.blobs_lr.extend(v0.blobs_lr)
    v1.weight_decay.extend(v0.weight_decay)
    conv, pool = kind == "conv", kind == "pool"
    inner = kind == "innerproduct"
    data_params = {"data": v1.data_param, "images": v1.image_data_param,
                   "hdf5_data": v1.hdf5_data_param, "window_data": v1.window_data_param}

    def has(name):
        return v0.HasField(name)

    if has("num_output"):
        (v1.convolution_param if conv else v1.inner_product_param).num_output = v0.num_output
    if has("biasterm"):
        (v1.convolution_param if conv else v1.inner_product_param).bias_term = v0.biasterm
    for name in ("weight_filler", "bias_filler"):
        if has(name):
            getattr(v1.convolution_param if conv else v1.inner_product_param, name).CopyFrom(getattr(v0, name))
    if has("pad"):
        if conv:
            v1.convolution_param.pad.append(v0.pad)
        elif pool:
            v1.pooling_param.pad = v0.pad
    if has("kernelsize"):
        if conv:
            v1.convolution_param.kernel_size.append(v0.kernelsize)
        elif pool:
            v1.pooling_param.kernel_size = v0.kernelsize
    if has("group") and conv:
        v1.convolution_param.group = v0.group
    if has("stride"):
        if conv:
            v1.convolution_param.stride.append(v0.stride)
        elif pool:
            v1.pooling_param.stride = v0.stride
    if has("pool"):
        v1.pooling_param.pool = v0.pool
    if has("dropout_ratio"):
        v1.dropout_param.dropout_ratio = v0.dropout_ratio
    for name in ("local_size", "alpha", "beta", "k"):
        if has(name):
            setattr(v1.lrn_param, name, getattr(v0, name))
    if kind in data_params:
        target = data_params[kind]
        if has("source"):
            target.source = v0.source
        if has("batchsize"):
            target.batch_size = v0.batchsize
        if has("rand_skip") and kind != "hdf5_data":
            target.rand_skip = v0.rand_skip
    if has("scale"):
        v1.transform_param.scale = v0.scale
    if has("meanfile"):
        v1.transform_param.mean_file = v0.meanfile
    if has("cropsize"):
        v1.transform_param.crop_size = v0.cropsize
    if has("mirror"):
        v1.transform_param.mirror = v0.mirror
    if has("shuffle_images"):
        v1.image_data_param.shuffle = v0.shuffle_images
    if has("new_height"):
        v1.image_data_param.new_height = v0.new_height
    if has("new_width"):
        v1.image_data_param.new_width = v0.new_width
    if has("concat_dim"):
        v1.concat_param.concat_dim = v0.concat_dim
    if has("hdf5_output_param"):
        v1.hdf5_output_param.CopyFrom(v0.hdf5_output_param)
    for name, target in (("det_fg_threshold", "fg_threshold"), ("det_bg_threshold", "bg_threshold"),
                         ("det_fg_fraction", "fg_fraction"), ("det_context_pad", "context_pad"),
                         ("det_crop_mode", "crop_mode")):
        if has(name):
            setattr(v1.window_data_param, target, getattr(v0, name))
    if inner and v1.HasField("convolution_param"):
        raise FCNError(f"{source}: layer {v0.name!r} mixes inner product and convolution fields")
