"""Caffe's schema, prototxt I/O, the NetSpec generator and the FCN nets."""
from common.errors import FCNError
from netspec import caffe_pb2
from netspec.net_spec import Function, NetSpec, Top, layers, params, to_proto
from netspec.prototxt import format_message, parse_text, read_net, read_solver, read_text, write_text

__all__ = ["caffe_pb2", "FCNError", "NetSpec", "Top", "Function", "to_proto", "layers",
           "params", "format_message", "parse_text", "read_net", "read_solver", "read_text",
           "write_text"]
