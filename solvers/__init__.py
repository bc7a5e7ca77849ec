"""Caffe's solvers: SGD and its relatives, snapshots and restore."""
