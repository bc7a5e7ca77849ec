"""Finite-difference gradient checks for one layer, and layer test helpers.

The objective is sum(top * W) for fixed random W (the loss weight for loss
layers); each checked input element is nudged by +-eps and the central
difference compared with what backward computed. Float32 engine, so the
checks use eps 1e-2 (as Caffe's GradientChecker) on inputs kept away from
kinks by the callers.

The error of an element is |numeric - analytic| over the larger of the two
and a tenth of the largest gradient of its blob (never over a fixed 1, as
Caffe's checker does for gradients of order one): a normalized loss whose
every gradient is 0.002 is held to its own scale, so a zero, a sign flip or
a wrong normalization fails (tests/layers/test_gradcheck.py proves it).
"""
import numpy as np

import layers.all_layers  # noqa: F401  (registers every layer type)
from core.blob import Blob
from core.layer import create_layer
from netspec import caffe_pb2, parse_text


def nan_filled(shape):
    return np.full(shape, np.nan, np.float32)


def make_layer(text, bottoms, phase=caffe_pb2.TRAIN, ntop=1, in_place=False, options=None, configure=None):
    """A set-up layer from prototxt text and bottom arrays, through the
    lifecycle the Net uses (Layer.layer_setup); `configure(layer)` runs
    after it (a test choosing an algorithm). Returns (layer, bottom, top)."""
    param = parse_text(text, caffe_pb2.LayerParameter())
    if not param.name:
        param.name = "layer"
    layer = create_layer(param, phase, options)
    bottom = []
    for i, array in enumerate(bottoms):
        blob = Blob(array.shape, name=f"bottom{i}")
        blob.data = np.array(array, np.float32)
        bottom.append(blob)
    top = [bottom[0]] if in_place else [Blob(name=f"top{i}") for i in range(ntop)]
    for blob in top[0:0] if in_place else top:
        # Tops start as NaN, as the arena's lent buffers start as garbage:
        # a layer that leaves any element unwritten shows it in every test.
        blob.allocator = nan_filled
    layer.layer_setup(bottom, top)
    if configure:
        configure(layer)
    layer.param_propagate_down = [True] * len(layer.blobs)
    return layer, bottom, top


def run_forward(text, bottoms, **kwargs):
    layer, bottom, top = make_layer(text, bottoms, **kwargs)
    layer.forward(bottom, top)
    return layer, [t.data.copy() for t in top]


def check_gradient(text, bottoms, check=None, phase=caffe_pb2.TRAIN, ntop=1, eps=1e-2, tol=2e-2,
                   samples=60, seed=0, in_place=False, reseed=None, params=True, top_weights=None, options=None,
                   configure=None):
    """Analytic against numeric gradients for the bottoms in `check` (default
    all) and every learnable blob. Raises AssertionError with the worst case."""
    rng = np.random.default_rng(seed)
    layer, bottom, top = make_layer(text, bottoms, phase, ntop, in_place, options, configure)
    originals = [b.data.copy() for b in bottom]
    check = range(len(bottom)) if check is None else check

    def objective():
        if in_place:
            bottom[0].data[...] = current_input[0]
        if reseed:
            reseed(layer)
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        return sum(float((t.data.astype(np.float64) * w).sum()) for t, w in zip(top, weights))

    current_input = [originals[0].copy()] if in_place else None
    weights = top_weights or [rng.standard_normal(t.shape) for t in top]
    objective()
    for t, w in zip(top, weights):
        t.diff[...] = w
    for blob in layer.blobs:
        blob.diff[...] = 0
    down = [i in check for i in range(len(bottom))]
    layer.backward(top, down, bottom)
    analytic = {("bottom", i): bottom[i].diff.copy() for i in check}
    if params:
        analytic.update({("param", k): blob.diff.copy() for k, blob in enumerate(layer.blobs)})
    worst = (0.0, None)
    for (kind, index), grad in analytic.items():
        target = current_input[0] if (in_place and kind == "bottom") else (
            bottom[index].data if kind == "bottom" else layer.blobs[index].data)
        flat = target.reshape(-1)
        picks = rng.choice(flat.size, min(samples, flat.size), replace=False)
        pairs = []
        for p in picks:
            keep = flat[p]
            flat[p] = keep + eps
            up = objective()
            flat[p] = keep - eps
            down_value = objective()
            flat[p] = keep
            pairs.append((p, (up - down_value) / (2 * eps), float(grad.reshape(-1)[p])))
        # The blob's gradient scale: the largest of either side, over every
        # element backward computed and every sampled numeric one.
        blob_scale = max([abs(n) for _, n, _ in pairs] + [float(np.abs(grad).max(initial=0.0))])
        for p, numeric, got in pairs:
            scale = max(abs(numeric), abs(got), 0.1 * blob_scale, 1e-30)
            error = abs(numeric - got) / scale
            if error > worst[0]:
                worst = (error, f"{kind} {index} element {p}: analytic {got:.6g}, numeric {numeric:.6g}")
    assert worst[0] <= tol, f"gradient mismatch ({worst[0]:.3g}): {worst[1]}"
    return worst[0]


def away_from_zero(shape, seed=0, gap=0.05):
    """Random values with |x| >= gap, so that kinks at 0 stay out of reach of eps."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + gap, x - gap).astype(np.float32)


def distinct(shape, seed=0, spacing=0.1):
    """Values spaced `spacing` apart in random order: no ties for MAX to break."""
    rng = np.random.default_rng(seed)
    count = int(np.prod(shape))
    return (rng.permutation(count).reshape(shape) * spacing - count * spacing / 2).astype(np.float32)
