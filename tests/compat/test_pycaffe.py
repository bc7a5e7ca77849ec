"""What pycaffe scripts rely on beyond the Net itself."""
import numpy as np
import pytest

NET = """name: "p" force_backward: true
layer { name: "data" type: "DummyData" top: "data"
        dummy_data_param { shape { dim: 2 dim: 3 } data_filler { type: "constant" value: 1 } } }
layer { name: "scale" type: "Python" bottom: "data" top: "out"
        python_param { module: "tests.compat.scripted_layers" layer: "LearnedScale" } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "data" top: "loss" }
"""


def test_layer_type_list(caffe):
    types = caffe.layer_type_list()
    assert types == sorted(types) and {"Convolution", "DummyData", "Python", "Deconvolution"} <= set(types)
    assert caffe.has_nccl() is False


def test_python_layer_with_a_learnable_blob_trained_by_the_solver(caffe, tmp_path):
    """self.blobs.add_blob: learned by SGD (loss (w - 1)^2 per element, so w
    goes from 0 toward 1 along the exact SGD path), saved and loaded."""
    (tmp_path / "net.prototxt").write_text(NET)
    net = tmp_path / "net.prototxt"
    (tmp_path / "solver.prototxt").write_text(f'net: "{net}" base_lr: 0.1 lr_policy: "fixed" max_iter: 3 '
                                              'snapshot_after_train: false snapshot_prefix: "s"')
    solver = caffe.SGDSolver(str(tmp_path / "solver.prototxt"))
    layer = solver.net.layers[list(solver.net._layer_names).index("scale")]
    assert layer.type == "Python" and layer.blobs[0].data.tolist() == [0.0]
    w = 0.0
    for _ in range(3):
        solver.step(1)
        # out = w * x with x = 1 (6 elements); EuclideanLoss = sum((w-1)^2) / (2 * 2)
        w -= 0.1 * 6 * (w - 1) / 2
        assert layer.blobs[0].data[0] == pytest.approx(w, rel=1e-6)
    solver.net.save(str(tmp_path / "w.caffemodel"))
    fresh = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TEST, weights=str(tmp_path / "w.caffemodel"))
    assert fresh.layer_dict["scale"].blobs[0].data[0] == pytest.approx(w, rel=1e-6)


def test_apply_update_with_the_current_rate(caffe, tmp_path):
    (tmp_path / "net.prototxt").write_text(NET)
    (tmp_path / "solver.prototxt").write_text(f'net: "{tmp_path / "net.prototxt"}" base_lr: 0.01 lr_policy: "fixed"')
    solver = caffe.SGDSolver(str(tmp_path / "solver.prototxt"))
    blob = solver.net.layer_dict["scale"].blobs[0]
    blob.diff[...] = 1
    solver.apply_update()
    assert blob.data[0] == pytest.approx(-0.01)


def test_netspec_type_error_and_layers_without_tops(caffe, tmp_path):
    L = caffe.layers
    pair = L.DummyData(ntop=2, shape=dict(dim=[3]))
    with pytest.raises(TypeError, match=r"^Silence input 0 is not a Top \(type is <class 'tuple'>\)$"):
        L.Silence(pair, ntop=0)
    n = caffe.NetSpec()
    n.a, n.b = pair
    n.quiet = L.Silence(n.a, n.b, ntop=0)
    proto = n.to_proto()
    assert [layer.name for layer in proto.layer] == ["a", "quiet"] and not len(proto.layer[1].top)
    (tmp_path / "n.prototxt").write_text(str(proto))
    assert caffe.Net(str(tmp_path / "n.prototxt"), caffe.TEST).forward() == {}


def test_coord_map_as_pycaffe_returns_it(caffe):
    from caffe.coord_map import coord_map_from_to, crop
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 1, 100, 100]))
    n.conv = L.Convolution(n.data, num_output=2, kernel_size=3, pad=1)
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=4, stride=4)
    n.up = L.Deconvolution(n.pool, num_output=2, kernel_size=8, stride=4)
    axis, scale, offset = coord_map_from_to(n.up, n.data)
    assert axis == 1 and isinstance(scale, np.ndarray) and isinstance(offset, np.ndarray)
    # A pooled pixel p sits at x = 4p + 1.5 of data and at u = 4p + 3.5 of up: x = u - 2.
    assert scale.tolist() == [1.0] and offset.tolist() == [-2.0]
    n.ip = L.InnerProduct(n.up, num_output=3)
    with pytest.raises(RuntimeError):
        coord_map_from_to(n.ip, n.data)
    n.small = L.Deconvolution(n.pool, num_output=2, kernel_size=8, stride=4, pad=10)
    with pytest.raises(AssertionError):
        crop(n.small, n.data)
    n.thirds = L.Deconvolution(n.pool, num_output=2, kernel_size=6, stride=3)
    with pytest.raises(AssertionError):
        crop(n.thirds, n.data)


def test_hdf5_weights_found_by_their_signature(caffe, tmp_path):
    """pycaffe's save_hdf5 / load_hdf5 to any file name (Caffe tells HDF5 by its content)."""
    (tmp_path / "net.prototxt").write_text(NET)
    net = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TRAIN)
    net.layer_dict["scale"].blobs[0].data[...] = 0.75
    net.save_hdf5(str(tmp_path / "weights"))
    other = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TRAIN)
    other.load_hdf5(str(tmp_path / "weights"))
    assert other.layer_dict["scale"].blobs[0].data[0] == 0.75


def test_set_input_arrays_feeds_a_memory_data_net(caffe, tmp_path):
    (tmp_path / "m.prototxt").write_text(
        'layer { name: "m" type: "MemoryData" top: "data" top: "label" '
        'memory_data_param { batch_size: 2 channels: 1 height: 1 width: 3 } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 1 weight_filler { type: "constant" value: 1 } } }')
    net = caffe.Net(str(tmp_path / "m.prototxt"), caffe.TEST)
    data = np.arange(12, dtype=np.float32).reshape(4, 1, 1, 3)
    net.set_input_arrays(data, np.arange(4, dtype=np.float32))
    assert net.forward()["ip"].ravel().tolist() == [3, 12]           # row sums, by hand
    assert net.forward()["ip"].ravel().tolist() == [21, 30]
    assert net.blobs["label"].data.tolist() == [2, 3]
    with pytest.raises(ValueError):
        net.set_input_arrays(data.astype(np.float64), np.arange(4, dtype=np.float32))


def test_draw_gives_a_graph_of_every_layer(caffe, tmp_path):
    import caffe.draw

    from netspec import fcn_models
    net = fcn_models.net("voc-fcn8s", "val")
    graph = caffe.draw.get_pydot_graph(net, "LR")
    labels = " ".join(node.get_label() or "" for node in graph.get_nodes())
    for layer in net.layer:
        assert layer.name in labels
    assert len(graph.get_edges()) == sum(len(layer.bottom) for layer in net.layer)
    train_only = caffe.draw.get_pydot_graph(fcn_models.net("voc-fcn8s", "train"), "TB", phase=caffe.TEST)
    assert train_only.get_rankdir() == "TB"


LINEAR = """layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


def linear_net(caffe, tmp_path):
    """Input (2 x 3 x 4 x 4) -> InnerProduct (2 outputs) -> Softmax, with
    weights saved so that the expected values are numpy one-liners."""
    (tmp_path / "net.prototxt").write_text(LINEAR)
    net = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TEST)
    rng = np.random.default_rng(0)
    net.params["ip"][0].data[...] = rng.standard_normal((2, 48)) * 0.1
    net.params["ip"][1].data[...] = [0.5, -0.5]
    net.save(str(tmp_path / "w.caffemodel"))
    return net


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_forward_all_batches_and_pads(caffe, tmp_path):
    net = linear_net(caffe, tmp_path)
    w, b = net.params["ip"][0].data.astype(np.float64), net.params["ip"][1].data
    x = np.random.default_rng(1).standard_normal((5, 3, 4, 4)).astype(np.float32)
    out = net.forward_all(data=x, blobs=["ip"])
    np.testing.assert_allclose(out["ip"], x.reshape(5, -1) @ w.T + b, rtol=1e-5)
    np.testing.assert_allclose(out["prob"], softmax(x.reshape(5, -1) @ w.T + b), rtol=1e-5)
    outs, diffs = net.forward_backward_all(data=x, prob=np.ones((5, 2), np.float32))
    assert outs["prob"].shape == (5, 2) and diffs["data"].shape == (5, 3, 4, 4)
    assert np.abs(diffs["data"]).max() < 1e-5        # softmax's outputs sum to one: their gradient is 0


def test_layer_callbacks_and_loss_weights(caffe, tmp_path):
    net = linear_net(caffe, tmp_path)
    seen = []
    net.before_forward(lambda i: seen.append(("before", i)))
    net.after_forward(lambda i: seen.append(("after", i)))
    net.forward()
    assert seen == [("before", 0), ("after", 0), ("before", 1), ("after", 1), ("before", 2), ("after", 2)]
    assert net._blob_names == ["data", "ip", "prob"]
    assert list(net.blob_loss_weights.values()) == [0, 0, 0]


def test_solver_callbacks_and_shared_weights(caffe, tmp_path):
    (tmp_path / "net.prototxt").write_text(NET)
    (tmp_path / "solver.prototxt").write_text(f'net: "{tmp_path / "net.prototxt"}" base_lr: 0.1 lr_policy: "fixed"')
    solver = caffe.SGDSolver(str(tmp_path / "solver.prototxt"))
    calls = []
    solver.add_callback(lambda: calls.append("start"),
                        lambda: calls.append(float(solver.net.layer_dict["scale"].blobs[0].diff[0])))
    solver.step(2)
    assert calls[0] == "start" and calls[2] == "start" and calls[1] == pytest.approx(-6 / 2)   # (0 - 1) * 6 / 2
    other = caffe.Net(str(tmp_path / "net.prototxt"), caffe.TEST)
    solver.share_weights(other)
    assert other.layer_dict["scale"].blobs[0].data[0] == solver.net.layer_dict["scale"].blobs[0].data[0] != 0


def test_classifier_on_the_centre_crop(caffe, tmp_path):
    linear_net(caffe, tmp_path)
    classifier = caffe.Classifier(str(tmp_path / "net.prototxt"), str(tmp_path / "w.caffemodel"),
                                  image_dims=(6, 6), mean=np.array([0.1, 0.2, 0.3]), raw_scale=2.0,
                                  channel_swap=(2, 1, 0))
    image = np.random.default_rng(2).random((6, 6, 3)).astype(np.float32)
    # By hand: centre 4x4 crop, channels to the front and swapped, x2, minus the mean.
    crop = image[1:5, 1:5].transpose(2, 0, 1)[::-1] * 2.0 - np.array([0.1, 0.2, 0.3])[:, None, None]
    w = classifier.params["ip"][0].data.astype(np.float64)
    expected = softmax(crop.reshape(-1) @ w.T + classifier.params["ip"][1].data)
    got = classifier.predict([image], oversample=False)
    np.testing.assert_allclose(got[0], expected, rtol=1e-5)
    ten = classifier.predict([image, image], oversample=True)
    assert ten.shape == (2, 2) and np.allclose(ten.sum(1), 1)


def test_detector_scores_windows(caffe, tmp_path):
    linear_net(caffe, tmp_path)
    from PIL import Image
    pixels = (np.random.default_rng(3).random((8, 8, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "im.png")
    detector = caffe.Detector(str(tmp_path / "net.prototxt"), str(tmp_path / "w.caffemodel"))
    found = detector.detect_windows([(str(tmp_path / "im.png"), [(0, 0, 4, 4), (2, 2, 6, 6)])])
    assert [d["window"] for d in found] == [(0, 0, 4, 4), (2, 2, 6, 6)]
    w = detector.params["ip"][0].data.astype(np.float64)
    window = (pixels[2:6, 2:6] / 255.0).transpose(2, 0, 1)
    np.testing.assert_allclose(found[1]["prediction"], softmax(window.reshape(-1) @ w.T + detector.params["ip"][1].data),
                               rtol=1e-5)
