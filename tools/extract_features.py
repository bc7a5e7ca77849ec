"""`extract_features PRETRAINED PROTO BLOB1[,BLOB2,...] DB1[,DB2,...]
NUM_MINI_BATCHES lmdb [CPU|GPU] [DEVICE_ID]`: the named blobs of a TEST net
for NUM_MINI_BATCHES forward passes, one Datum of float_data per image
(channels, height, width from the blob's legacy 4-D shape), keys `%010d`,
as Caffe's tools/extract_features.cpp writes them."""
from __future__ import annotations

import sys
from contextlib import ExitStack

import numpy as np

from common.errors import FCNError
from common.lmdb_db import new_lmdb
from core.net import Net
from core.options import Options
from netspec import caffe_pb2, read_net
from tools import gflags
from weights.caffemodel import copy_weights

USAGE = ("Usage: extract_features  pretrained_net_param  feature_extraction_proto_file  "
         "extract_feature_blob_name1[,name2,...]  save_feature_dataset_name1[,name2,...]  "
         "num_mini_batches  db_type  [CPU/GPU] [DEVICE_ID=0]")


def main(argv: list[str]) -> int:
    positional, _ = gflags.parse(argv, {})
    if len(positional) < 6:
        print(USAGE, file=sys.stderr)
        return 1
    weights, proto, blob_list, db_list, batches, db_type = positional[:6]
    log = gflags.glog("extract_features.cpp")
    if len(positional) > 6 and positional[6].upper() == "GPU":
        log("Using GPU was asked; this engine runs on the CPU")
    else:
        log("Using CPU")
    blobs, dbs = blob_list.split(","), db_list.split(",")
    if len(blobs) != len(dbs):
        raise FCNError(f"{len(blobs)} blob names but {len(dbs)} databases: give one database per blob")
    if db_type != "lmdb":
        raise FCNError(f"db_type {db_type}: only lmdb is written here")
    try:
        count = int(batches)
    except ValueError:
        raise FCNError(f"num_mini_batches {batches!r} is not a number") from None
    net = Net(read_net(proto), caffe_pb2.TEST, source=proto, keep_blobs=True, options=Options.from_environment())
    copy_weights(net, weights)
    for name in blobs:
        if name not in net.blobs:
            raise FCNError(f"{proto}: Unknown feature blob name {name} in the network")
    log("Extracting Features")
    with ExitStack() as databases:      # every database whole, or none left behind
        writers = [databases.enter_context(new_lmdb(path)) for path in dbs]
        indices = [0] * len(blobs)
        for batch in range(count):
            net.forward()
            for i, name in enumerate(blobs):
                data = net.blobs[name].data
                # Caffe's LegacyShape: missing trailing axes count 1 ((N, D): D x 1 x 1).
                shape = tuple(data.shape) + (1,) * (4 - data.ndim) if data.ndim <= 4 else data.shape
                features = data.reshape(data.shape[0], -1)
                for row in features:
                    datum = caffe_pb2.Datum(channels=shape[1], height=shape[2], width=shape[3])
                    datum.float_data.extend(row.astype(np.float32).tolist())
                    writers[i].put(f"{indices[i]:010d}".encode(), datum.SerializeToString())
                    indices[i] += 1
                    if indices[i] % 1000 == 0:
                        log(f"Extracted features of {indices[i]} query images for feature blob {name}")
            log(f"Batch {batch + 1} of {count} done")
        for i, name in enumerate(blobs):
            log(f"Extracted features of {indices[i]} query images for feature blob {name}")
    log("Successfully extracted the features!")
    return 0


def entry() -> None:
    raise SystemExit(gflags.run_tool("extract_features", main))


if __name__ == "__main__":
    entry()
