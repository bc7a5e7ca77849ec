"""The blobs of a binary caffemodel, found by reading protobuf's wire format.

Parsing a 537 MB caffemodel with protobuf copies every float into a Python
container and back out; here the file is memory-mapped, each layer's name
and blobs are located by their field numbers (LayerParameter: name 1,
blobs 7; V1LayerParameter: name 4, blobs 6, V0 layer 1; V0LayerParameter:
name 1, blobs 50; BlobProto: num..width 1-4, data 5, diff 6, shape 7,
double_data 8, double_diff 9),
and a blob's packed floats are read in place with numpy. Every length is
checked against the bytes that hold it, so a corrupt length is an error,
never an allocation. Pages already copied out are handed back to the kernel,
so loading costs no more resident memory than the net's own weights.
"""
import mmap
import os
import struct

import numpy as np

from common.errors import FCNError, open_input
from netspec import caffe_pb2

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
V1_TYPES = {number: name for name, number in caffe_pb2.V1LayerParameter.LayerType.items()}
# Floats copied between two hand-backs of pages.
COPY_CHUNK = 1 << 22


class WireError(Exception):
    pass


def _varint(buf, pos, end):
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError(f"a number runs past the end of its message at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError(f"a number longer than 10 bytes at byte {pos}")


def fields(buf, start, end):
    """(number, wire type, value, begin, stop) for each field of the message
    in buf[start:end]; value is the number for varints, else None, and
    buf[begin:stop] holds the payload."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {pos}")
        if wire == VARINT:
            value, stop = _varint(buf, pos, end)
            yield number, wire, value, pos, stop
        elif wire == LENGTH:
            length, begin = _varint(buf, pos, end)
            stop = begin + length
            if stop > end:
                raise WireError(f"a field of {length} bytes at byte {begin} runs past the end of its "
                                f"message (byte {end})")
            yield number, wire, None, begin, stop
        elif wire in (FIXED64, FIXED32):
            stop = pos + (8 if wire == FIXED64 else 4)
            if stop > end:
                raise WireError(f"a fixed-size field at byte {pos} runs past the end of its message")
            yield number, wire, None, pos, stop
        else:
            raise WireError(f"unsupported wire type {wire} at byte {pos}")
        pos = stop


def _int32(value):
    return value - (1 << 64) if value >= 1 << 63 else value


class WireBlob:
    """One BlobProto: its declared shape and where its values lie."""

    def __init__(self, source, begin, stop):
        self.source = source
        self.dims = None
        self.legacy = [0, 0, 0, 0]
        self.has_legacy = False
        self.span = None            # (begin, stop, dtype) of packed values
        self.values = None          # unpacked values, from very old writers
        self.packed = []            # (field, begin, stop) of every packed data and diff field
        buf = source.buf
        for number, wire, value, a, b in fields(buf, begin, stop):
            if number == 7 and wire == LENGTH:
                self.dims = self._dims(buf, a, b)
            elif 1 <= number <= 4 and wire == VARINT:
                self.legacy[number - 1] = _int32(value)
                self.has_legacy = True
            elif number in (5, 6, 8, 9) and wire == LENGTH:
                self.packed.append((number, a, b))
                if number in (6, 9):        # diff, double_diff
                    continue
                dtype = "<f4" if number == 5 else "<f8"
                if self.span is None or self.span[2] == "<f4" and dtype == "<f8":
                    self.span = (a, b, dtype)
            elif number in (5, 8):
                if (number, wire) not in ((5, FIXED32), (8, FIXED64)):
                    raise WireError(f"blob values of the wrong wire type at byte {a}")
                self.values = self.values or []
                self.values.append(struct.unpack("<f" if number == 5 else "<d", buf[a:b])[0])
        if self.span and (self.span[1] - self.span[0]) % np.dtype(self.span[2]).itemsize:
            raise WireError(f"packed blob values at byte {self.span[0]} are not whole numbers")

    @staticmethod
    def _dims(buf, begin, stop):
        dims = []
        for number, wire, value, a, b in fields(buf, begin, stop):
            if number != 1:
                continue
            if wire == VARINT:
                dims.append(_int32(value))
            elif wire == LENGTH:
                pos = a
                while pos < b:
                    d, pos = _varint(buf, pos, b)
                    dims.append(_int32(d))
        return tuple(dims)

    @property
    def shape(self):
        if self.dims is not None:
            return self.dims
        if self.has_legacy:
            return tuple(self.legacy)
        return (self.count,)

    @property
    def count(self):
        if self.values is not None:
            return len(self.values)
        if self.span is None:
            return 0
        begin, stop, dtype = self.span
        return (stop - begin) // np.dtype(dtype).itemsize

    def copy_into(self, target):
        """Copy the values into the float32 array `target` (of `count`
        elements), a chunk at a time, handing each chunk's pages back."""
        flat = target.reshape(-1)
        if self.values is not None:
            flat[...] = self.values
            return
        if self.span is None:
            return
        begin, _, dtype = self.span
        size = np.dtype(dtype).itemsize
        for first in range(0, flat.size, COPY_CHUNK):
            n = min(COPY_CHUNK, flat.size - first)
            offset = begin + first * size
            flat[first:first + n] = np.frombuffer(self.source.buf, dtype, n, offset)
            self.source.hand_back(offset, offset + n * size)

    def array(self):
        out = np.empty(self.count, np.float32)
        self.copy_into(out)
        return out


class Caffemodel:
    """A memory-mapped binary caffemodel; `layers()` yields (name, [WireBlob]).
    After a full pass, `kinds` holds each layer's type and `format` says
    which layout the file uses."""

    def __init__(self, path):
        self.path = path
        self.file = open_input(path, "caffemodel")
        size = os.fstat(self.file.fileno()).st_size
        if size == 0:
            self.file.close()
            raise FCNError(f"{path}: empty file, not a caffemodel")
        self.buf = mmap.mmap(self.file.fileno(), 0, access=mmap.ACCESS_READ)
        self.kinds = {}
        self.layouts = set()

    def hand_back(self, begin, stop):
        page = mmap.PAGESIZE
        start = begin // page * page
        if hasattr(self.buf, "madvise") and hasattr(mmap, "MADV_DONTNEED") and stop > start:
            self.buf.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def layers(self):
        try:
            yield from self._layers()
        except WireError as err:
            raise FCNError(f"{self.path}: not a binary caffemodel (truncated or corrupt: {err})") from None

    def _layers(self):
        buf = self.buf
        for number, wire, _, begin, stop in fields(buf, 0, len(buf)):
            if wire != LENGTH:
                continue
            if number == 100:       # LayerParameter
                self.layouts.add("V2")
                yield self._layer(begin, stop, name_field=1, blobs_field=7, type_field=2)
            elif number == 2:       # V1LayerParameter
                self.layouts.add("V1")
                yield self._layer(begin, stop, name_field=4, blobs_field=6, type_field=5, v0_field=1)

    def _layer(self, begin, stop, name_field, blobs_field, type_field, v0_field=None):
        name, kind, blobs = "", "", []
        for number, wire, value, a, b in fields(self.buf, begin, stop):
            if number == type_field:
                kind = self._text(a, b) if wire == LENGTH else V1_TYPES.get(value, str(value))
                continue
            if wire != LENGTH:
                continue
            if number == name_field:
                name = self._text(a, b)
            elif number == blobs_field:
                blobs.append(WireBlob(self, a, b))
            elif number == v0_field:
                self.layouts.add("V0")
                v0_name, v0_blobs = self._layer(a, b, name_field=1, blobs_field=50, type_field=2)
                name = name or v0_name
                kind = kind or self.kinds.get(v0_name, "")
                blobs.extend(v0_blobs)
        self.kinds[name] = kind
        if any(blob.dims is None and blob.has_legacy for blob in blobs):
            self.layouts.add("legacy dims")
        return name, blobs

    def _text(self, begin, stop):
        try:
            return bytes(self.buf[begin:stop]).decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(f"a layer name at byte {begin} is not UTF-8") from None

    def close(self):
        self.buf.close()
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
