"""caffe.proto.caffe_pb2: the message classes of caffe.proto."""
from netspec.caffe_pb2 import *  # noqa: F401,F403
