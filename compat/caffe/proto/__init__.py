"""caffe.proto: the schema's generated module."""
from . import caffe_pb2  # noqa: F401
