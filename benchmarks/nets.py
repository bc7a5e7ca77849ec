"""The nets `make bench` measures, their random full-size weights (saved
once as caffemodels under build/bench/, loaded as a user's would be) and
their inputs, the same for the engine and its peers.

Weights are drawn at the scale of He et al.'s initialization (std
sqrt(1/fan-in)), BatchNorm statistics and Scale factors near 1, so that
activations stay of order one through 50 layers and the 1e-4 agreement
between frameworks means something at every depth. The upsampling
Deconvolutions get the release's bilinear kernels (weights.surgery.interp),
as in every published FCN caffemodel.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from core.net import Net
from netspec import caffe_pb2, fcn_models
from netspec.prototxt import write_text
from netspec.resnet import resnet
from tools.netload import with_inputs
from weights.caffemodel import save_caffemodel
from weights.surgery import interp

CACHE = os.path.join("build", "bench")


@dataclass(frozen=True)
class Case:
    net: str            # a published model, an extra FCN, or "resnet-50"
    side: int
    batch: int = 1
    runs: int = 3       # timed runs (the fastest is kept), after one warm-up
    rounds: int = 1     # processes per framework, taking turns (the fastest is kept): this
                        # VM's speed drifts by 10-20% from minute to minute
    train: bool = False
    output: str = "score"

    @property
    def label(self) -> str:
        what = "training iteration" if self.train else "forward"
        return f"{self.net} {what} {self.side}x{self.side}" + (f" batch {self.batch}" if self.batch > 1 else "")


CASES = [
    Case("voc-fcn8s", 250, runs=5, rounds=3),
    Case("voc-fcn8s", 500),
    Case("voc-fcn8s", 1000, runs=2),
    # Its output: the score blob of the training pass (the loss sums 250,000
    # float32 terms, whose rounding differs between frameworks by ~1e-4).
    Case("voc-fcn8s", 500, train=True, runs=2),
    Case("voc-fcn-alexnet", 500, runs=5, rounds=3),
    Case("voc-fcn-alexnet", 500, batch=8, runs=2),
    Case("voc-fcn-googlenet", 500, runs=5, rounds=3),
    Case("voc-fcn-googlenet", 500, batch=8, runs=2),
    Case("resnet-50", 224, runs=20, rounds=3, output="fc1000"),
    Case("resnet-50", 224, batch=8, runs=5, rounds=3, output="fc1000"),
]


def by_label(label: str) -> Case:
    return next(case for case in CASES if case.label == label)


def net_param(case: Case, deploy: bool = True) -> caffe_pb2.NetParameter:
    """The case's net: the deploy net at its batch and size, or (training)
    the train net with its data layers made inputs of that size."""
    if case.net == "resnet-50":
        return resnet(50, batch=case.batch, side=case.side)
    if deploy:
        param = fcn_models.net(case.net, "deploy")
        return with_inputs(param, (case.side, case.side), {"data": (case.batch, 3, case.side, case.side)})
    shapes = {"data": (case.batch, 3, case.side, case.side), "label": (case.batch, 1, case.side, case.side)}
    param = with_inputs(fcn_models.net(case.net, "train"), (case.side, case.side), shapes)
    # Dropout's masks are each framework's own random draws: at ratio 0
    # (the layers still run) the training passes are comparable.
    for layer in param.layer:
        if layer.type == "Dropout":
            layer.dropout_param.dropout_ratio = 0.0
    return param


def randomize(net: Net, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    upsampling = [name for name in net.params if net.layer(name).type == "Deconvolution"]
    for name, blobs in net.params.items():
        kind = net.layer(name).type
        if kind == "BatchNorm":
            c = blobs[0].shape[0]
            blobs[0].overwrite()[...] = rng.standard_normal(c) * 0.1
            blobs[1].overwrite()[...] = rng.uniform(0.5, 1.5, c)
            blobs[2].overwrite()[...] = 1
        elif kind == "Scale":
            blobs[0].overwrite()[...] = rng.uniform(0.5, 1.5, blobs[0].shape)
            blobs[1].overwrite()[...] = rng.standard_normal(blobs[1].shape) * 0.1
        else:
            for blob in blobs:
                fan = int(np.prod(blob.shape[1:])) if blob.num_axes > 1 else 0
                std = np.sqrt(1.0 / fan) if fan else 0.1
                blob.overwrite()[...] = rng.standard_normal(blob.shape, dtype=np.float32) * std
    interp(net, upsampling)


def files(case: Case) -> tuple[str, str]:
    """(prototxt, caffemodel) of the case's deploy net; the weights made
    once per net, the prototxt per batch and size."""
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, case.net)
    prototxt = f"{stem}-{case.batch}x{case.side}.prototxt"
    weights = f"{stem}-random.caffemodel"
    param = net_param(case)
    write_text(prototxt, param)
    if not os.path.exists(weights):
        print(f"writing {weights} (random weights, once)", flush=True)
        net = Net(param, "TEST", source=case.net)
        randomize(net)
        save_caffemodel(net, weights)
    return prototxt, weights


def image(case: Case) -> np.ndarray:
    """The input, the same for every framework: a mean-subtracted image's range."""
    rng = np.random.default_rng(1)
    return (rng.standard_normal((case.batch, 3, case.side, case.side), dtype=np.float32) * 50).astype(np.float32)
