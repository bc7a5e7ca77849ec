"""`convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME`: images named in
a list file (`path label` a line) into an LMDB of Datums, as Caffe's
tools/convert_imageset.cpp writes them: keys `%08d_<path>` in list order,
raw Datums of C x H x W bytes in BGR order (grey: one channel), resized by
OpenCV's INTER_LINEAR rule when both sizes are given; with --encoded the
image file itself (or the image encoded as --encode_type). Beyond Caffe:
an image that cannot be read ends the run with one line (Caffe logs it and
skips it), and nothing is left under DB_NAME."""
from __future__ import annotations

import io
import random
import sys

import numpy as np
from PIL import Image

from common.errors import FCNError
from common.images import read_gray, read_rgb
from common.lmdb_db import new_lmdb
from common.resize import resize_linear
from netspec import caffe_pb2
from tools import gflags

FLAGS = {"gray": (False, bool), "shuffle": (False, bool), "backend": ("lmdb", str), "resize_width": (0, int),
         "resize_height": (0, int), "check_size": (False, bool), "encoded": (False, bool),
         "encode_type": ("", str)}
USAGE = "Usage:\n    convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME"
FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "ppm": "PPM", "pgm": "PPM", "tif": "TIFF",
           "tiff": "TIFF"}


def read_list(path: str) -> list[tuple[str, int]]:
    """(path, label) of each line: the label follows the last space."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as err:
        raise FCNError(f"{path}: cannot read the list file ({err.strerror or err})") from None
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, _, label = line.rstrip().rpartition(" ")
        try:
            lines.append((name, int(label)))
        except ValueError:
            raise FCNError(f"{path}:{number}: expected 'path label', got {line!r}") from None
    return lines


def matches_extension(name: str, encoding: str) -> bool:
    ext = name.rpartition(".")[2].lower() if "." in name else name.lower()
    return ext == encoding.lower() or (encoding.lower() == "jpg" and ext == "jpeg")


def image_datum(path: str, label: int, height: int, width: int, color: bool, encoding: str) -> caffe_pb2.Datum:
    """Caffe's ReadImageToDatum."""
    pixels = read_rgb(path)[:, :, ::-1] if color else read_gray(path)[:, :, np.newaxis]
    if height > 0 and width > 0:
        pixels = resize_linear(np.ascontiguousarray(pixels), height, width)
    datum = caffe_pb2.Datum(label=label)
    if encoding:
        if not height and not width and matches_extension(path, encoding):
            with open(path, "rb") as f:
                datum.data = f.read()
        else:
            kind = FORMATS.get(encoding.lower())
            if kind is None:
                raise FCNError(f"--encode_type={encoding}: not an image format this writes ({', '.join(FORMATS)})")
            out = io.BytesIO()
            image = pixels[:, :, ::-1] if color else pixels[:, :, 0]
            Image.fromarray(np.ascontiguousarray(image)).save(out, format=kind, **({"quality": 95} if kind == "JPEG"
                                                                                   else {}))
            datum.data = out.getvalue()
        datum.encoded = True
        return datum
    datum.channels, datum.height, datum.width = pixels.shape[2], pixels.shape[0], pixels.shape[1]
    datum.data = np.ascontiguousarray(pixels.transpose(2, 0, 1)).tobytes()
    return datum


def main(argv: list[str]) -> int:
    positional, flags = gflags.parse(argv, FLAGS)
    if len(positional) != 3:
        print(USAGE, file=sys.stderr)
        return 1
    root, list_file, db_name = positional
    if flags["backend"] != "lmdb":
        raise FCNError(f"--backend={flags['backend']}: only lmdb is written here (LevelDB is not); "
                       "use --backend=lmdb")
    log = gflags.glog("convert_imageset.cpp")
    lines = read_list(list_file)
    if flags["shuffle"]:
        log("Shuffling data")
        random.Random(0).shuffle(lines)
    log(f"A total of {len(lines)} images.")
    encoding = flags["encode_type"]
    if encoding and not flags["encoded"]:
        log("encode_type specified, assuming encoded=true.")
    height, width = max(0, flags["resize_height"]), max(0, flags["resize_width"])
    size = None
    with new_lmdb(db_name) as db:
        for index, (name, label) in enumerate(lines):
            enc = encoding
            if flags["encoded"] and not enc:
                enc = name.rpartition(".")[2].lower() if "." in name else ""
            datum = image_datum(root + name, label, height, width, not flags["gray"], enc)
            if flags["check_size"] and not datum.encoded:
                if size is None:
                    size = len(datum.data)
                elif len(datum.data) != size:
                    raise FCNError(f"{root + name}: Incorrect data field size {len(datum.data)} (the first "
                                   f"image's was {size}); resize the images or leave out --check_size")
            db.put(f"{index:08d}_{name}".encode(), datum.SerializeToString())
            if db.count % 1000 == 0:
                log(f"Processed {db.count} files.")
        if db.count % 1000:
            log(f"Processed {db.count} files.")
    return 0


def entry() -> None:
    raise SystemExit(gflags.run_tool("convert_imageset", main))


if __name__ == "__main__":
    entry()
