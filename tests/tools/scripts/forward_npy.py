"""A pycaffe forward pass on an input saved with numpy:
`python forward_npy.py DEPLOY WEIGHTS IN.npy BLOB OUT.npy`."""
import sys

import caffe
import numpy as np

deploy, weights, source, blob, out = sys.argv[1:6]
net = caffe.Net(deploy, weights, caffe.TEST)
data = np.load(source)
net.blobs["data"].reshape(*data.shape)
net.blobs["data"].data[...] = data
net.forward()
np.save(out, net.blobs[blob].data)
