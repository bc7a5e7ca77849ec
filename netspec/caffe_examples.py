"""Caffe's own examples, as BVLC's tree lays them out (examples/mnist):
LeNet's train/test net and solver, and the script that trains it. Paths
are relative to Caffe's root, as the examples are run from it."""
from __future__ import annotations

from netspec import caffe_pb2


def _filler(kind: str) -> caffe_pb2.FillerParameter:
    return caffe_pb2.FillerParameter(type=kind)


def lenet_train_test() -> caffe_pb2.NetParameter:
    """examples/mnist/lenet_train_test.prototxt."""
    net = caffe_pb2.NetParameter(name="LeNet")
    for phase, source, batch in ((caffe_pb2.TRAIN, "examples/mnist/mnist_train_lmdb", 64),
                                 (caffe_pb2.TEST, "examples/mnist/mnist_test_lmdb", 100)):
        layer = net.layer.add(name="mnist", type="Data", top=["data", "label"])
        layer.include.add(phase=phase)
        layer.transform_param.scale = 0.00390625
        layer.data_param.source, layer.data_param.batch_size = source, batch
        layer.data_param.backend = caffe_pb2.DataParameter.LMDB

    def learned(layer):
        layer.param.add(lr_mult=1)
        layer.param.add(lr_mult=2)
        return layer

    for name, bottom, outputs in (("conv1", "data", 20), ("conv2", "pool1", 50)):
        conv = learned(net.layer.add(name=name, type="Convolution", bottom=[bottom], top=[name]))
        p = conv.convolution_param
        p.num_output = outputs
        p.kernel_size.append(5)
        p.stride.append(1)
        p.weight_filler.CopyFrom(_filler("xavier"))
        p.bias_filler.CopyFrom(_filler("constant"))
        pool = net.layer.add(name=name.replace("conv", "pool"), type="Pooling", bottom=[name],
                             top=[name.replace("conv", "pool")])
        pool.pooling_param.pool = caffe_pb2.PoolingParameter.MAX
        pool.pooling_param.kernel_size, pool.pooling_param.stride = 2, 2
    for name, bottom, outputs in (("ip1", "pool2", 500), ("ip2", "ip1", 10)):
        ip = learned(net.layer.add(name=name, type="InnerProduct", bottom=[bottom], top=[name]))
        ip.inner_product_param.num_output = outputs
        ip.inner_product_param.weight_filler.CopyFrom(_filler("xavier"))
        ip.inner_product_param.bias_filler.CopyFrom(_filler("constant"))
        if name == "ip1":
            net.layer.add(name="relu1", type="ReLU", bottom=["ip1"], top=["ip1"])
    accuracy = net.layer.add(name="accuracy", type="Accuracy", bottom=["ip2", "label"], top=["accuracy"])
    accuracy.include.add(phase=caffe_pb2.TEST)
    net.layer.add(name="loss", type="SoftmaxWithLoss", bottom=["ip2", "label"], top=["loss"])
    return net


def lenet_solver() -> caffe_pb2.SolverParameter:
    """examples/mnist/lenet_solver.prototxt."""
    return caffe_pb2.SolverParameter(
        net="examples/mnist/lenet_train_test.prototxt", test_iter=[100], test_interval=500, base_lr=0.01,
        momentum=0.9, weight_decay=0.0005, lr_policy="inv", gamma=0.0001, power=0.75, display=100,
        max_iter=10000, snapshot=5000, snapshot_prefix="examples/mnist/lenet",
        solver_mode=caffe_pb2.SolverParameter.GPU)


TRAIN_LENET = """#!/usr/bin/env sh
set -e

./build/tools/caffe train --solver=examples/mnist/lenet_solver.prototxt $@
"""
