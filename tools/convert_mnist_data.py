"""`convert_mnist_data [FLAGS] INPUT_IMAGE_FILE INPUT_LABEL_FILE DB_NAME`:
MNIST's idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte) into
an LMDB of one-channel Datums, keys `%08d`, as Caffe's
examples/mnist/convert_mnist_data.cpp writes them (create_mnist.sh calls it)."""
from __future__ import annotations

import sys

import numpy as np

from common.errors import FCNError, open_input
from common.lmdb_db import new_lmdb
from netspec import caffe_pb2
from tools import gflags

FLAGS = {"backend": ("lmdb", str)}
USAGE = "Usage:\n    convert_mnist_data [FLAGS] input_image_file input_label_file output_db_file"


def read_idx(path: str, magic: int, dims: int) -> np.ndarray:
    """The uint8 array of an idx file, its header checked against its size."""
    with open_input(path, "idx file") as f:
        raw = f.read()
    head = 4 * (1 + dims)
    if len(raw) < head or int.from_bytes(raw[:4], "big") != magic:
        raise FCNError(f"{path}: not an idx file of magic {magic} (wrong file, or not unpacked?)")
    shape = [int.from_bytes(raw[4 * (i + 1):4 * (i + 2)], "big") for i in range(dims)]
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - head != count:
        raise FCNError(f"{path}: its header says {shape} ({count:,} bytes), the file holds {len(raw) - head:,}")
    return np.frombuffer(raw, np.uint8, count, head).reshape(shape)


def main(argv: list[str]) -> int:
    positional, flags = gflags.parse(argv, FLAGS)
    if len(positional) != 3:
        print(USAGE, file=sys.stderr)
        return 1
    if flags["backend"] != "lmdb":
        raise FCNError(f"--backend={flags['backend']}: only lmdb is written here; use --backend=lmdb")
    images = read_idx(positional[0], 2051, 3)
    labels = read_idx(positional[1], 2049, 1)
    if len(images) != len(labels):
        raise FCNError(f"{positional[0]}: {len(images)} images but {positional[1]}: {len(labels)} labels")
    log = gflags.glog("convert_mnist_data.cpp")
    log(f"A total of {len(images)} items.")
    log(f"Rows: {images.shape[1]} Cols: {images.shape[2]}")
    with new_lmdb(positional[2]) as db:
        for i, (image, label) in enumerate(zip(images, labels)):
            datum = caffe_pb2.Datum(channels=1, height=image.shape[0], width=image.shape[1],
                                    data=image.tobytes(), label=int(label))
            db.put(f"{i:08d}".encode(), datum.SerializeToString())
        log(f"Processed {db.count} files.")
    return 0


def entry() -> None:
    raise SystemExit(gflags.run_tool("convert_mnist_data", main))


if __name__ == "__main__":
    entry()
