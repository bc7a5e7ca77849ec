"""ResNet as its Caffe release lays it out: the layer list's facts, and the
engine's forward pass (BatchNorm and Scale folded, residual sums fused with
their ReLU, small maps batched into one GEMM) against ONNX Runtime."""
import collections

import numpy as np
import pytest

from core.net import Net
from netspec.resnet import resnet


def test_layer_names_and_counts_follow_the_release():
    net = resnet(50)
    kinds = collections.Counter(layer.type for layer in net.layer)
    assert kinds["Convolution"] == 53 and kinds["BatchNorm"] == 53 and kinds["Scale"] == 53
    assert kinds["Eltwise"] == 16 and kinds["ReLU"] == 49
    names = [layer.name for layer in net.layer]
    for name in ("conv1", "bn_conv1", "scale_conv1", "conv1_relu", "pool1", "res2a_branch1", "bn2a_branch1",
                 "res3d_branch2c", "scale4f_branch2b", "res5c", "res5c_relu", "pool5", "fc1000", "prob"):
        assert name in names
    # The deeper nets name a long stage's blocks a, b1, b2, ...
    deeper = [layer.name for layer in resnet(101).layer]
    assert "res4b22_branch2c" in deeper and "res3b3" in deeper and "res4c" not in deeper
    strides = {layer.name: layer.convolution_param.stride[0] for layer in net.layer
               if layer.type == "Convolution" and layer.convolution_param.stride}
    assert strides["res3a_branch2a"] == strides["res3a_branch1"] == 2 and strides["res3a_branch2b"] == 1


def test_learnable_parameters_are_resnet50s():
    net = Net(resnet(50), "TEST")
    learned = sum(b.count for name, blobs in net.params.items() if net.layer(name).type != "BatchNorm"
                  for b in blobs)
    # The "25.6M" of the literature, exactly the count of torchvision's
    # resnet50, whose BatchNorm holds what Caffe's Scale learns.
    assert learned == 25_557_032


@pytest.mark.parametrize("batch", [1, 3])
def test_resnet50_forward_matches_onnx_runtime(batch, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from weights.onnx_export import export
    net = Net(resnet(50, batch=batch), "TEST")
    rng = np.random.default_rng(batch)
    for name, blobs in net.params.items():
        kind = net.layer(name).type
        if kind == "BatchNorm":
            c = blobs[0].shape[0]
            blobs[0].data[...] = rng.standard_normal(c) * 0.2
            blobs[1].data[...] = rng.uniform(0.5, 1.5, c) * 2
            blobs[2].data[...] = 2
        elif kind == "Scale":
            blobs[0].data[...] = rng.uniform(0.5, 1.5, blobs[0].shape)
            blobs[1].data[...] = rng.standard_normal(blobs[1].shape) * 0.1
        else:
            for b in blobs:
                fan = int(np.prod(b.shape[1:])) if b.num_axes > 1 else 1
                b.data[...] = rng.standard_normal(b.shape) * np.sqrt(1.0 / fan)
    net.keep("fc1000")
    path = tmp_path / "resnet50.onnx"
    export(net, str(path), output="fc1000")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32) * 50
    net.forward(data=x)
    ours = net.blobs["fc1000"].data.copy()
    theirs = session.run(["fc1000"], {"data": x})[0]
    assert np.abs(ours).max() > 1e-2
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())
