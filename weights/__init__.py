"""Weights: caffemodel and HDF5 I/O, surgery and conversion."""
