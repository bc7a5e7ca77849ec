"""caffe.proto: the schema's generated module."""
