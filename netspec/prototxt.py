"""Reading and writing Caffe's text format (prototxt).

Parsing goes through protobuf's own text parser, which is what Caffe uses, so
comments, repeated fields, nested messages, enums by name and escaped strings
behave as in Caffe. Writing is ours: Caffe's layout with every float in its
shortest float32 form (`0.0001`, `1`, `1e-14`), as Caffe's C++ printer does.
"""
import math

import numpy as np
from google.protobuf import descriptor, text_encoding, text_format

from common.atomic import write_atomic
from common.errors import FCNError, open_input
from netspec import caffe_pb2
from netspec.upgrade import upgrade_net, upgrade_solver

_FD = descriptor.FieldDescriptor


def parse_text(text, message, source="<string>"):
    """Merge prototxt `text` into `message`; errors name source:line:column."""
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as err:
        line, column = err.GetLine(), err.GetColumn()
        where = f"{source}:{line}:{column}" if line else source
        reason = str(err)
        prefix = f"{line}:{column} : "
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
        raise FCNError(f"{where}: {reason}") from None
    return message


def read_text(path, message):
    try:
        with open_input(path, "prototxt", "r", encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise FCNError(f"{path}: not a text file ({err.reason} at byte {err.start})") from None
    return parse_text(text, message, path)


def read_binary(path, message, what):
    """Merge the binary protobuf file at `path` (a `what`) into `message`;
    a file that is not one is a one-line error."""
    from google.protobuf.message import DecodeError
    with open_input(path, what) as f:
        raw = f.read()
    try:
        message.ParseFromString(raw)
    except DecodeError as err:
        raise FCNError(f"{path}: not a binary {message.DESCRIPTOR.name} ({err})") from None
    return message


def read_net(path):
    """A NetParameter from a prototxt, upgraded as Caffe upgrades on read."""
    return upgrade_net(read_text(path, caffe_pb2.NetParameter()), path)


def read_solver(path):
    return upgrade_solver(read_text(path, caffe_pb2.SolverParameter()), path)


def format_float32(value):
    """Shortest decimal that reads back as the same float32: 1e-14, 0.0001, 1."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    target = np.float32(value)
    for digits in range(1, 10):
        text = f"{float(target):.{digits}g}"
        if np.float32(text) == target:
            return text
    return f"{float(target):.9g}"


def format_double(value):
    if math.isnan(value) or math.isinf(value):
        return format_float32(value)
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if float(text) == value:
            return text
    return f"{value:.17g}"


def _format_scalar(field, value):
    if field.type == _FD.TYPE_STRING:
        return '"' + text_encoding.CEscape(value, as_utf8=True) + '"'
    if field.type == _FD.TYPE_BYTES:
        return '"' + text_encoding.CEscape(value, as_utf8=False) + '"'
    if field.type == _FD.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known else str(value)
    if field.type == _FD.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == _FD.TYPE_FLOAT:
        return format_float32(value)
    if field.type == _FD.TYPE_DOUBLE:
        return format_double(value)
    return str(value)


def format_message(message, indent=0):
    """Prototxt text of `message` in Caffe's layout (two-space indent)."""
    lines = []
    pad = "  " * indent
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if field.type == _FD.TYPE_MESSAGE:
                lines.append(f"{pad}{field.name} {{")
                body = format_message(item, indent + 1)
                if body:
                    lines.append(body.rstrip("\n"))
                lines.append(f"{pad}}}")
            else:
                lines.append(f"{pad}{field.name}: {_format_scalar(field, item)}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_text(path, message):
    write_atomic(path, format_message(message))
