"""`fcn examples --out ROOT [--digits]`: Caffe's MNIST example as BVLC's
tree holds it, under ROOT (run from ROOT, as Caffe's examples are run from
Caffe's root): examples/mnist/lenet_train_test.prototxt, lenet_solver.prototxt
and train_lenet.sh. With --digits, also the data that get_mnist.sh and
create_mnist.sh would make, from real handwriting that needs no download:
scikit-learn's 1,797 8x8 digits, upscaled to 28x28, written as MNIST's idx
files in data/mnist/ (1,500 to train, the rest to test) and converted to
examples/mnist/mnist_{train,test}_lmdb by convert_mnist_data."""
from __future__ import annotations

import os
import stat

import numpy as np

from common.atomic import write_atomic
from common.errors import FCNError
from common.resize import resize_linear
from netspec import caffe_examples, write_text
from tools import convert_mnist_data

HELP = "write Caffe's MNIST example (LeNet) as BVLC's tree lays it out, with --digits its data too"
TRAIN_COUNT = 1500


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="the root the example runs from")
    parser.add_argument("--digits", action="store_true",
                        help="also write MNIST-format data from scikit-learn's digits (the `examples` extra)")


def idx(array: np.ndarray, magic: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()


def write_digits(root: str) -> None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise FCNError("--digits needs scikit-learn (pip install 'fcn-caffe[examples]')") from None
    digits = load_digits()
    small = np.clip(np.rint(digits.images * (255 / 16)), 0, 255).astype(np.uint8)
    images = np.stack([resize_linear(d[:, :, None], 20, 20)[:, :, 0] for d in small])
    images = np.pad(images, ((0, 0), (4, 4), (4, 4)))      # MNIST centres 20x20 digits in 28x28
    labels = digits.target.astype(np.uint8)
    data = os.path.join(root, "data", "mnist")
    for split, part in (("train", slice(0, TRAIN_COUNT)), ("t10k", slice(TRAIN_COUNT, None))):
        write_atomic(os.path.join(data, f"{split}-images-idx3-ubyte"), idx(images[part], 2051))
        write_atomic(os.path.join(data, f"{split}-labels-idx1-ubyte"), idx(labels[part], 2049))
        db = os.path.join(root, "examples", "mnist", f"mnist_{'train' if split == 'train' else 'test'}_lmdb")
        convert_mnist_data.main([os.path.join(data, f"{split}-images-idx3-ubyte"),
                                 os.path.join(data, f"{split}-labels-idx1-ubyte"), db, "--backend=lmdb"])
    print(f"{data}: {TRAIN_COUNT} training and {len(images) - TRAIN_COUNT} test digits (scikit-learn's, 28x28)")


def run(args):
    folder = os.path.join(args.out, "examples", "mnist")
    write_text(os.path.join(folder, "lenet_train_test.prototxt"), caffe_examples.lenet_train_test())
    write_text(os.path.join(folder, "lenet_solver.prototxt"), caffe_examples.lenet_solver())
    script = os.path.join(folder, "train_lenet.sh")
    write_atomic(script, caffe_examples.TRAIN_LENET.encode())
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"{folder}: lenet_train_test.prototxt, lenet_solver.prototxt, train_lenet.sh")
    if args.digits:
        write_digits(args.out)
    return 0
