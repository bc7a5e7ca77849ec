"""Coordinate maps between blobs, for aligning them with Crop layers.

Each spatial layer maps input coordinates to output ones by a scale and an
offset along its axis. Composing the maps along the graph from two blobs back
to a common ancestor gives how one sits in the other; `crop` turns that into a
Crop layer's axis and offsets, as Caffe's coord_map does.
"""
from fractions import Fraction

from common.errors import FCNError
from netspec.geometry import read_window
from netspec.net_spec import layers as L

# Layers that keep every coordinate where it was.
PASS_THROUGH = {"AbsVal", "BatchNorm", "Bias", "BNLL", "Dropout", "Eltwise", "ELU", "Log",
                "LRN", "Exp", "MVN", "Power", "ReLU", "PReLU", "Scale", "Sigmoid", "Split",
                "TanH", "Threshold"}


def _per_axis(value, default):
    if value is None:
        value = default
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _conv_geometry(fn):
    """(axis, stride, effective kernel, pad) of a Convolution-like layer."""
    params = fn.params.get("convolution_param", fn.params)
    legacy = {"pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w"} & set(params)
    if legacy:
        raise FCNError(f"{fn.type_name}: coordinate maps need pad/kernel_size/stride, "
                       f"not the 2-D fields {sorted(legacy)}")
    if "kernel_size" not in params:
        raise FCNError(f"{fn.type_name}: no kernel_size, cannot map coordinates through it")
    window = read_window(params.get, fn.type_name, axes=None, legacy=False)
    return params.get("axis", 1), list(window.stride), list(window.extent), list(window.pad)


def layer_map(fn):
    """(axis, scales, offsets) of one layer, or None if it has no map."""
    if fn.type_name in ("Convolution", "Pooling", "Im2col"):
        axis, stride, extent, pad = _conv_geometry(fn)
        return axis, [Fraction(1, s) for s in stride], \
            [Fraction(2 * p - (e - 1), 2 * s) for s, e, p in zip(stride, extent, pad)]
    if fn.type_name == "Deconvolution":
        axis, stride, extent, pad = _conv_geometry(fn)
        return axis, [Fraction(s) for s in stride], [Fraction(e - 1, 2) - p for e, p in zip(extent, pad)]
    if fn.type_name == "Crop":
        params = fn.params.get("crop_param", fn.params)
        offsets = _per_axis(params.get("offset"), 0)
        return params.get("axis", 2) - 1, [Fraction(1)], [Fraction(-o) for o in offsets]
    if fn.type_name == "Upsample":
        # Beyond pycaffe: max-unpooling to its reference's size keeps that
        # blob's coordinates; by a scale s, value i spreads over s i .. s i + s - 1.
        if len(fn.inputs) == 3:
            return None, [Fraction(1)], [Fraction(0)]
        params = fn.params.get("upsample_param", fn.params)
        scale = params.get("scale", 2)
        return None, [Fraction(scale)], [Fraction(scale - 1, 2)]
    if fn.type_name == "Concat" and fn.params.get("axis", fn.params.get("concat_param", {}).get("axis", 1)) == 1:
        # Beyond pycaffe: a Concat of channels keeps coordinates where they
        # were (its inputs share them: GoogLeNet's inception modules).
        return None, [Fraction(1)], [Fraction(0)]
    if fn.type_name in PASS_THROUGH:
        return None, [Fraction(1)], [Fraction(0)]
    return None


def _broadcast(a, b):
    if len(a) == len(b):
        return a, b
    if len(a) == 1:
        return a * len(b), b
    if len(b) == 1:
        return a, b * len(a)
    raise FCNError(f"coordinate maps over {len(a)} and {len(b)} axes cannot compose")


def compose(base, then):
    """The map of `base` followed by `then`."""
    ax1, a1, b1 = base
    ax2, a2, b2 = then
    if ax1 is not None and ax2 is not None and ax1 != ax2:
        raise FCNError(f"coordinate maps along axis {ax1} and axis {ax2} cannot compose")
    a1, a2 = _broadcast(a1, a2)
    b1, b2 = _broadcast(b1, b2)
    a1, b1 = _broadcast(a1, b1)
    a2, b2 = _broadcast(a2, b2)
    return (ax1 if ax1 is not None else ax2,
            [x * y for x, y in zip(a1, a2)],
            [x * off2 + off1 for x, off1, off2 in zip(a1, b1, b2)])


def inverse(cmap):
    axis, scale, offset = cmap
    return axis, [1 / a for a in scale], [-b / a for a, b in zip(scale, offset)]


def _bottoms(top):
    """The inputs that a top's coordinates follow: a Crop follows its first
    only, an Upsample given the pooling's input as reference that one only."""
    inputs = top.fn.inputs
    if top.fn.type_name == "Upsample" and len(inputs) == 3:
        return inputs[2:]
    return inputs[:1] if top.fn.type_name == "Crop" else inputs


def _walk(start):
    """Each ancestor of `start`, nearest first, with the map from it to `start`."""
    maps = {start: (None, [Fraction(1)], [Fraction(0)])}
    frontier = [start]
    while frontier:
        top = frontier.pop(0)
        yield top, maps[top]
        own = layer_map(top.fn)
        if own is None:
            continue
        for bottom in _bottoms(top):
            if bottom not in maps:
                maps[bottom] = compose(maps[top], own)
                frontier.append(bottom)


def coord_map_from_to(top_from, top_to):
    """Map from `top_from`'s coordinates into `top_to`'s, through their
    nearest common ancestor."""
    from_maps = dict(_walk(top_from))
    for top, to_map in _walk(top_to):
        if top in from_maps:
            return compose(to_map, inverse(from_maps[top]))
    raise FCNError(f"cannot align {top_from.fn.type_name} output with {top_to.fn.type_name} "
                   "output: no common input reached through spatial layers")


def crop_offsets(top_from, top_to):
    """(axis, offsets) of the Crop that aligns `top_from` to `top_to`."""
    axis, scale, offset = coord_map_from_to(top_from, top_to)
    what = f"crop of {top_from.fn.type_name} to {top_to.fn.type_name}"
    if any(a != 1 for a in scale):
        raise FCNError(f"{what}: the two differ in scale ({', '.join(map(str, scale))}), a crop cannot align them")
    if any(b > 0 for b in offset):
        raise FCNError(f"{what}: the first is smaller than the second (offset {[-b for b in offset]})")
    if any(b.denominator != 1 for b in offset):
        raise FCNError(f"{what}: the alignment is off by a fraction of a pixel ({[str(-b) for b in offset]})")
    return (1 if axis is None else axis) + 1, [int(-b) for b in offset]


def crop(top_from, top_to):
    """A Crop layer that cuts `top_from` to the size and place of `top_to`."""
    axis, offsets = crop_offsets(top_from, top_to)
    return L.Crop(top_from, top_to, crop_param=dict(axis=axis, offset=offsets))
