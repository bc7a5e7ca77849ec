import numpy as np
import pytest

from tests.layers.gradcheck import check_gradient, run_forward

X = np.random.default_rng(0).standard_normal((3, 2, 4, 2)).astype(np.float32)


@pytest.mark.parametrize("spec", ["", "transpose: true", "axis: 2", "bias_term: false"])
def test_forward_and_gradient(spec):
    text = (f'type: "InnerProduct" inner_product_param {{ num_output: 5 {spec} '
            'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }')
    layer, (out,) = run_forward(text, [X])
    axis = 2 if "axis" in spec else 1
    w = layer.blobs[0].data
    rows = X.reshape(int(np.prod(X.shape[:axis])), -1).astype(np.float64)
    expected = rows @ (w if "transpose" in spec else w.T)
    if len(layer.blobs) == 2:
        expected += layer.blobs[1].data
    np.testing.assert_allclose(out, expected.reshape(X.shape[:axis] + (5,)), rtol=1e-5, atol=1e-5)
    check_gradient(text, [X])
