"""The engine against real Caffe, blob by blob, on every shared case."""
import json
import os

import pytest

from tests.conftest import REFERENCE
from tools.netload import build_net
from tools.shapes import blob_shapes
from weights.reference import compare, failures

# Backward runs layer by layer: chained, a last-bit difference in a conv
# output (the BLAS's summation order) may flip a near-tied max-pooling
# argmax and move its gradient, on some machines and not others.
CASES = [("voc-fcn8s-narrow-test", "TEST", False, False, "weights.caffemodel"),
         ("voc-fcn8s-narrow-test", "TEST", False, True, "weights.caffemodel.h5"),
         ("voc-fcn8s-narrow-train", "TRAIN", False, False, "weights.caffemodel"),
         ("voc-fcn8s-narrow-train", "TRAIN", True, True, "weights.caffemodel"),
         ("voc-fcn-alexnet-narrow-train", "TRAIN", True, True, "weights.caffemodel")]


@pytest.mark.parametrize("case,phase,backward,layerwise,weights", CASES)
def test_matches_caffe(case, phase, backward, layerwise, weights):
    folder = os.path.join(REFERENCE, case)
    net = build_net(os.path.join(folder, "net.prototxt"), phase, os.path.join(folder, weights), keep_blobs=True)
    results = compare(net, os.path.join(folder, "blobs.h5"), backward, layerwise)
    assert failures(results) == []
    assert results["skipped"] == []
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    assert len(results["data"]) == len(meta["blob_order"])
    if backward:
        assert len(results["diff"]) == len(meta["blob_order"]) and len(results["param_diff"]) > 10
    loss = meta["outputs"]["loss"]
    assert abs(net.loss - loss) <= 1e-4 * abs(loss)


def test_shapes_match_full_size_published_nets():
    with open(os.path.join(REFERENCE, "shapes", "shapes.json")) as f:
        reference = json.load(f)
    for key, shapes in reference.items():
        model, _, size = key.split("/")
        assert blob_shapes(model, tuple(int(v) for v in size.split("x"))) == shapes, key
