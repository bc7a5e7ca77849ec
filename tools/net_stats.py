"""The figures of the paper's backbone table, from a built net: learnable
parameters (lr_mult > 0: the fixed bilinear upsampling is left out), depth
(layers with learnable parameters on the longest path from an input), and
the receptive field and stride of the coarsest output, by the algebra
coord_map uses (each window widens the field by (extent - 1) x the stride
so far; a Deconvolution divides the stride back)."""
from __future__ import annotations

from fractions import Fraction

from netspec.geometry import fields_of, read_window

SPATIAL = {"Convolution": "convolution_param", "Pooling": "pooling_param", "Deconvolution": "convolution_param"}


def learnable_counts(net) -> tuple[int, int]:
    """(all parameters, those with lr_mult > 0), shared ones counted once."""
    total = learnable = 0
    for entry in net.learnable:
        total += entry.blob.count
        if entry.lr_mult > 0:
            learnable += entry.blob.count
    return total, learnable


def _learns(layer) -> bool:
    specs = list(layer.param.param)
    return any((specs[k].lr_mult if k < len(specs) else 1.0) > 0 for k in range(len(layer.blobs)))


def geometry(net) -> dict:
    """{'depth', 'receptive_field', 'max_stride'} of the net's tops."""
    depth: dict[str, int] = {}
    field: dict[str, tuple[Fraction, Fraction]] = {}   # blob: (receptive field, stride) in input pixels
    for layer, bottom, top in zip(net.layers, net.bottom_vecs, net.top_vecs):
        kind = layer.param.type
        reads = bottom[:1] if kind == "Crop" else bottom
        d = max((depth.get(b.name, 0) for b in reads), default=0) + (1 if _learns(layer) else 0)
        one = (Fraction(1), Fraction(1))
        rf, stride = max((field.get(b.name, one) for b in reads), default=one, key=lambda f: (f[1], f[0]))
        if kind in SPATIAL:
            p = getattr(layer.param, SPATIAL[kind])
            if kind == "Pooling" and p.global_pooling:
                h, w = bottom[0].shape[2:]
                rf, stride = rf + (max(h, w) - 1) * stride, stride * max(h, w)
            else:
                window = read_window(fields_of(p), layer.name, axes=None)
                assert window is not None       # a kernel is required here
                extent, step = max(window.extent), max(window.stride)
                if kind == "Deconvolution":
                    rf += (-(-extent // step) - 1) * stride
                    stride = stride / step
                else:
                    rf += (extent - 1) * stride
                    stride = stride * step
        for blob in top:
            depth[blob.name] = max(d, depth.get(blob.name, 0) if blob in bottom else 0)
            field[blob.name] = (rf, stride)
    coarsest = max(f[1] for f in field.values()) if field else Fraction(1)
    widest = max((f[0] for f in field.values() if f[1] == coarsest), default=Fraction(1))
    return {"depth": max(depth.values(), default=0), "receptive_field": int(widest), "max_stride": int(coarsest)}
