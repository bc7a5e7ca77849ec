"""Caffe's layer types, one file per family as in src/caffe/layers, each
with setup, reshape, forward and backward; layers/data/ the layers that
bring data in (and release/ the FCN release's Python data layers)."""
