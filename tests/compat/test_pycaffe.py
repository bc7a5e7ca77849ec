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
