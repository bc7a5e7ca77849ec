"""pycaffe's interface on this engine, for scripts written against pycaffe.

Kept off the default import path: `fcn run SCRIPT.py` puts compat/ first on
sys.path (or set PYTHONPATH=compat). CPU is what runs; the mode and device
calls are accepted for the scripts that make them.
"""
from collections import OrderedDict

import numpy as np

from layers.net import TEST, TRAIN
from layers.net import Net as _EngineNet
from layers.options import Options
from netspec import caffe_pb2, layers, params, read_net, read_solver
from netspec.net_spec import NetSpec, to_proto
from solvers.solver import Solver as _EngineSolver
from weights.caffemodel import copy_weights, save_hdf5, save_weights

from . import io, proto  # noqa: E402,F401  (caffe.io and caffe.proto, as pycaffe imports them)

__all__ = ["Net", "TRAIN", "TEST", "NetSpec", "layers", "params", "to_proto", "Layer", "SGDSolver",
           "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver", "AdamSolver", "get_solver",
           "set_mode_cpu", "set_mode_gpu", "set_device", "set_random_seed", "caffe_pb2", "io",
           "layer_type_list", "has_nccl"]
__version__ = "1.0.0"


def layer_type_list():
    """Every layer type this engine runs, sorted (pycaffe's registry list)."""
    from layers.all_layers import REGISTRY
    return sorted(REGISTRY)


def has_nccl():
    """Multi-GPU training through NCCL: not here (the CPU runs)."""
    return False


def set_mode_cpu():
    pass


def set_mode_gpu():
    pass


def set_device(device_id):
    pass


# pycaffe's state is the process's, as Caffe's is: set_random_seed seeds
# every net and solver made after it.
_options = Options.from_environment()


def set_random_seed(seed):
    global _options
    _options = _options.but(seed=int(seed))


class Layer:
    """Base of Python layers: setup, reshape, forward, backward over lists of
    blobs; `param_str`, `phase` and `blobs` are set before setup."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        pass


class Net(_EngineNet):
    """caffe.Net(model, phase[, weights=...]) or caffe.Net(model, weights, phase)."""

    def __init__(self, model, *args, level=0, stages=None, weights=None, phase=None):
        if len(args) == 2:
            weights, phase = args
        elif len(args) == 1:
            (phase,) = args
        elif phase is None:
            raise TypeError("caffe.Net(model, phase) or caffe.Net(model, weights, phase)")
        super().__init__(read_net(model), phase, stages=stages or (), level=level, source=model, keep_blobs=True,
                         options=_options)
        if weights:
            self.copy_from(weights)

    def set_input_arrays(self, data, labels):
        """Hand arrays to the net's first layer, a MemoryData: data n x C x H x W
        float32, labels n (or n x 1 x 1 x 1), n a multiple of its batch size."""
        if not self.layers or self.layers[0].type != "MemoryData":
            raise RuntimeError("set_input_arrays may only be called if the first layer is a MemoryDataLayer")
        data, labels = np.asarray(data), np.asarray(labels)
        if data.dtype != np.float32 or labels.dtype != np.float32:
            raise ValueError("data and labels must be float32 arrays")
        if data.shape[:1] != labels.shape[:1]:
            raise ValueError("data and labels must have the same first dimension")
        self.layers[0].reset(data, labels)

    def copy_from(self, path):
        copy_weights(self, path)

    def save(self, path):
        save_weights(self, path)

    def save_hdf5(self, path):
        save_hdf5(self, path)

    def load_hdf5(self, path):
        copy_weights(self, path)

    @property
    def _layer_names(self):
        return self.layer_names

    @property
    def layer_dict(self):
        return OrderedDict(zip(self.layer_names, self.layers))

    @property
    def top_names(self):
        return OrderedDict((name, [b.name for b in top]) for name, top in zip(self.layer_names, self.top_vecs))

    @property
    def bottom_names(self):
        return OrderedDict((name, [b.name for b in bottom]) for name, bottom in zip(self.layer_names, self.bottom_vecs))

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """Inputs by keyword; returns the outputs (the tops of `end` if given)
        and any other `blobs` asked for, as pycaffe."""
        super().forward(start=start, end=end, **kwargs)
        names = self.top_names[end] if end else self.outputs
        return {name: self.blobs[name].data for name in list(names) + list(blobs or [])}

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """Output diffs by keyword; returns the inputs' diffs (and `diffs`)."""
        for name, value in kwargs.items():
            self.blobs[name].diff[...] = np.asarray(value, np.float32)
        super().backward(start=start, end=end)
        names = self.bottom_names[end] if end else self.inputs
        return {name: self.blobs[name].diff for name in list(names) + list(diffs or [])}


class _Solver(_EngineSolver):
    solver_type = None
    keep_train_diffs = True

    def __init__(self, path):
        param = read_solver(path)
        if self.solver_type:
            param.type = self.solver_type
        super().__init__(param, path, options=_options)
        for net in [self.net, *self.test_nets]:
            net.__class__ = Net     # the engine's nets, with pycaffe's methods


# caffe.SGDSolver, caffe.NesterovSolver, ...: each runs its own rule
# whatever `type` the file names.
for _rule in ("SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"):
    globals()[f"{_rule}Solver"] = type(f"{_rule}Solver", (_Solver,), {"solver_type": _rule})


def get_solver(path):
    """The solver the file's `type` names."""
    return _Solver(path)
