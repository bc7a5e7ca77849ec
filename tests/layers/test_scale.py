import numpy as np

from tests.layers.gradcheck import check_gradient, run_forward

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)


def test_scale_learned_per_channel_with_bias():
    text = ('type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } '
            'bias_filler { type: "gaussian" } }')
    layer, (out,) = run_forward(text, [X])
    s, b = layer.blobs[0].data, layer.blobs[1].data
    np.testing.assert_allclose(out, X * s.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1), rtol=1e-6)
    check_gradient(text, [X])
    check_gradient(text, [X], in_place=True)


def test_scale_constant_filler_as_in_fcn8s_atonce():
    layer, (out,) = run_forward('type: "Scale" scale_param { filler { type: "constant" value: 0.01 } }', [X])
    np.testing.assert_allclose(out, X * 0.01, rtol=1e-6)


def test_scale_by_second_bottom_and_axes():
    factor = RNG.standard_normal((3, 4)).astype(np.float32)
    _, (out,) = run_forward('type: "Scale"', [X, factor])
    np.testing.assert_allclose(out, X * factor[None, :, :, None], rtol=1e-6)
    check_gradient('type: "Scale"', [X, factor])
    check_gradient('type: "Scale" scale_param { axis: 0 num_axes: -1 filler { type: "gaussian" } }', [X])
    check_gradient('type: "Scale" scale_param { num_axes: 0 filler { type: "gaussian" } }', [X])


def test_bias():
    b = RNG.standard_normal((4, 5)).astype(np.float32)
    _, (out,) = run_forward('type: "Bias" bias_param { axis: 2 }', [X, b])
    np.testing.assert_allclose(out, X + b, rtol=1e-6)
    check_gradient('type: "Bias" bias_param { axis: 2 }', [X, b])
    check_gradient('type: "Bias" bias_param { filler { type: "gaussian" } }', [X])
