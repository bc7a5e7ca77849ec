"""The 15 nets of the FCN release, written with NetSpec.

One function per family builds a split's net: `voc_fcn8s('train')`. Splits
are 'train'/'val' (VOC, PASCAL-Context) or 'trainval'/'test' (NYUD, SIFT
Flow), plus 'deploy' for every model: an Input layer in place of the data
layer, and no Dropout (the identity at test time) and no loss, as in the
release's voc-fcn8s/deploy.prototxt. `widths` narrows the VGG/AlexNet layers
(the reference data and the synthetic demo use narrow nets).
"""
from common.errors import FCNError
from netspec import caffe_pb2, unpooling
from netspec.coord_map import crop
from netspec.net_spec import NetSpec
from netspec.net_spec import layers as L
from netspec.net_spec import params as P

MEAN_BGR = (104.00699, 116.66877, 122.67892)
DEPLOY_SIZE = 500
LEARN = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
FROZEN = [dict(lr_mult=0)]
FULL_WIDTHS = {64: 64, 128: 128, 256: 256, 512: 512, 4096: 4096, 96: 96, 384: 384}
NARROW_WIDTHS = {64: 4, 128: 8, 256: 16, 512: 32, 4096: 64, 96: 6, 384: 24}


class Builder:
    """Layer helpers that share a net's width table and phase."""

    def __init__(self, split, widths=None):
        self.n = NetSpec()
        self.deploy = split == "deploy"
        self.widths = widths or FULL_WIDTHS

    def conv_relu(self, name, relu, bottom, nout, ks=3, pad=1, stride=1, group=None, learn=True):
        extra = {} if group is None else {"group": group}
        kwargs = dict(param=LEARN) if learn else {}
        self.n[name] = L.Convolution(bottom, kernel_size=ks, stride=stride, num_output=self.widths[nout],
                                     pad=pad, **extra, **kwargs)
        self.n[relu] = L.ReLU(self.n[name], in_place=True)
        return self.n[name]

    def max_pool(self, name, bottom, ks=2, stride=2):
        self.n[name] = L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=ks, stride=stride)
        return self.n[name]

    def dropout(self, name, bottom):
        if not self.deploy:
            self.n[name] = L.Dropout(bottom, dropout_ratio=0.5, in_place=True)

    def score(self, name, bottom, nclass):
        self.n[name] = L.Convolution(bottom, num_output=nclass, kernel_size=1, pad=0, param=LEARN)
        return self.n[name]

    def upsample(self, name, bottom, nclass, ks, stride):
        self.n[name] = L.Deconvolution(
            bottom, param=FROZEN,
            convolution_param=dict(num_output=nclass, kernel_size=ks, stride=stride, bias_term=False))
        return self.n[name]

    def loss(self, name, score, label, normalize=False):
        if not self.deploy:
            self.n[name] = L.SoftmaxWithLoss(score, label,
                                             loss_param=dict(normalize=normalize, ignore_label=255))

    def inputs(self, module, layer, params, tops, channels):
        """The Python data layer, or for deploy an Input layer of the image tops."""
        if self.deploy:
            images = [(t, c) for t, c in zip(tops, channels) if c]
            shapes = [dict(dim=[1, c, DEPLOY_SIZE, DEPLOY_SIZE]) for _, c in images]
            outs = L.Input(name="input", ntop=len(images), input_param=dict(shape=shapes))
            outs = outs if len(images) > 1 else (outs,)
            for (name, _), top in zip(images, outs):
                self.n[name] = top
            return
        outs = L.Python(module=module, layer=layer, ntop=len(tops), param_str=repr(params))
        for name, top in zip(tops, outs):
            self.n[name] = top

    def vgg(self, bottom, suffix="", first="conv1_1"):
        """VGG16 through fc7 (fully convolutional); returns the fc7 top."""
        x = bottom
        for block, (count, width) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
            for i in range(1, count + 1):
                name = first if (block, i) == (1, 1) else f"conv{block}_{i}{suffix}"
                x = self.conv_relu(name, f"relu{block}_{i}{suffix}", x, width,
                                   pad=100 if (block, i) == (1, 1) else 1)
            x = self.max_pool(f"pool{block}{suffix}", x)
        x = self.conv_relu(f"fc6{suffix}", f"relu6{suffix}", x, 4096, ks=7, pad=0)
        self.dropout(f"drop6{suffix}", x)
        x = self.conv_relu(f"fc7{suffix}", f"relu7{suffix}", x, 4096, ks=1, pad=0)
        self.dropout(f"drop7{suffix}", x)
        return x

    def head(self, fc7, image, nclass, stride, sfx="", scale_pools=False):
        """Score, upsample and fuse skips at `stride` 32, 16 or 8; returns the score top."""
        n = self.n
        score = self.score(f"score_fr{sfx}", fc7, nclass)
        if stride == 32:
            up = self.upsample(f"upscore{sfx}", score, nclass, 64, 32)
        else:
            up = self.upsample(f"upscore2{sfx}", score, nclass, 4, 2)
            for pool, factor, last in (("pool4", 0.01, stride == 16), ("pool3", 0.0001, True)):
                source = n[pool]
                if scale_pools:
                    n[f"scale_{pool}"] = L.Scale(source, filler=dict(type="constant", value=factor),
                                                 param=FROZEN)
                    source = n[f"scale_{pool}"]
                side = self.score(f"score_{pool}{sfx}", source, nclass)
                n[f"score_{pool}{sfx}c"] = crop(side, up)
                fused = n[f"fuse_{pool}{sfx}"] = L.Eltwise(up, n[f"score_{pool}{sfx}c"],
                                                           operation=P.Eltwise.SUM)
                if last:
                    ks, st = (32, 16) if stride == 16 else (16, 8)
                    up = self.upsample(f"upscore{st}{sfx}", fused, nclass, ks, st)
                    break
                up = self.upsample(f"upscore_{pool}{sfx}", fused, nclass, 4, 2)
        n[f"score{sfx}"] = crop(up, image)
        return n[f"score{sfx}"]


def _voc_data(b, split, root):
    if split == "train":
        params = dict(sbdd_dir=f"{root}/sbdd/dataset", seed=1337, split="train", mean=MEAN_BGR)
        b.inputs("voc_layers", "SBDDSegDataLayer", params, ["data", "label"], [3, 0])
    else:
        params = dict(voc_dir=f"{root}/pascal/VOC2011", seed=1337, split="seg11valid", mean=MEAN_BGR)
        b.inputs("voc_layers", "VOCSegDataLayer", params, ["data", "label"], [3, 0])


def _voc(stride, root="../data", scale_pools=False):
    def build(split, widths=None):
        b = Builder(split, widths)
        _voc_data(b, split, root)
        fc7 = b.vgg(b.n.data)
        score = b.head(fc7, b.n.data, 21, stride, scale_pools=scale_pools)
        b.loss("loss", score, b.n["label"] if not b.deploy else None)
        return b.n.to_proto()
    return build


def voc_fcn_alexnet(split, widths=None):
    b = Builder(split, widths)
    n = b.n
    _voc_data(b, split, "../data")
    x = b.conv_relu("conv1", "relu1", n.data, 96, ks=11, stride=4, pad=100, group=1, learn=False)
    x = b.max_pool("pool1", x, 3, 2)
    n.norm1 = L.LRN(x, local_size=5, alpha=1e-4, beta=0.75)
    x = b.conv_relu("conv2", "relu2", n.norm1, 256, ks=5, pad=2, group=2, learn=False)
    x = b.max_pool("pool2", x, 3, 2)
    n.norm2 = L.LRN(x, local_size=5, alpha=1e-4, beta=0.75)
    x = b.conv_relu("conv3", "relu3", n.norm2, 384, ks=3, pad=1, group=1, learn=False)
    x = b.conv_relu("conv4", "relu4", x, 384, ks=3, pad=1, group=2, learn=False)
    x = b.conv_relu("conv5", "relu5", x, 256, ks=3, pad=1, group=2, learn=False)
    x = b.max_pool("pool5", x, 3, 2)
    x = b.conv_relu("fc6", "relu6", x, 4096, ks=6, pad=0, group=1, learn=False)
    b.dropout("drop6", x)
    x = b.conv_relu("fc7", "relu7", x, 4096, ks=1, pad=0, group=1, learn=False)
    b.dropout("drop7", x)
    score = b.score("score_fr", x, 21)
    up = b.upsample("upscore", score, 21, 63, 32)
    n.score = crop(up, n.data)
    b.loss("loss", n.score, n["label"] if not b.deploy else None, normalize=True)
    return n.to_proto()


# GoogLeNet's inception modules as BVLC's bvlc_googlenet has them: (name,
# 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection), a stride-2 max
# pool before the 4x and 5x modules.
INCEPTIONS = [("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
              ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64),
              ("4c", 128, 128, 256, 24, 64, 64), ("4d", 112, 144, 288, 32, 64, 64),
              ("4e", 256, 160, 320, 32, 128, 128), ("5a", 256, 160, 320, 32, 128, 128),
              ("5b", 384, 192, 384, 48, 128, 128)]


def voc_fcn_googlenet(split, widths=None):
    """FCN-GoogLeNet as the paper describes it: BVLC's GoogLeNet trunk under
    its own layer names (so that bvlc_googlenet.caffemodel loads by name),
    only the final loss (no auxiliary classifiers), the final 7x7 average
    pool discarded; then, as the other backbones, a 1x1 score layer, a 32x
    bilinear upsampling (kernel 63) and a Crop at coord_map's offsets. conv1 pads 100,
    as the other FCNs' first layers, so that every input size aligns.
    `widths` narrows the channels by the ratio it gives 64."""
    b = Builder(split, widths)
    n = b.n
    scale = b.widths[64] / 64

    def width(c):
        return max(2, int(round(c * scale)))

    def conv(name, relu, bottom, nout, ks, pad=0, stride=1):
        n[name] = L.Convolution(bottom, kernel_size=ks, stride=stride, num_output=width(nout), pad=pad, param=LEARN)
        n[relu] = L.ReLU(n[name], in_place=True)
        return n[name]

    _voc_data(b, split, "../data")
    x = conv("conv1/7x7_s2", "conv1/relu_7x7", n.data, 64, 7, pad=100, stride=2)
    n["pool1/3x3_s2"] = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    x = n["pool1/norm1"] = L.LRN(n["pool1/3x3_s2"], local_size=5, alpha=1e-4, beta=0.75)
    x = conv("conv2/3x3_reduce", "conv2/relu_3x3_reduce", x, 64, 1)
    x = conv("conv2/3x3", "conv2/relu_3x3", x, 192, 3, pad=1)
    n["conv2/norm2"] = L.LRN(x, local_size=5, alpha=1e-4, beta=0.75)
    x = n["pool2/3x3_s2"] = L.Pooling(n["conv2/norm2"], pool=P.Pooling.MAX, kernel_size=3, stride=2)
    for name, c1, r3, c3, r5, c5, proj in INCEPTIONS:
        if name in ("4a", "5a"):
            pool = "pool3/3x3_s2" if name == "4a" else "pool4/3x3_s2"
            x = n[pool] = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=2)
        m = f"inception_{name}"
        one = conv(f"{m}/1x1", f"{m}/relu_1x1", x, c1, 1)
        reduced = conv(f"{m}/3x3_reduce", f"{m}/relu_3x3_reduce", x, r3, 1)
        three = conv(f"{m}/3x3", f"{m}/relu_3x3", reduced, c3, 3, pad=1)
        reduced = conv(f"{m}/5x5_reduce", f"{m}/relu_5x5_reduce", x, r5, 1)
        five = conv(f"{m}/5x5", f"{m}/relu_5x5", reduced, c5, 5, pad=2)
        n[f"{m}/pool"] = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=1, pad=1)
        projected = conv(f"{m}/pool_proj", f"{m}/relu_pool_proj", n[f"{m}/pool"], proj, 1)
        x = n[f"{m}/output"] = L.Concat(one, three, five, projected)
    score = b.score("score_fr", x, 21)
    # 63, not 64: GoogLeNet's odd 3x3 stride-2 pools leave the 32x map half a
    # pixel off, which an odd kernel takes back (FCN-AlexNet's upscore too).
    up = b.upsample("upscore", score, 21, 63, 32)
    n.score = crop(up, n.data)
    b.loss("loss", n.score, n["label"] if not b.deploy else None, normalize=True)
    return n.to_proto()


def voc_fcn32s_fixed(split, widths=None):
    """The skip table's FCN-32s-fixed: voc-fcn32s in which only the score
    layer learns (every other lr_mult 0)."""
    net = voc_fcn32s(split, widths)
    for layer in net.layer:
        if layer.name != "score_fr":
            for spec in layer.param:
                spec.lr_mult, spec.decay_mult = 0, 0
    return net


def voc_fcn32s_unpool(split, widths=None):
    """A DeconvNet-style decoder on voc-fcn32s (Noh et al.; the talk's
    max-unpooling): the VGG trunk's pools keep their masks; from fc7 a 7x7
    Deconvolution undoes fc6's shrinking, then five stages of max-unpooling
    (each to its pooling's input size) and a learned 3x3 convolution, the
    encoder's widths mirrored, bring it back to full resolution, the last
    stage scoring the 21 classes. Beyond the release."""
    b = Builder(split, widths)
    n = b.n
    _voc_data(b, split, "../data")
    x, before_pool = n.data, []
    for block, (count, width) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, count + 1):
            x = b.conv_relu(f"conv{block}_{i}", f"relu{block}_{i}", x, width, pad=100 if (block, i) == (1, 1) else 1)
        before_pool.append(x)
        n[f"pool{block}"], n[f"pool{block}_mask"] = unpooling.max_pool(x)
        x = n[f"pool{block}"]
    x = b.conv_relu("fc6", "relu6", x, 4096, ks=7, pad=0)
    b.dropout("drop6", x)
    x = b.conv_relu("fc7", "relu7", x, 4096, ks=1, pad=0)
    b.dropout("drop7", x)
    msra = dict(type="msra")
    x = n.deconv6 = L.Deconvolution(x, param=LEARN, convolution_param=dict(
        num_output=b.widths[512], kernel_size=7, weight_filler=msra))
    # Each stage's output has the channels of the next mask up (the
    # encoder's widths, mirrored); the last gives the 21 classes.
    for block, out in ((5, 512), (4, 256), (3, 128), (2, 64), (1, 21)):
        up = n[f"unpool{block}"] = unpooling.max_unpool(x, n[f"pool{block}_mask"], before_pool[block - 1])
        nout = 21 if block == 1 else b.widths[out]
        x = n[f"dec{block}"] = L.Convolution(up, num_output=nout, kernel_size=3, pad=1, param=LEARN,
                                             weight_filler=msra)
        if block > 1:
            n[f"dec{block}_relu"] = L.ReLU(x, in_place=True)
    n.score = crop(x, n.data)
    b.loss("loss", n.score, n["label"] if not b.deploy else None)
    return n.to_proto()


def _nyud(tops):
    """NYUDv2, 40 classes; `tops` are the image modalities fed to the net."""
    def build(split, widths=None):
        b = Builder(split, widths)
        n = b.n
        params = dict(nyud_dir="../data/nyud", split=split if split != "deploy" else "test",
                      tops=list(tops) + ["label"], seed=1337)
        channels = {"color": 3, "hha": 3, "depth": 1}
        if tops == ("color", "hha"):
            b.inputs("nyud_layers", "NYUDSegDataLayer", params, ["color", "hha", "label"], [3, 3, 0])
            scores = [b.score(f"score_fr{m}", b.vgg(n[m], m, f"conv1_1{m}"), 40) for m in tops]
            n.score_fused = L.Eltwise(*scores, operation=P.Eltwise.SUM, coeff=[0.5, 0.5])
            up = b.upsample("upscore", n.score_fused, 40, 64, 32)
            image = n.color
            n.score = crop(up, image)
        else:
            if tops == ("color", "depth"):
                b.inputs("nyud_layers", "NYUDSegDataLayer", params, ["color", "depth", "label"], [3, 1, 0])
                n.data = L.Concat(n.color, n.depth)
                fc7 = b.vgg(n.data, first="conv1_1_bgrd")
            else:
                b.inputs("nyud_layers", "NYUDSegDataLayer", params, ["data", "label"],
                         [channels[tops[0]], 0])
                fc7 = b.vgg(n.data)
            image = n.data
            b.head(fc7, image, 40, 32)
        b.loss("loss", n.score, n["label"] if not b.deploy else None)
        return n.to_proto()
    return build


def _siftflow(stride):
    """SIFT Flow: one trunk, a semantic (33) and a geometric (3) head."""
    def build(split, widths=None):
        b = Builder(split, widths)
        n = b.n
        params = dict(siftflow_dir="../data/sift-flow", split=split if split != "deploy" else "test",
                      seed=1337)
        b.inputs("siftflow_layers", "SIFTFlowSegDataLayer", params, ["data", "sem", "geo"], [3, 0, 0])
        fc7 = b.vgg(n.data)
        for sfx, nclass, loss in (("_sem", 33, "loss"), ("_geo", 3, "loss_geo")):
            score = b.head(fc7, n.data, nclass, stride, sfx=sfx)
            b.loss(loss, score, n[sfx[1:]] if not b.deploy else None)
        return n.to_proto()
    return build


def _pascalcontext(stride):
    def build(split, widths=None):
        b = Builder(split, widths)
        params = dict(voc_dir="../../data/pascal", context_dir="../../data/pascal-context",
                      split=split if split != "deploy" else "val", seed=1337)
        b.inputs("pascalcontext_layers", "PASCALContextSegDataLayer", params, ["data", "label"], [3, 0])
        fc7 = b.vgg(b.n.data)
        score = b.head(fc7, b.n.data, 60, stride)
        b.loss("loss", score, b.n["label"] if not b.deploy else None)
        return b.n.to_proto()
    return build


voc_fcn32s = _voc(32)
voc_fcn16s = _voc(16, root="../../data")
voc_fcn8s = _voc(8)
voc_fcn8s_atonce = _voc(8, scale_pools=True)
nyud_fcn32s_color = _nyud(("color",))
nyud_fcn32s_hha = _nyud(("hha",))
nyud_fcn32s_color_d = _nyud(("color", "depth"))
nyud_fcn32s_color_hha = _nyud(("color", "hha"))
siftflow_fcn32s = _siftflow(32)
siftflow_fcn16s = _siftflow(16)
siftflow_fcn8s = _siftflow(8)
pascalcontext_fcn32s = _pascalcontext(32)
pascalcontext_fcn16s = _pascalcontext(16)
pascalcontext_fcn8s = _pascalcontext(8)

TRAIN_VAL = ("train", "val")
TRAINVAL_TEST = ("trainval", "test")

# name: (builder, (train split, test split), solver settings as published)
MODELS = {
    "voc-fcn32s": (voc_fcn32s, TRAIN_VAL, dict(test_iter=736, base_lr=1e-10, max_iter=100000, snapshot=4000)),
    "voc-fcn16s": (voc_fcn16s, TRAIN_VAL, dict(test_iter=736, base_lr=1e-12, max_iter=100000, snapshot=4000)),
    "voc-fcn8s": (voc_fcn8s, TRAIN_VAL, dict(test_iter=736, base_lr=1e-14, max_iter=100000, snapshot=4000)),
    "voc-fcn8s-atonce": (voc_fcn8s_atonce, TRAIN_VAL,
                         dict(test_iter=736, base_lr=1e-10, max_iter=300000, snapshot=4000)),
    "voc-fcn-alexnet": (voc_fcn_alexnet, TRAIN_VAL,
                        dict(test_iter=736, base_lr=1e-4, momentum=0.9, iter_size=20, max_iter=100000,
                             snapshot=4000)),
    "nyud-fcn32s-color": (nyud_fcn32s_color, TRAINVAL_TEST,
                          dict(test_iter=654, base_lr=1e-10, max_iter=300000, snapshot=2000)),
    "nyud-fcn32s-hha": (nyud_fcn32s_hha, TRAINVAL_TEST,
                        dict(test_iter=654, base_lr=1e-10, max_iter=300000, snapshot=2000)),
    "nyud-fcn32s-color-d": (nyud_fcn32s_color_d, TRAINVAL_TEST,
                            dict(test_iter=654, base_lr=1e-10, max_iter=300000, snapshot=2000)),
    "nyud-fcn32s-color-hha": (nyud_fcn32s_color_hha, TRAINVAL_TEST,
                              dict(test_iter=654, base_lr=1e-12, max_iter=300000, snapshot=2000)),
    "siftflow-fcn32s": (siftflow_fcn32s, TRAINVAL_TEST, dict(test_iter=200, base_lr=1e-10, max_iter=300000)),
    "siftflow-fcn16s": (siftflow_fcn16s, TRAINVAL_TEST, dict(test_iter=200, base_lr=1e-12, max_iter=300000)),
    "siftflow-fcn8s": (siftflow_fcn8s, TRAINVAL_TEST, dict(test_iter=200, base_lr=1e-12, max_iter=300000)),
    "pascalcontext-fcn32s": (pascalcontext_fcn32s, TRAIN_VAL,
                             dict(test_iter=5105, base_lr=1e-10, max_iter=300000, snapshot=4000)),
    "pascalcontext-fcn16s": (pascalcontext_fcn16s, TRAIN_VAL,
                             dict(test_iter=5105, base_lr=1e-12, max_iter=300000, snapshot=4000)),
    "pascalcontext-fcn8s": (pascalcontext_fcn8s, TRAIN_VAL,
                            dict(test_iter=5105, base_lr=1e-14, max_iter=300000, snapshot=4000)),
}

# Beyond the release: the nets of the paper's tables that it did not ship.
# FCN-GoogLeNet trains as the release trains FCN-AlexNet (normalized loss,
# momentum 0.9, 20 images a step), at the paper's learning rate 5e-5.
EXTRA_MODELS = {
    "voc-fcn-googlenet": (voc_fcn_googlenet, TRAIN_VAL,
                          dict(test_iter=736, base_lr=5e-5, momentum=0.9, iter_size=20, max_iter=100000,
                               snapshot=4000)),
    "voc-fcn32s-fixed": (voc_fcn32s_fixed, TRAIN_VAL,
                         dict(test_iter=736, base_lr=1e-10, max_iter=100000, snapshot=4000)),
    "voc-fcn32s-unpool": (voc_fcn32s_unpool, TRAIN_VAL,
                          dict(test_iter=736, base_lr=1e-10, max_iter=100000, snapshot=4000)),
}


def model_names(extras=False):
    """The 15 published models (and, with `extras`, the paper's others)."""
    return list(MODELS) + (list(EXTRA_MODELS) if extras else [])


def _model(name):
    try:
        return MODELS[name] if name in MODELS else EXTRA_MODELS[name]
    except KeyError:
        raise FCNError(f"unknown model {name!r}; the models are: {', '.join(model_names(True))}") from None


def splits(name):
    """(train split, test split) of a model."""
    return _model(name)[1]


def net(name, split, widths=None):
    """The NetParameter of model `name` for `split` (or 'deploy')."""
    builder, names, _ = _model(name)
    if split not in names and split != "deploy":
        raise FCNError(f"model {name} has splits {', '.join(names)} and deploy, not {split!r}")
    return builder(split, widths)


def solver(name):
    """The model's solver.prototxt as published."""
    _, (train, test), settings = _model(name)
    s = caffe_pb2.SolverParameter(
        train_net=f"{train}.prototxt", test_net=[f"{test}.prototxt"], test_interval=999999999,
        display=20, average_loss=20, lr_policy="fixed", momentum=0.99, iter_size=1,
        weight_decay=0.0005, test_initialization=False)
    for key, value in settings.items():
        if key == "test_iter":
            s.test_iter.append(value)
        else:
            setattr(s, key, value)
    if s.HasField("snapshot"):
        s.snapshot_prefix = "snapshot/train"
    return s
