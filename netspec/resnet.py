"""The deep residual nets of He et al. (2016) as their Caffe release lays
them out (KaimingHe/deep-residual-networks, ResNet-{50,101,152}-deploy):
bottleneck blocks of 1x1, 3x3, 1x1 convolutions without bias, each
followed by an in-place BatchNorm on stored statistics and a Scale with
bias; the stride of a stage's first block on its first 1x1 convolution;
a projection shortcut (branch1) on each stage's first block; Eltwise sums
and in-place ReLUs named as the release names them, so that a published
ResNet caffemodel loads by name.

These are not FCNs: they are the other Caffe nets users bring, and the
benchmarks measure the engine on them (`make bench`).
"""
from netspec.net_spec import NetSpec
from netspec.net_spec import layers as L
from netspec.net_spec import params as P

# Blocks per stage (res2..res5).
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _block_names(stage, count, depth):
    """ResNet-50 names blocks a, b, c...; the deeper nets name a stage's
    blocks after the first b1, b2... where there are more than three."""
    if depth == 50 or count <= 3:
        return [chr(ord("a") + i) for i in range(count)]
    return ["a"] + [f"b{i}" for i in range(1, count)]


def resnet(depth=50, batch=1, side=224):
    """The deploy NetParameter of ResNet-`depth` for `batch` images of side x side."""
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[batch, 3, side, side]))

    def conv_bn(name, suffix, bottom, nout, ks, stride=1, pad=0, relu=True):
        x = n[name] = L.Convolution(bottom, num_output=nout, kernel_size=ks, pad=pad, stride=stride,
                                    bias_term=False)
        n[f"bn{suffix}"] = L.BatchNorm(x, use_global_stats=True, in_place=True)
        n[f"scale{suffix}"] = L.Scale(x, bias_term=True, in_place=True)
        if relu:
            n[f"{name}_relu"] = L.ReLU(x, in_place=True)
        return x

    x = conv_bn("conv1", "_conv1", n.data, 64, 7, stride=2, pad=3)
    x = n.pool1 = L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=2)
    for s, count in enumerate(DEPTHS[depth]):
        stage, width = s + 2, 64 * 2 ** s
        for i, letter in enumerate(_block_names(stage, count, depth)):
            block = f"{stage}{letter}"
            stride = 2 if i == 0 and stage > 2 else 1
            if i == 0:
                shortcut = conv_bn(f"res{block}_branch1", f"{block}_branch1", x, 4 * width, 1, stride, relu=False)
            else:
                shortcut = x
            y = conv_bn(f"res{block}_branch2a", f"{block}_branch2a", x, width, 1, stride)
            y = conv_bn(f"res{block}_branch2b", f"{block}_branch2b", y, width, 3, pad=1)
            y = conv_bn(f"res{block}_branch2c", f"{block}_branch2c", y, 4 * width, 1, relu=False)
            x = n[f"res{block}"] = L.Eltwise(shortcut, y)
            n[f"res{block}_relu"] = L.ReLU(x, in_place=True)
    n.pool5 = L.Pooling(x, pool=P.Pooling.AVE, kernel_size=7, stride=1)
    n.fc1000 = L.InnerProduct(n.pool5, num_output=1000)
    n.prob = L.Softmax(n.fc1000)
    net = n.to_proto()
    net.name = f"ResNet-{depth}"
    return net
