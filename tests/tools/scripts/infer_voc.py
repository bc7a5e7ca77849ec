"""Inference as the release's infer.py does it:
`python infer_voc.py DEPLOY WEIGHTS IMAGE OUT.npy`."""
import sys

import caffe
import numpy as np
from PIL import Image

deploy, weights, image, out = sys.argv[1:5]
im = Image.open(image)
in_ = np.array(im, dtype=np.float32)
in_ = in_[:, :, ::-1]
in_ -= np.array((104.00698793, 116.66876762, 122.67891434))
in_ = in_.transpose((2, 0, 1))
net = caffe.Net(deploy, weights, caffe.TEST)
net.blobs["data"].reshape(1, *in_.shape)
net.blobs["data"].data[...] = in_
net.forward()
np.save(out, net.blobs["score"].data[0].argmax(axis=0))
