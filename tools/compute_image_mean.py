"""`compute_image_mean [FLAGS] INPUT_DB [OUTPUT_FILE]`: the mean image of an
LMDB of Datums, as Caffe's tools/compute_image_mean.cpp computes and writes
it: a float32 sum image by image, divided by the count, saved as a
BlobProto with legacy dims 1 x C x H x W (what `mean_file` and pycaffe's
caffe.io.blobproto_to_array read); the per-channel means in the log."""
from __future__ import annotations

import sys

import numpy as np

from common.atomic import write_atomic
from common.errors import FCNError
from common.lmdb_db import read_records
from layers.data.lmdb_data import datum_image
from netspec import caffe_pb2
from tools import gflags

FLAGS = {"backend": ("lmdb", str)}
USAGE = "Usage:\n    compute_image_mean [FLAGS] INPUT_DB [OUTPUT_FILE]"


def mean_image(db: str, log) -> np.ndarray:
    total: np.ndarray | None = None
    shape: tuple = ()
    count = 0
    for key, value in read_records(db, db):
        datum = caffe_pb2.Datum()
        try:
            datum.ParseFromString(value)
        except Exception as err:        # protobuf's DecodeError and kin
            raise FCNError(f"{db}: record {key!r} is not a Datum ({err})") from None
        image = datum_image(datum, f"{db}: record {key!r}")
        if total is None:
            if datum.encoded:
                log("Decoding Datum")
            shape = image.shape
            total = np.zeros(shape, np.float32)
            log("Starting iteration")
        elif image.shape != shape:
            raise FCNError(f"{db}: record {key!r}: Incorrect data field size {image.size} "
                           f"(shape {list(image.shape)}, the first record's {list(shape)})")
        total += image.astype(np.float32)
        count += 1
        if count % 10000 == 0:
            log(f"Processed {count} files.")
    if total is None:
        raise FCNError(f"{db}: the LMDB holds no records")
    if count % 10000:
        log(f"Processed {count} files.")
    return total / np.float32(count)


def main(argv: list[str]) -> int:
    positional, flags = gflags.parse(argv, FLAGS)
    if len(positional) not in (1, 2):
        print(USAGE, file=sys.stderr)
        return 1
    if flags["backend"] != "lmdb":
        raise FCNError(f"--backend={flags['backend']}: only lmdb is read here")
    log = gflags.glog("compute_image_mean.cpp")
    mean = mean_image(positional[0], log)
    channels, height, width = mean.shape
    if len(positional) == 2:
        log(f"Write to {positional[1]}")
        blob = caffe_pb2.BlobProto(num=1, channels=channels, height=height, width=width)
        blob.data.extend(mean.reshape(-1).tolist())
        write_atomic(positional[1], blob.SerializeToString())
    log(f"Number of channels: {channels}")
    for c in range(channels):
        # Caffe adds each channel's pixels one after another in float, then divides.
        channel_sum = np.cumsum(mean[c].reshape(-1), dtype=np.float32)[-1]
        log(f"mean_value channel [{c}]: {float(channel_sum / np.float32(height * width)):g}")
    return 0


def entry() -> None:
    raise SystemExit(gflags.run_tool("compute_image_mean", main))


if __name__ == "__main__":
    entry()
