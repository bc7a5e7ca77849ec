"""Writes the VOC FCN-32s/16s/8s train and val nets with pycaffe's NetSpec,
as the release's net.py scripts do: `python voc_nets.py STRIDE OUTDIR [DATA]`."""
import os
import sys

import caffe
from caffe import layers as L
from caffe import params as P
from caffe.coord_map import crop

LEARN = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]
FROZEN = [dict(lr_mult=0)]


def conv_relu(bottom, nout, ks=3, pad=1):
    conv = L.Convolution(bottom, kernel_size=ks, stride=1, num_output=nout, pad=pad, param=LEARN)
    return conv, L.ReLU(conv, in_place=True)


def upsample(bottom, ks, stride):
    return L.Deconvolution(bottom, convolution_param=dict(num_output=21, kernel_size=ks, stride=stride,
                                                          bias_term=False), param=FROZEN)


def score(bottom):
    return L.Convolution(bottom, num_output=21, kernel_size=1, pad=0, param=LEARN)


def fcn(split, stride, root):
    n = caffe.NetSpec()
    data = dict(seed=1337, split=split, mean=(104.00699, 116.66877, 122.67892))
    if split == "train":
        data["sbdd_dir"] = f"{root}/sbdd/dataset"
        kind = "SBDDSegDataLayer"
    else:
        data["voc_dir"] = f"{root}/pascal/VOC2011"
        kind = "VOCSegDataLayer"
    n.data, n.label = L.Python(module="voc_layers", layer=kind, ntop=2, param_str=str(data))
    bottom = n.data
    for block, (width, depth) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, depth + 1):
            conv, relu = conv_relu(bottom, width, pad=100 if (block, i) == (1, 1) else 1)
            setattr(n, f"conv{block}_{i}", conv)
            setattr(n, f"relu{block}_{i}", relu)
            bottom = relu
        setattr(n, f"pool{block}", L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=2, stride=2))
        bottom = getattr(n, f"pool{block}")
    n.fc6, n.relu6 = conv_relu(n.pool5, 4096, ks=7, pad=0)
    n.drop6 = L.Dropout(n.relu6, dropout_ratio=0.5, in_place=True)
    n.fc7, n.relu7 = conv_relu(n.drop6, 4096, ks=1, pad=0)
    n.drop7 = L.Dropout(n.relu7, dropout_ratio=0.5, in_place=True)
    n.score_fr = score(n.drop7)
    skips = {32: [], 16: ["pool4"], 8: ["pool4", "pool3"]}[stride]
    top = n.score_fr
    for k, pool in enumerate(skips):
        up = "upscore2" if k == 0 else f"upscore_{skips[k - 1]}"
        setattr(n, up, upsample(top, 4, 2))
        setattr(n, f"score_{pool}", score(getattr(n, pool)))
        setattr(n, f"score_{pool}c", crop(getattr(n, f"score_{pool}"), getattr(n, up)))
        setattr(n, f"fuse_{pool}", L.Eltwise(getattr(n, up), getattr(n, f"score_{pool}c"), operation=P.Eltwise.SUM))
        top = getattr(n, f"fuse_{pool}")
    final = {32: "upscore", 16: "upscore16", 8: "upscore8"}[stride]
    setattr(n, final, upsample(top, 2 * stride, stride))
    n.score = crop(getattr(n, final), n.data)
    n.loss = L.SoftmaxWithLoss(n.score, n.label, loss_param=dict(normalize=False, ignore_label=255))
    return n.to_proto()


if __name__ == "__main__":
    stride, out = int(sys.argv[1]), sys.argv[2]
    root = sys.argv[3] if len(sys.argv) > 3 else "../data"
    for split, name in (("train", "train"), ("seg11valid", "val")):
        with open(os.path.join(out, f"{name}.prototxt"), "w") as f:
            f.write(str(fcn(split, stride, root)))
