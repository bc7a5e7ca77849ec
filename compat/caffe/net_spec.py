"""caffe.net_spec: NetSpec, layers, params, to_proto."""
from netspec.net_spec import NetSpec, layers, params, to_proto

__all__ = ["NetSpec", "layers", "params", "to_proto"]
