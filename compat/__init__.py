"""The `caffe` package for pycaffe scripts (compat/caffe), kept off the import path until asked for."""
