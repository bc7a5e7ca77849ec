"""Data (LMDB, as convert_imageset writes it), ImageData and MemoryData,
against values worked out here from the images themselves."""
import io

import lmdb
import numpy as np
import pytest
from PIL import Image

from core.net import Net
from netspec import FCNError, caffe_pb2, parse_text

RNG = np.random.default_rng(0)
IMAGES = [RNG.integers(0, 256, (3, 6, 8), dtype=np.uint8) for _ in range(5)]   # C x H x W, BGR


def write_lmdb(path, encoded=False):
    """Datums keyed as convert_imageset keys them (%08d_name)."""
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, image in enumerate(IMAGES):
            datum = caffe_pb2.Datum(channels=3, height=6, width=8, label=i % 3)
            if encoded:
                buffer = io.BytesIO()
                Image.fromarray(image[::-1].transpose(1, 2, 0)).save(buffer, format="PNG")   # stored as RGB file
                datum.data, datum.encoded = buffer.getvalue(), True
            else:
                datum.data = image.tobytes()
            txn.put(f"{i:08d}_img{i}".encode(), datum.SerializeToString())
    env.close()


def net(text, phase="TEST"):
    return Net(parse_text(text, caffe_pb2.NetParameter()), phase)


@pytest.mark.parametrize("encoded", [False, True])
def test_lmdb_batches_in_key_order_round_and_round(tmp_path, encoded):
    write_lmdb(tmp_path / "db", encoded)
    n = net(f"""layer {{ name: "d" type: "Data" top: "data" top: "label"
      data_param {{ source: "{tmp_path / 'db'}" backend: LMDB batch_size: 2 }}
      transform_param {{ scale: 0.5 mean_value: 10 mean_value: 20 mean_value: 30 }} }}""")
    assert n.blobs["data"].shape == (2, 3, 6, 8) and n.blobs["label"].shape == (2,)
    mean = np.array([10, 20, 30], np.float32)[:, None, None]
    for first in (0, 2, 4):
        n.forward()
        for k in range(2):
            i = (first + k) % 5
            np.testing.assert_allclose(n.blobs["data"].data[k], (IMAGES[i] - mean) * 0.5)
            assert n.blobs["label"].data[k] == i % 3


def test_lmdb_crop_and_mirror(tmp_path):
    write_lmdb(tmp_path / "db")
    test = net(f"""layer {{ name: "d" type: "Data" top: "data" top: "label"
      data_param {{ source: "{tmp_path / 'db'}" backend: LMDB batch_size: 1 }} transform_param {{ crop_size: 4 }} }}""")
    test.forward()
    np.testing.assert_array_equal(test.blobs["data"].data[0], IMAGES[0][:, 1:5, 2:6])     # centred in TEST
    train = net(f"""layer {{ name: "d" type: "Data" top: "data" top: "label"
      data_param {{ source: "{tmp_path / 'db'}" backend: LMDB batch_size: 1 }}
      transform_param {{ crop_size: 4 mirror: true }} }}""", "TRAIN")
    windows = set()
    for _ in range(25):
        train.forward()
        out = train.blobs["data"].data[0]
        i = int(train.blobs["label"].data[0])
        candidates = [IMAGES[j] for j in range(5) if j % 3 == i]
        found = [(y, x, m) for image in candidates for y in range(3) for x in range(5) for m in (0, 1)
                 if np.array_equal(out, image[:, y:y + 4, x:x + 4][:, :, ::-1] if m else image[:, y:y + 4, x:x + 4])]
        assert found, "every TRAIN crop is a 4x4 window of its image, mirrored or not"
        windows.update(found)
    assert len({m for _, _, m in windows}) == 2 and len(windows) > 4


def test_data_layer_errors(tmp_path):
    with pytest.raises(FCNError, match="only backend: LMDB"):
        net(f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: "{tmp_path}" batch_size: 1 }} }}')
    with pytest.raises(FCNError, match="cannot open the LMDB"):
        net(f'layer {{ name: "d" type: "Data" top: "data" '
            f'data_param {{ source: "{tmp_path / "none"}" backend: LMDB batch_size: 1 }} }}')


def test_image_data_resizes_in_list_order(tmp_path):
    lines = []
    for i, image in enumerate(IMAGES[:3]):
        Image.fromarray(image[::-1].transpose(1, 2, 0)).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png {7 * i}")
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    n = net(f"""layer {{ name: "d" type: "ImageData" top: "data" top: "label"
      image_data_param {{ source: "{tmp_path / 'list.txt'}" root_folder: "{tmp_path}/" batch_size: 2 }} }}""")
    n.forward()
    np.testing.assert_array_equal(n.blobs["data"].data, np.stack(IMAGES[:2]))        # BGR, as OpenCV reads
    assert n.blobs["label"].data.tolist() == [0, 7]
    n.forward()
    np.testing.assert_array_equal(n.blobs["data"].data, np.stack([IMAGES[2], IMAGES[0]]))
    grey = net(f"""layer {{ name: "d" type: "ImageData" top: "data" top: "label"
      image_data_param {{ source: "{tmp_path / 'list.txt'}" root_folder: "{tmp_path}/" batch_size: 1
                         new_height: 12 new_width: 16 is_color: false }} }}""")
    grey.forward()
    assert grey.blobs["data"].shape == (1, 1, 12, 16)
    luma = np.asarray(Image.fromarray(IMAGES[0][::-1].transpose(1, 2, 0)).convert("L"), np.float32)
    # Doubling by bilinear interpolation with half-pixel centres: each output
    # pixel sits a quarter of a pixel from an input one.
    doubled = grey.blobs["data"].data[0, 0]
    expected = 0.75 * luma[2, 3] + 0.25 * luma[1, 3]
    assert doubled[4, 6] == pytest.approx(0.75 * expected + 0.25 * (0.75 * luma[2, 2] + 0.25 * luma[1, 2]), rel=1e-5)


def test_memory_data_serves_the_arrays_it_is_given():
    n = net('layer { name: "m" type: "MemoryData" top: "data" top: "label" '
            'memory_data_param { batch_size: 2 channels: 1 height: 2 width: 2 } }')
    data = np.arange(16, dtype=np.float32).reshape(4, 1, 2, 2)
    n.layers[0].reset(data, np.array([5, 6, 7, 8], np.float32))
    for start in (0, 2, 0):
        n.forward()
        np.testing.assert_array_equal(n.blobs["data"].data, data[start:start + 2])
        assert n.blobs["label"].data.tolist() == [5 + start, 6 + start]
    with pytest.raises(FCNError, match="multiple of the batch size"):
        n.layers[0].reset(data[:3], np.zeros(3, np.float32))
