"""Net semantics: rules, splits, in-place, backward planning, sharing, errors."""
import numpy as np
import pytest

from core.net import Net, insert_splits
from netspec import FCNError, caffe_pb2, parse_text


def net_from(text, phase="TRAIN", **kwargs):
    return Net(parse_text(text, caffe_pb2.NetParameter()), phase, **kwargs)


INPUT = 'layer { name: "data" type: "Input" top: "data" top: "label" ' \
        'input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } shape { dim: 2 dim: 1 dim: 4 dim: 4 } } }'
CONV = 'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{top}" {extra} ' \
       'convolution_param {{ num_output: 3 kernel_size: 1 weight_filler {{ type: "gaussian" }} }} }}'
LOSS = 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "%s" bottom: "label" top: "loss" }'


def test_include_exclude_by_phase_stage_level():
    text = INPUT + """
      layer { name: "a" type: "ReLU" bottom: "data" top: "a" include { phase: TRAIN } }
      layer { name: "b" type: "ReLU" bottom: "data" top: "b" exclude { phase: TRAIN } }
      layer { name: "c" type: "ReLU" bottom: "data" top: "c" include { stage: "deep" } }
      layer { name: "d" type: "ReLU" bottom: "data" top: "d" include { min_level: 2 } }"""
    assert net_from(text, "TRAIN").layer_names == ["data", "a"]   # one reader: no split
    assert net_from(text, "TEST").layer_names == ["data", "b"]
    assert "c" in net_from(text, "TEST", stages=["deep"]).layer_names
    assert "d" in net_from(text, "TEST", level=3).layer_names


def test_splits_are_named_as_caffe_and_sum_gradients():
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") + """
      layer { name: "r" type: "ReLU" bottom: "c1" top: "c1" }
      layer { name: "e" type: "Eltwise" bottom: "c1" bottom: "c1" top: "e" }""" + LOSS % "e"
    net = net_from(text, keep_blobs=True)
    assert "c1_r_0_split" in net.layer_names
    assert net.param.layer[net.layer_names.index("e")].bottom[:] == ["c1_r_0_split_0", "c1_r_0_split_1"]
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.standard_normal((2, 3, 4, 4))
    net.blobs["label"].data[...] = rng.integers(0, 3, (2, 1, 4, 4))
    net.forward()
    net.backward()
    # e = c1 + c1, so the gradient reaching c1 is twice e's.
    relu = net.blobs["c1"].data > 0
    np.testing.assert_allclose(net.blobs["c1"].diff, 2 * net.blobs["e"].diff * relu, rtol=1e-6)


def test_loss_weighted_blob_read_again_gets_split_with_weight():
    text = INPUT + """
      layer { name: "l" type: "EuclideanLoss" bottom: "data" bottom: "data" top: "l" }
      layer { name: "p" type: "Power" bottom: "l" top: "p" loss_weight: 1 }"""
    split = insert_splits(parse_text(text, caffe_pb2.NetParameter()))
    names = [l.name for l in split.layer]
    assert "data_data_0_split" in names


def test_in_place_shares_blob_and_backward_planning():
    text = INPUT + CONV.format(name="frozen", bottom="data", top="f", extra="param { lr_mult: 0 } param { lr_mult: 0 }") + \
        'layer { name: "relu" type: "ReLU" bottom: "f" top: "f" }' + \
        CONV.format(name="learned", bottom="f", top="g", extra="") + LOSS % "g"
    net = net_from(text)
    need = dict(zip(net.layer_names, net.layer_need_backward))
    assert need == {"data": False, "frozen": False, "relu": False, "learned": True, "loss": True}
    assert net.bottom_need_backward[net.layer_names.index("learned")] == [False]
    assert [b.name for b in net.top_vecs[net.layer_names.index("relu")]] == ["f"]
    forced = Net(parse_text("force_backward: true " + text, caffe_pb2.NetParameter()), "TRAIN")
    assert all(forced.layer_need_backward)
    loss_index = forced.layer_names.index("loss")
    assert forced.bottom_need_backward[loss_index] == [True, False]   # never into labels


def test_layers_not_reaching_a_loss_skip_backward():
    text = INPUT + CONV.format(name="side", bottom="data", top="s", extra="") + \
        CONV.format(name="main", bottom="data", top="m", extra="") + LOSS % "m"
    net = net_from(text)
    assert net.layer_need_backward[net.layer_names.index("side")] is False
    assert net.outputs == ["s", "loss"]


def test_parameter_sharing_by_name():
    shared = 'param { name: "w" } param { name: "b" }'
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra=shared) + \
        CONV.format(name="c2", bottom="data", top="c2", extra=shared) + \
        'layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "c2" top: "s" }' + LOSS % "s"
    net = net_from(text)
    assert net.params["c1"][0].data is net.params["c2"][0].data
    assert len(net.learnable) == 2
    rng = np.random.default_rng(1)
    net.blobs["data"].data[...] = rng.standard_normal((2, 3, 4, 4))
    net.blobs["label"].data[...] = rng.integers(0, 3, (2, 1, 4, 4))
    net.forward()
    np.testing.assert_array_equal(net.blobs["c1"].data, net.blobs["c2"].data)
    net.clear_param_diffs()
    net.backward()
    # Both uses accumulate into the one diff: twice the gradient of one use.
    single = net_from(INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") +
                      'layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "c1" top: "s" }' + LOSS % "s")
    single.params["c1"][0].data[...] = net.params["c1"][0].data
    single.params["c1"][1].data[...] = net.params["c1"][1].data
    single.forward(data=net.blobs["data"].data, label=net.blobs["label"].data)
    single.clear_param_diffs()
    single.backward()
    np.testing.assert_allclose(net.params["c1"][0].diff, single.params["c1"][0].diff, rtol=1e-5)


def test_loss_weight_scales_loss_and_gradient():
    base = INPUT + CONV.format(name="c", bottom="data", top="c", extra="")
    plain = net_from(base + LOSS % "c")
    weighted = net_from(base + LOSS.replace('top: "loss"', 'top: "loss" loss_weight: 3') % "c")
    rng = np.random.default_rng(2)
    for net in (plain, weighted):
        net.params["c"][0].data[...] = np.random.default_rng(3).standard_normal((3, 3, 1, 1))
    feed = dict(data=rng.standard_normal((2, 3, 4, 4)), label=rng.integers(0, 3, (2, 1, 4, 4)))
    for net in (plain, weighted):
        net.forward(**feed)
        net.clear_param_diffs()
        net.backward()
    assert weighted.loss == pytest.approx(3 * plain.loss, rel=1e-6)
    # A gradient summed over pixels may nearly cancel: rounding is relative to its terms.
    expected = 3 * plain.params["c"][0].diff
    np.testing.assert_allclose(weighted.params["c"][0].diff, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_reshape_on_every_forward():
    net = net_from(INPUT + CONV.format(name="c", bottom="data", top="c", extra=""), "TEST")
    out = net.forward(data=np.ones((1, 3, 7, 5), np.float32))
    assert out["c"].shape == (1, 3, 7, 5)


def test_layer_phase_is_inherited():
    net = net_from(INPUT, "TEST")
    assert all(layer.phase == caffe_pb2.TEST for layer in net.param.layer)


@pytest.mark.parametrize("text,message", [
    (INPUT + 'layer { name: "x" type: "Bogus" bottom: "data" top: "x" }', "unknown type 'Bogus'.*Convolution"),
    (INPUT + 'layer { name: "x" type: "ReLU" bottom: "nothing" top: "x" }', "bottom 'nothing' is not produced"),
    (INPUT + 'layer { name: "x" type: "ReLU" bottom: "data" top: "label" }', "top 'label' is already produced"),
    (INPUT + 'layer { name: "data" type: "ReLU" bottom: "data" top: "y" }', "two layers are named 'data'"),
    (INPUT + 'layer { name: "e" type: "Eltwise" bottom: "data" bottom: "label" top: "e" }',
     r"'e' \(Eltwise\).*\[2, 3, 4, 4\].*\[2, 1, 4, 4\]"),
    (INPUT + 'layer { name: "c" type: "Concat" bottom: "data" bottom: "label" top: "c" concat_param { axis: 2 } }',
     "every axis but 2"),
    (INPUT + 'layer { name: "r" type: "ReLU" top: "r" }', "takes 1 bottom"),
])
def test_errors_name_layer_and_shapes(text, message):
    with pytest.raises(FCNError, match=message):
        net_from(text)


def test_propagate_down_false_stops_a_bottom_gradient():
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") + \
        CONV.format(name="c2", bottom="c1", top="c2", extra="propagate_down: false") + LOSS % "c2"
    net = net_from(text)
    assert net.bottom_need_backward[net.layer_names.index("c2")] == [False]
    assert net.layer_need_backward[net.layer_names.index("c2")]          # its own params still learn
    net.forward(data=np.ones((2, 3, 4, 4), np.float32), label=np.zeros((2, 1, 4, 4), np.float32))
    net.clear_param_diffs()
    net.backward()
    assert not net.params["c1"][0].diff.any() and net.params["c2"][0].diff.any()


def test_test_net_frees_intermediates_after_their_last_reader():
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") + """
      layer { name: "r" type: "ReLU" bottom: "c1" top: "c1" }""" + CONV.format(
        name="c2", bottom="c1", top="c2", extra="") + """
      layer { name: "e" type: "Eltwise" bottom: "c2" bottom: "c1" top: "e" }"""
    kept = net_from(text, "TEST", keep_blobs=True)
    lean = net_from(text, "TEST")
    lean.share_with(kept)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    for _ in range(2):     # a freed blob comes back when its producer runs again
        expected = kept.forward(data=x)["e"]
        np.testing.assert_array_equal(lean.forward(data=x)["e"], expected)
    np.testing.assert_array_equal(lean.blobs["data"].data, kept.blobs["data"].data)
    for name in ("c1", "c2"):
        assert lean.blobs[name].shape == kept.blobs[name].shape
        with pytest.raises(FCNError, match=f"'{name}' was freed.*keep_blobs=True"):
            lean.blobs[name].data
    lean.reshape()
    assert lean.blobs["c1"].data.shape == kept.blobs["c1"].data.shape
    train = net_from(text + LOSS % "e", "TRAIN")
    train.forward(data=x)
    assert train.blobs["c1"].data.shape == (2, 3, 4, 4)    # backward will need it


def _train_pass(net, x, label):
    net.forward(data=x, label=label)
    net.clear_param_diffs()
    net.backward()
    return {name: [blob.diff.copy() for blob in blobs] for name, blobs in net.params.items()}


def test_train_net_drops_each_diff_once_passed_down():
    """Same parameter gradients pass after pass as a net that keeps every
    diff, through in-place layers, splits and a Reshape that shares its
    top's diff with its bottom."""
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") + """
      layer { name: "r" type: "ReLU" bottom: "c1" top: "c1" }
      layer { name: "flat" type: "Reshape" bottom: "c1" top: "flat" reshape_param { shape { dim: 0 dim: 0 dim: -1 dim: 1 } } }
      layer { name: "back" type: "Reshape" bottom: "flat" top: "back" reshape_param { shape { dim: 0 dim: 0 dim: 4 dim: 4 } } }
    """ + CONV.format(name="c2", bottom="back", top="c2", extra="") + """
      layer { name: "e" type: "Eltwise" bottom: "c2" bottom: "c1" top: "e" }""" + LOSS % "e"
    kept = net_from(text, keep_blobs=True)
    lean = net_from(text)
    lean.share_with(kept)
    rng = np.random.default_rng(1)
    for _ in range(3):     # later passes run on lent buffers holding old values
        x = rng.standard_normal((2, 3, 4, 4))
        label = rng.integers(0, 3, (2, 1, 4, 4))
        expected = _train_pass(kept, x, label)
        got = _train_pass(lean, x, label)
        for name in expected:
            for e, g in zip(expected[name], got[name]):
                np.testing.assert_array_equal(g, e)
        assert [name for name, blob in lean.blobs.items() if blob.has_diff] == []   # all passed down
        assert all(blob.has_diff for name, blob in kept.blobs.items() if name not in ("data", "label"))
    with pytest.raises(FCNError, match="diff of blob 'c2' was dropped.*keep_blobs=True"):
        lean.blobs["c2"].diff


def test_train_net_diffs_free_on_an_fcn_net():
    """voc-fcn8s (narrowed): crops, splits, skips and in-place ReLU/Dropout."""
    from tests.conftest import REFERENCE
    from tools.netload import build_net
    folder = f"{REFERENCE}/voc-fcn8s-narrow-train"
    kept = build_net(f"{folder}/net.prototxt", "TRAIN", f"{folder}/weights.caffemodel", keep_blobs=True)
    lean = build_net(f"{folder}/net.prototxt", "TRAIN", f"{folder}/weights.caffemodel")
    lean.share_with(kept)
    shape = kept.blobs["data"].shape
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.standard_normal(shape) * 50
        label = rng.integers(0, 21, (shape[0], 1) + shape[2:])
        for dropout in ("drop6", "drop7"):   # the same masks in both nets
            kept.layer(dropout).rng = np.random.default_rng(3)
            lean.layer(dropout).rng = np.random.default_rng(3)
        expected = _train_pass(kept, x, label)
        got = _train_pass(lean, x, label)
        for name in expected:
            for e, g in zip(expected[name], got[name]):
                np.testing.assert_array_equal(g, e)
    dropped = [name for name, blob in kept.blobs.items() if not lean.blobs[name].has_diff]
    assert len(dropped) > len(kept.blobs) // 2


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_folded_into_the_convolution_before_it(slope):
    """A pass running a Convolution and its in-place ReLU applies the ReLU
    inside the convolution (Winograd and im2col paths alike), with the very
    same arithmetic; a pass stopping at the convolution leaves its output
    before the ReLU, as Caffe's would be."""
    text = """
      layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 16 dim: 9 dim: 7 } } }
      layer { name: "wide" type: "Convolution" bottom: "data" top: "wide"
              convolution_param { num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" }
                                  bias_filler { type: "gaussian" } } }
      layer { name: "r1" type: "ReLU" bottom: "wide" top: "wide" relu_param { negative_slope: %s } }
      layer { name: "point" type: "Convolution" bottom: "wide" top: "point"
              convolution_param { num_output: 5 kernel_size: 1 weight_filler { type: "gaussian" } } }
      layer { name: "r2" type: "ReLU" bottom: "point" top: "point" relu_param { negative_slope: %s } }
    """.replace("%s", str(slope))
    net = net_from(text, "TEST", keep_blobs=True)
    assert net.fusions == {1: [2], 3: [4]}
    x = np.random.default_rng(4).standard_normal((1, 16, 9, 7))
    whole = net.forward(data=x)["point"].copy()
    wide = net.blobs["wide"].data.copy()
    for name in net.layer_names[1:]:          # one layer a pass: nothing folds
        net.forward(start=name, end=name)
    np.testing.assert_array_equal(net.blobs["wide"].data, wide)
    np.testing.assert_array_equal(net.blobs["point"].data, whole)
    net.forward(end="wide")
    assert (net.blobs["wide"].data < 0).any()                 # before its ReLU
    np.testing.assert_array_equal(np.where(net.blobs["wide"].data > 0, net.blobs["wide"].data,
                                           net.blobs["wide"].data * np.float32(slope)), wide)


def test_a_blob_an_in_place_layer_writes_last_is_an_output():
    text = INPUT + CONV.format(name="c1", bottom="data", top="c1", extra="") + """
      layer { name: "r" type: "ReLU" bottom: "c1" top: "c1" }"""
    for keep in (True, False):
        net = net_from(text, "TEST", keep_blobs=keep)
        assert net.outputs == ["label", "c1"]
        out = net.forward(data=np.ones((2, 3, 4, 4)))
        assert out["c1"].shape == (2, 3, 4, 4) and (out["c1"] >= 0).all()


def test_test_net_lends_memory_without_overlap_or_growth():
    """voc-fcn8s (narrowed) freeing its blobs into the arena gives the same
    score as a net that keeps them, pass after pass and across a change of
    input size, and its arena stops growing once a size has been seen."""
    from tests.conftest import REFERENCE
    from tools.netload import build_net
    folder = f"{REFERENCE}/voc-fcn8s-narrow-test"
    kept = build_net(f"{folder}/net.prototxt", "TEST", f"{folder}/weights.caffemodel", keep_blobs=True)
    lean = build_net(f"{folder}/net.prototxt", "TEST", f"{folder}/weights.caffemodel")
    lean.share_with(kept)
    lean.keep("score")
    rng = np.random.default_rng(5)
    sizes = []
    for shape in [(1, 3, 61, 47), (1, 3, 61, 47), (1, 3, 90, 72), (1, 3, 61, 47), (1, 3, 90, 72)]:
        feed = dict(data=rng.standard_normal(shape) * 50, label=rng.integers(0, 21, (1, 1) + shape[2:]))
        lean.forward(**feed)
        kept.forward(**feed)
        np.testing.assert_array_equal(lean.blobs["score"].data, kept.blobs["score"].data)
        assert lean.loss == kept.loss
        sizes.append(sum(region[0].size for region in lean.arena.regions))
    assert sizes[3] <= sizes[2] and sizes[4] == sizes[2]


def test_batchnorm_and_scale_fold_into_the_convolution_at_test_time():
    """conv -> BatchNorm -> Scale -> ReLU, all in place, as ResNet writes
    them: a TEST net on the fastest algorithms folds the three into the
    convolution (one pass over memory), matching numpy's layer-by-layer
    arithmetic; Caffe's engine and TRAIN nets keep them apart."""
    from core.options import Options
    text = """
      layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 5 } } }
      layer { name: "c" type: "Convolution" bottom: "data" top: "c"
              convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false weight_filler { type: "gaussian" } } }
      layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" batch_norm_param { use_global_stats: true } }
      layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
      layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
    """
    rng = np.random.default_rng(0)
    nets = {}
    for key, options in (("fastest", Options()), ("caffe", Options(convolution="im2col"))):
        net = Net(parse_text(text, caffe_pb2.NetParameter()), "TEST", keep_blobs=True, options=options)
        nets[key] = net
    assert nets["fastest"].fusions == {1: [2, 3, 4]} and nets["caffe"].fusions == {}
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    mean, var, count = rng.standard_normal(4), rng.random(4) + 0.5, 2.0
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    for net in nets.values():
        net.params["c"][0].data[...] = w
        bn = net.params["bn"]
        bn[0].data[...], bn[1].data[...], bn[2].data[...] = mean * count, var * count, count
        net.params["sc"][0].data[...], net.params["sc"][1].data[...] = gamma, beta
        net.forward(data=x)
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 4, 6, 5))
    for dy in range(3):
        for dx in range(3):
            conv += np.einsum("oc,nchw->nohw", w[:, :, dy, dx], padded[:, :, dy:dy + 6, dx:dx + 5])
    shape = (1, 4, 1, 1)
    expected = (conv - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * gamma.reshape(shape)
    expected = np.maximum(expected + beta.reshape(shape), 0)
    for key, net in nets.items():
        np.testing.assert_allclose(net.blobs["c"].data, expected, rtol=1e-4, atol=1e-5, err_msg=key)
    # Nothing is cached from one pass to the next: statistics and weights
    # changed in place show in the next pass, as in Caffe.
    net = nets["fastest"]
    net.params["bn"][0].data[...] += count                  # every mean up by 1
    net.params["c"][0].data[...] *= 2
    net.forward(data=x)
    shifted = (2 * conv - mean.reshape(shape) - 1) / np.sqrt(var.reshape(shape) + 1e-5) * gamma.reshape(shape)
    np.testing.assert_allclose(net.blobs["c"].data, np.maximum(shifted + beta.reshape(shape), 0), rtol=1e-4, atol=1e-5)
    train = Net(parse_text(text, caffe_pb2.NetParameter()), "TRAIN")
    assert train.fusions == {}        # BatchNorm first: nothing that TRAIN may fold


@pytest.mark.parametrize("coeff", ["", "coeff: 0.5 coeff: -2"])
def test_residual_sum_and_its_relu_in_one_pass(coeff):
    """Eltwise SUM and the in-place ReLU after it (a ResNet block's end) run
    as one pass, equal to numpy's sum then ReLU; a pass stopping at the
    Eltwise leaves the sum before its ReLU. PROD fuses as well."""
    text = """
      layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 2 dim: 3 dim: 50 dim: 41 } } }
      layer { name: "b" type: "Input" top: "b" input_param { shape { dim: 2 dim: 3 dim: 50 dim: 41 } } }
      layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" eltwise_param { COEFF } }
      layer { name: "r" type: "ReLU" bottom: "sum" top: "sum" relu_param { negative_slope: 0.25 } }
      layer { name: "prod" type: "Eltwise" bottom: "a" bottom: "b" top: "prod" eltwise_param { operation: PROD } }
      layer { name: "r2" type: "ReLU" bottom: "prod" top: "prod" }
    """.replace("COEFF", coeff)
    net = net_from(text, "TEST", keep_blobs=True)
    named = {net.layer_names[i]: [net.layer_names[j] for j in chain] for i, chain in net.fusions.items()}
    assert named == {"sum": ["r"], "prod": ["r2"]}
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((2, 3, 50, 41)).astype(np.float32) for _ in range(2))
    c = (np.float32(0.5), np.float32(-2)) if coeff else (np.float32(1), np.float32(1))
    out = net.forward(a=a, b=b)
    total = a * c[0] + b * c[1]
    np.testing.assert_array_equal(out["sum"], np.where(total > 0, total, total * np.float32(0.25)))
    np.testing.assert_array_equal(out["prod"], np.maximum(a * b, 0))
    net.forward(a=a, b=b, end="sum")
    np.testing.assert_array_equal(net.blobs["sum"].data, total)


def test_a_residual_block_ends_inside_its_last_convolution():
    """conv -> BatchNorm -> Scale -> Eltwise SUM with the shortcut -> ReLU,
    as every ResNet block ends: in a lean TEST net the sum and its ReLU fold
    into the convolution's epilogue, which writes the Eltwise's top directly.
    Equal, bit for bit, to a net that keeps every blob (and so runs the
    Eltwise itself), and to numpy; a pass ending at the convolution leaves
    its own top as Caffe's would be."""
    from core.options import Options
    text = """
      layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 8 dim: 9 dim: 7 } } }
      layer { name: "c" type: "Convolution" bottom: "data" top: "c"
              convolution_param { num_output: 8 kernel_size: 1 bias_term: false weight_filler { type: "gaussian" } } }
      layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" batch_norm_param { use_global_stats: true } }
      layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
      layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "c" top: "sum" }
      layer { name: "r" type: "ReLU" bottom: "sum" top: "sum" }
    """
    rng = np.random.default_rng(11)
    w = rng.standard_normal((8, 8, 1, 1)).astype(np.float32)
    mean, var = rng.standard_normal(8), rng.random(8) + 0.5
    gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
    x = rng.standard_normal((2, 8, 9, 7)).astype(np.float32)
    outs, nets = {}, {}
    for keep in (False, True):
        net = Net(parse_text(text, caffe_pb2.NetParameter()), "TEST", keep_blobs=keep, options=Options())
        net.params["c"][0].data[...] = w
        bn = net.params["bn"]
        bn[0].data[...], bn[1].data[...], bn[2].data[...] = mean, var, 1
        net.params["sc"][0].data[...], net.params["sc"][1].data[...] = gamma, beta
        outs[keep] = net.forward(data=x)["sum"].copy()
        nets[keep] = net
    names = nets[False].layer_names
    assert {names[i]: [names[j] for j in c] for i, c in nets[False].residuals.items()} == {"c": ["sum", "r"]}
    assert nets[True].residuals == {}
    np.testing.assert_array_equal(outs[False], outs[True])
    conv = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), x)
    shape = (1, 8, 1, 1)
    branch = (conv - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * gamma.reshape(shape) + beta.reshape(shape)
    np.testing.assert_allclose(outs[False], np.maximum(branch + x, 0), rtol=1e-5, atol=1e-5)
    nets[False].forward(data=x, end="sc")
    np.testing.assert_allclose(nets[False].blobs["c"].data, branch, rtol=1e-5, atol=1e-5)
    nets[False].keep("c")          # a kept top must be written: nothing folds past it
    assert nets[False].residuals == {}
    np.testing.assert_array_equal(nets[False].forward(data=x)["sum"], outs[True])
