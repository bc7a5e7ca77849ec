"""Kernel, stride, pad and dilation of a sliding window, read one way for
every layer that has them: Convolution and Deconvolution (repeated
`kernel_size`, `stride`, `pad`, `dilation`), Pooling (single values), and
the coordinate maps NetSpec computes from the same parameters.

The parameters come through `get(name)`: None where a field is absent, a
number or a list where given; `fields_of` makes one from a protobuf message,
a dict (NetSpec's keyword arguments) serves as it is.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.errors import FCNError


@dataclass(frozen=True)
class Window:
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pad: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def extent(self) -> tuple[int, ...]:
        """Each axis's span of input under one window: (kernel - 1) * dilation + 1."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))


def fields_of(message) -> Callable[[str], Any]:
    """get(name) over a protobuf message: None for an unset optional field
    or an empty repeated one."""
    def get(name):
        field = message.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            return None
        value = getattr(message, name)
        if field.is_repeated:
            return list(value) or None
        return value if message.HasField(name) else None
    return get


def _values(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def read_window(get: Callable[[str], Any], what: str, axes: int | None = 2, kernel_required: bool = True,
                legacy: bool = True) -> Window | None:
    """The window the parameters describe, each field given once for every
    axis or once for all. `axes`: how many spatial axes (None: as many as
    the fields name). `legacy`: whether kernel_h/_w, stride_h/_w and
    pad_h/_w are allowed (2-D only). None if no kernel is given and none is
    required (global pooling). Errors name `what` (the layer)."""
    found = {}
    for name, default in (("kernel", None), ("stride", 1), ("pad", 0)):
        single = _values(get(f"{name}_size" if name == "kernel" else name))
        h, w = get(f"{name}_h"), get(f"{name}_w")
        if h is not None or w is not None:
            if not legacy:
                raise FCNError(f"{what}: {name}_h/{name}_w are not supported here; use {name}"
                               f"{'_size' if name == 'kernel' else ''}")
            if single:
                raise FCNError(f"{what}: give {name}{'_size' if name == 'kernel' else ''} or {name}_h/{name}_w, "
                               "not both")
            if h is None or w is None:
                raise FCNError(f"{what}: {name}_h and {name}_w go together")
            found[name] = [h, w]
        else:
            found[name] = single or ([] if default is None else [default])
    found["dilation"] = _values(get("dilation")) or [1]
    if not found["kernel"]:
        if kernel_required:
            raise FCNError(f"{what}: kernel_size (or kernel_h and kernel_w) is required")
        return None
    counts = {len(v) for v in found.values()} - {1}
    size = axes if axes is not None else (max(counts) if counts else 1)
    for name, values in found.items():
        if len(values) not in (1, size):
            field = "kernel_size" if name == "kernel" else name
            raise FCNError(f"{what}: {field} has {len(values)} values; {size}-D windows take 1 or {size}")
    full = {name: tuple(int(v) for v in (values * size if len(values) == 1 else values))
            for name, values in found.items()}
    if min(full["kernel"] + full["stride"] + full["dilation"]) <= 0:
        raise FCNError(f"{what}: kernel, stride and dilation must be positive")
    return Window(full["kernel"], full["stride"], full["pad"], full["dilation"])
