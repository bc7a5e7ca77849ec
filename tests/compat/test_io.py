"""caffe.io against arrays worked out by hand."""
import numpy as np
import pytest
from PIL import Image


def test_blobproto_to_array_follows_the_shape_fields(caffe):
    pb = caffe.proto.caffe_pb2
    legacy = pb.BlobProto(num=1, channels=2, height=1, width=3, data=[0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(caffe.io.blobproto_to_array(legacy), [[[[0, 1, 2]], [[3, 4, 5]]]])
    shaped = pb.BlobProto(data=[0, 1, 2, 3, 4, 5], diff=[6, 5, 4, 3, 2, 1])
    shaped.shape.dim.extend([3, 2])
    assert caffe.io.blobproto_to_array(shaped).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert caffe.io.blobproto_to_array(shaped, return_diff=True).tolist() == [[6, 5], [4, 3], [2, 1]]
    assert caffe.io.blobproto_to_array(pb.BlobProto(data=[7])) == 7          # no shape: a scalar
    with pytest.raises(ValueError):
        caffe.io.blobproto_to_array(pb.BlobProto(data=[1, 2]))


def test_blob_and_blob_vector_round_trips(caffe):
    a, b = np.arange(6.0).reshape(2, 3), np.array([[[1.5]]])
    blob = caffe.io.array_to_blobproto(a, diff=-a)
    assert list(blob.shape.dim) == [2, 3] and list(blob.diff) == [0, -1, -2, -3, -4, -5]
    back = caffe.io.blobprotovector_str_to_arraylist(caffe.io.arraylist_to_blobprotovector_str([a, b]))
    assert [x.tolist() for x in back] == [a.tolist(), b.tolist()]


def test_datums(caffe):
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    datum = caffe.io.array_to_datum(pixels, label=3)
    assert (datum.channels, datum.height, datum.width, datum.label) == (2, 3, 4, 3)
    assert datum.data == bytes(range(24)) and not len(datum.float_data)
    np.testing.assert_array_equal(caffe.io.datum_to_array(datum), pixels)
    floats = caffe.io.array_to_datum(pixels / 2.0)
    assert list(floats.float_data)[:3] == [0, 0.5, 1.0] and not floats.HasField("label")
    np.testing.assert_array_equal(caffe.io.datum_to_array(floats), pixels / 2.0)
    with pytest.raises(ValueError):
        caffe.io.array_to_datum(np.zeros((2, 2)))


def test_transformer_by_hand(caffe):
    """H x W x 3 in [0, 1] -> 3 x H x W BGR in [0, 255] minus the mean, and back."""
    rng = np.random.default_rng(0)
    image = rng.random((4, 5, 3)).astype(np.float32)
    t = caffe.io.Transformer({"data": (1, 3, 4, 5)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255)
    t.set_mean("data", np.array([10.0, 20.0, 30.0]))
    t.set_input_scale("data", 0.5)
    out = t.preprocess("data", image)
    expected = np.empty((3, 4, 5))
    for c, source in enumerate((2, 1, 0)):
        expected[c] = (image[:, :, source] * 255.0 - [10, 20, 30][c]) * 0.5
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(t.deprocess("data", out[np.newaxis]), image, rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="not one of the net inputs"):
        t.preprocess("label", image)
    with pytest.raises(ValueError):
        t.set_mean("data", np.zeros(4))
    with pytest.raises(Exception, match="Transpose order"):
        t.set_transpose("data", (1, 0))


def test_transformer_resizes_to_the_input(caffe):
    t = caffe.io.Transformer({"data": (1, 3, 8, 6)})
    t.set_transpose("data", (2, 0, 1))
    flat = np.full((4, 3, 3), 0.25, np.float32)
    out = t.preprocess("data", flat)
    assert out.shape == (3, 8, 6) and np.allclose(out, 0.25)
    ramp = np.tile(np.linspace(0, 1, 4, dtype=np.float32)[:, None, None], (1, 3, 3))
    up = caffe.io.resize_image(ramp, (8, 3))
    assert up.shape == (8, 3, 3) and np.all(np.diff(up[:, 0, 0]) >= 0)        # still a ramp
    assert up[0, 0, 0] == pytest.approx(0) and up[-1, 0, 0] == pytest.approx(1)


def test_load_image_and_oversample(caffe, tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, :, 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    image = caffe.io.load_image(str(tmp_path / "red.png"))
    assert image.shape == (6, 8, 3) and image.dtype == np.float32 and image[0, 0].tolist() == [1, 0, 0]
    grey = caffe.io.load_image(str(tmp_path / "red.png"), color=False)
    assert grey.shape == (6, 8, 1)
    numbered = np.arange(6 * 8, dtype=np.float32).reshape(6, 8, 1)
    crops = caffe.io.oversample([numbered], (4, 4))
    assert crops.shape == (10, 4, 4, 1)
    corners = [numbered[:4, :4], numbered[:4, 4:], numbered[2:, :4], numbered[2:, 4:], numbered[1:5, 2:6]]
    for k, corner in enumerate(corners):
        np.testing.assert_array_equal(crops[k], corner)
        np.testing.assert_array_equal(crops[k + 5], corner[:, ::-1])
