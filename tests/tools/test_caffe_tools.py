"""Caffe's tools (convert_imageset, compute_image_mean, convert_mnist_data,
extract_features, the upgrade tools) run as a Caffe user runs them, their
output read back independently: the lmdb package, protobuf and numpy."""
import os
import subprocess
import sys

import lmdb
import numpy as np
import pytest
from PIL import Image

from common.resize import resize_linear
from netspec import caffe_pb2, parse_text, read_net, read_solver

BIN = os.path.dirname(sys.executable)


def tool(name, *args, cwd=None):
    return subprocess.run([os.path.join(BIN, name), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def records(path):
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        out = [(bytes(k).decode(), bytes(v)) for k, v in txn.cursor()]
    env.close()
    return out


def datum(value):
    d = caffe_pb2.Datum()
    d.ParseFromString(value)
    return d


@pytest.fixture
def images(tmp_path):
    """Five RGB PNGs of different sizes and a list file naming them."""
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    pixels = []
    with open(tmp_path / "list.txt", "w") as f:
        for i in range(5):
            rgb = rng.integers(0, 256, (12 + i, 10, 3), dtype=np.uint8)
            Image.fromarray(rgb).save(tmp_path / "img" / f"{i}.png")
            f.write(f"{i}.png {i % 3}\n")
            pixels.append(rgb)
    return tmp_path, pixels


def bilinear(image, height, width):
    """Half-pixel-centre bilinear interpolation in float64, edges clamped."""
    def taps(src, dst):
        f = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
        lo = np.floor(f).astype(int)
        return lo, np.minimum(lo + 1, src - 1), f - lo
    y0, y1, fy = taps(image.shape[0], height)
    x0, x1, fx = taps(image.shape[1], width)
    im = image.astype(np.float64)
    rows = im[y0] * (1 - fy)[:, None, None] + im[y1] * fy[:, None, None]
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


def test_resize_is_bilinear_within_one_level():
    rng = np.random.default_rng(1)
    for shape, size in (((7, 9, 3), (14, 18)), ((30, 20, 1), (11, 4)), ((5, 5, 3), (5, 5)), ((9, 40, 3), (3, 17))):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        ours = resize_linear(image, *size).astype(float)
        assert ours.shape == (*size, shape[2])
        assert np.abs(ours - bilinear(image, *size)).max() <= 1.0


def test_convert_imageset_writes_caffes_keys_and_bgr_datums(images):
    folder, pixels = images
    done = tool("convert_imageset", "--shuffle=false", f"{folder}/img/", folder / "list.txt", folder / "db")
    assert done.returncode == 0, done.stderr
    assert "A total of 5 images." in done.stderr and "Processed 5 files." in done.stderr
    found = records(folder / "db")
    assert [k for k, _ in found] == [f"{i:08d}_{i}.png" for i in range(5)]
    for (_, value), rgb, label in zip(found, pixels, [0, 1, 2, 0, 1]):
        d = datum(value)
        assert (d.channels, d.height, d.width, d.label, d.encoded) == (3, rgb.shape[0], 10, label, False)
        np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(3, rgb.shape[0], 10),
                                      rgb[:, :, ::-1].transpose(2, 0, 1))


def test_convert_imageset_resizes_grays_and_encodes(images):
    folder, pixels = images
    assert tool("convert_imageset", "-resize_height", 8, "--resize_width=6", "-gray", f"{folder}/img/",
                folder / "list.txt", folder / "small").returncode == 0
    d = datum(records(folder / "small")[3][1])
    assert (d.channels, d.height, d.width) == (1, 8, 6)
    gray = np.asarray(Image.fromarray(pixels[3]).convert("L"))[:, :, None]
    np.testing.assert_allclose(np.frombuffer(d.data, np.uint8).reshape(8, 6, 1), bilinear(gray, 8, 6), atol=1)
    assert tool("convert_imageset", "--encoded", f"{folder}/img/", folder / "list.txt", folder / "enc").returncode == 0
    d = datum(records(folder / "enc")[2][1])
    assert d.encoded and d.data == (folder / "img" / "2.png").read_bytes()


def test_compute_image_mean_writes_a_blobproto_the_data_layer_reads(images):
    folder, pixels = images
    tool("convert_imageset", "-resize_height=8", "-resize_width=9", f"{folder}/img/", folder / "list.txt",
         folder / "db")
    done = tool("compute_image_mean", folder / "db", folder / "mean.binaryproto")
    assert done.returncode == 0 and "Number of channels: 3" in done.stderr, done.stderr
    blob = caffe_pb2.BlobProto()
    blob.ParseFromString((folder / "mean.binaryproto").read_bytes())
    assert (blob.num, blob.channels, blob.height, blob.width) == (1, 3, 8, 9) and not blob.HasField("shape")
    stored = [np.frombuffer(datum(v).data, np.uint8).reshape(3, 8, 9) for _, v in records(folder / "db")]
    expected = np.mean(np.stack(stored).astype(np.float64), axis=0)
    np.testing.assert_allclose(np.array(blob.data).reshape(3, 8, 9), expected, rtol=1e-6)
    for c in range(3):
        assert f"mean_value channel [{c}]: {expected[c].mean():.6g}"[:-1] in done.stderr
    # The Data layer subtracts it.
    from core.net import Net
    net = Net(parse_text(f'layer {{ name: "d" type: "Data" top: "data" top: "label" data_param {{ source: '
                         f'"{folder}/db" batch_size: 5 backend: LMDB }} transform_param {{ mean_file: '
                         f'"{folder}/mean.binaryproto" }} }}', caffe_pb2.NetParameter()), "TEST")
    net.forward()
    np.testing.assert_allclose(net.blobs["data"].data, np.stack(stored) - np.array(blob.data, np.float32)
                               .reshape(3, 8, 9), atol=1e-4)


def test_extract_features_writes_each_images_blob(images):
    folder, _ = images
    tool("convert_imageset", "-resize_height=8", "-resize_width=9", f"{folder}/img/", folder / "list.txt",
         folder / "db")
    proto = folder / "feat.prototxt"
    proto.write_text(f'layer {{ name: "d" type: "Data" top: "data" top: "label" data_param {{ source: "{folder}/db" '
                     'batch_size: 2 backend: LMDB } }\n'
                     'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { '
                     'num_output: 4 weight_filler { type: "gaussian" std: 0.01 } } }\n')
    stored = [np.frombuffer(datum(v).data, np.uint8).reshape(-1) for _, v in records(folder / "db")]
    from core.net import Net
    from weights.caffemodel import save_weights
    net = Net(read_net(str(proto)), "TEST")
    save_weights(net, str(folder / "w.caffemodel"))
    done = tool("extract_features", folder / "w.caffemodel", proto, "fc,data", f"{folder}/f1,{folder}/f2", 3,
                "lmdb", "CPU")
    assert done.returncode == 0 and "Successfully extracted the features!" in done.stderr, done.stderr
    fc = records(folder / "f1")
    assert [k for k, _ in fc] == [f"{i:010d}" for i in range(6)]
    w, b = net.params["fc"][0].data, net.params["fc"][1].data
    for i, (_, value) in enumerate(fc):
        d = datum(value)
        assert (d.channels, d.height, d.width) == (4, 1, 1)
        np.testing.assert_allclose(d.float_data, w @ stored[i % 5].astype(np.float32) + b, rtol=1e-4, atol=1e-4)
    d = datum(records(folder / "f2")[0][1])
    assert (d.channels, d.height, d.width) == (3, 8, 9)


def test_convert_mnist_data_reads_idx_files(tmp_path):
    rng = np.random.default_rng(2)
    pictures, labels = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), rng.integers(0, 10, 7, dtype=np.uint8)
    (tmp_path / "images").write_bytes((2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (7, 28, 28))
                                      + pictures.tobytes())
    (tmp_path / "labels").write_bytes((2049).to_bytes(4, "big") + (7).to_bytes(4, "big") + labels.tobytes())
    assert tool("convert_mnist_data", tmp_path / "images", tmp_path / "labels", tmp_path / "db",
                "--backend=lmdb").returncode == 0
    found = records(tmp_path / "db")
    assert [k for k, _ in found] == [f"{i:08d}" for i in range(7)]
    for (_, value), picture, label in zip(found, pictures, labels):
        d = datum(value)
        assert (d.channels, d.height, d.width, d.label) == (1, 28, 28, label)
        assert d.data == picture.tobytes()


V1_NET = ('name: "old" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
          'layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" convolution_param { num_output: 2 '
          'kernel_size: 3 } }\nlayers { name: "relu" type: RELU bottom: "conv" top: "conv" }\n')


def test_upgrade_tools_write_what_the_loaders_read(tmp_path):
    (tmp_path / "old.prototxt").write_text(V1_NET)
    done = tool("upgrade_net_proto_text", tmp_path / "old.prototxt", tmp_path / "new.prototxt")
    assert done.returncode == 0 and "deprecated V1LayerParameter" in done.stderr, done.stderr
    new = parse_text((tmp_path / "new.prototxt").read_text(), caffe_pb2.NetParameter())
    assert not len(new.layers) and [l.type for l in new.layer] == ["Input", "Convolution", "ReLU"]
    assert new == read_net(str(tmp_path / "old.prototxt"))
    again = tool("upgrade_net_proto_text", tmp_path / "new.prototxt", tmp_path / "same.prototxt")
    assert "File already in latest proto format" in again.stderr
    assert (tmp_path / "same.prototxt").read_text() == (tmp_path / "new.prototxt").read_text()
    binary = parse_text(V1_NET, caffe_pb2.NetParameter())
    binary.layers[0].blobs.add(num=1, channels=1, height=1, width=2).data.extend([1.5, 2.5])
    (tmp_path / "old.caffemodel").write_bytes(binary.SerializeToString())
    assert tool("upgrade_net_proto_binary", tmp_path / "old.caffemodel", tmp_path / "new.caffemodel").returncode == 0
    upgraded = caffe_pb2.NetParameter()
    upgraded.ParseFromString((tmp_path / "new.caffemodel").read_bytes())
    assert upgraded.layer[1].type == "Convolution" and list(upgraded.layer[1].blobs[0].data) == [1.5, 2.5]
    (tmp_path / "old_solver.prototxt").write_text('net: "n.prototxt"\nbase_lr: 0.01\nsolver_type: ADAM\n')
    assert tool("upgrade_solver_proto_text", tmp_path / "old_solver.prototxt", tmp_path / "s.prototxt").returncode == 0
    solver = parse_text((tmp_path / "s.prototxt").read_text(), caffe_pb2.SolverParameter())
    assert solver.type == "Adam" and not solver.HasField("solver_type")
    assert solver == read_solver(str(tmp_path / "old_solver.prototxt"))


def one_line(result, fragment):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [l for l in result.stderr.splitlines() if not l.startswith("I")]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_bad_input_is_one_line_and_leaves_nothing(images):
    folder, _ = images
    with open(folder / "list.txt", "a") as f:
        f.write("missing.png 1\n")
    one_line(tool("convert_imageset", f"{folder}/img/", folder / "list.txt", folder / "db"), "missing.png: no such image")
    assert not (folder / "db").exists() and not [p for p in os.listdir(folder) if p.startswith(".tmp")]
    (folder / "exists").mkdir()
    one_line(tool("convert_imageset", f"{folder}/img/", folder / "list.txt", folder / "exists"), "already exists")
    one_line(tool("convert_imageset", "--backend=leveldb", f"{folder}/img/", folder / "list.txt", folder / "x"),
             "only lmdb")
    (folder / "bad").mkdir()
    (folder / "bad" / "data.mdb").write_bytes(b"\0garbage" * 512)
    one_line(tool("compute_image_mean", folder / "bad", folder / "m.binaryproto"), "bad")
    assert not (folder / "m.binaryproto").exists()
    one_line(tool("compute_image_mean", folder / "nowhere"), "not an LMDB folder")
    # A mean of the wrong shape for the images.
    (folder / "list.txt").write_text("0.png 0\n")
    tool("convert_imageset", f"{folder}/img/", folder / "list.txt", folder / "one")
    mean = caffe_pb2.BlobProto(num=1, channels=3, height=2, width=2, data=[0.0] * 12)
    (folder / "mean.binaryproto").write_bytes(mean.SerializeToString())
    (folder / "net.prototxt").write_text(f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: '
                                         f'"{folder}/one" batch_size: 1 backend: LMDB }} transform_param {{ '
                                         f'mean_file: "{folder}/mean.binaryproto" }} }}\n')
    (folder / "w.caffemodel").write_bytes(caffe_pb2.NetParameter(name="no weights").SerializeToString())
    result = subprocess.run([sys.executable, "-m", "tools.cli", "test", "--model", folder / "net.prototxt",
                             "--weights", folder / "w.caffemodel", "--iterations", "1"], capture_output=True, text=True)
    one_line(result, "the mean file's shape [3, 2, 2] is not the image's [3, 12, 10]")
