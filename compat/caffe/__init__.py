"""pycaffe's interface on this engine, for scripts written against pycaffe.

Kept off the default import path: put `compat/` on PYTHONPATH to `import
caffe`. CPU is what runs; the mode and device calls are accepted for scripts
that make them.
"""
from layers.net import Net as _EngineNet, TEST, TRAIN
from netspec import caffe_pb2, layers, params, read_net
from netspec.net_spec import NetSpec, to_proto
from weights.caffemodel import copy_weights, save_weights

__all__ = ["Net", "TRAIN", "TEST", "NetSpec", "layers", "params", "to_proto", "set_mode_cpu",
           "set_mode_gpu", "set_device", "caffe_pb2"]


def set_mode_cpu():
    pass


def set_mode_gpu():
    pass


def set_device(device_id):
    pass


class Net(_EngineNet):
    """caffe.Net(model, phase) or caffe.Net(model, weights, phase), as pycaffe."""

    def __init__(self, model, *args, level=0, stages=None, weights=None):
        if len(args) == 2:
            weights, phase = args
        elif len(args) == 1:
            (phase,) = args
        else:
            raise TypeError("caffe.Net(model, phase) or caffe.Net(model, weights, phase)")
        super().__init__(read_net(model), phase, stages=stages or (), level=level, source=model, keep_blobs=True)
        if weights:
            self.copy_from(weights)

    def copy_from(self, path):
        copy_weights(self, path)

    def save(self, path):
        save_weights(self, path)

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        outputs = super().forward(start=start, end=end, **kwargs)
        for name in blobs or []:
            outputs[name] = self.blobs[name].data
        return outputs
