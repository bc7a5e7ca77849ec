"""Caffe's dialects: BVLC's schema (netspec/caffe.proto) and, one module and
one .proto each, the additions of the forks whose files people hold.

A fork's .proto here holds its own messages with its own field numbers;
netspec/caffe.proto gives each the LayerParameter field that holds it. A
fork's module says where it came from, which layer types and fields it
adds, and the number its own files give each field where that number
means something else in BVLC's schema or another fork's (SegNet's
upsample_param is 137 in caffe-segnet, BVLC's embed_param). The dialect of a
file is read from what it holds: the layer types and fields it uses.

Where a prototxt uses a field, its name decides (text names are the
same in every dialect that has the field); where a binary file's number
means different things in two dialects, the dialect named by the file's
layer types decides, else BVLC's meaning stands.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dialect:
    name: str                                   # as `fcn info` names it
    source: str                                 # the fork's repository and its schema's path
    layer_types: frozenset[str]                 # layer types only this dialect has
    layer_fields: dict[str, int] = field(default_factory=dict)   # LayerParameter fields it adds: its own numbers


def registered() -> tuple[Dialect, ...]:
    from netspec.dialects import segnet
    return (segnet.DIALECT,)


def detect(net_param) -> list[Dialect]:
    """The forks whose layer types or LayerParameter fields `net_param` uses."""
    found = []
    for dialect in registered():
        for layer in net_param.layer:
            if layer.type in dialect.layer_types or any(layer.HasField(f) for f in dialect.layer_fields):
                found.append(dialect)
                break
    return found


def describe(net_param) -> str:
    """'BVLC', or 'BVLC + SegNet' for a net that uses SegNet's additions."""
    return " + ".join(["BVLC"] + [d.name for d in detect(net_param)])
