import numpy as np
import pytest

from backends.cpu.im2col import Im2colGemm
from backends.cpu.pointwise import PointwiseGemm
from backends.cpu.winograd import Winograd
from core.options import Options
from layers.convolution import Convolution  # noqa: F401  (registers the layer)
from tests.layers.gradcheck import check_gradient, make_layer, run_forward


@pytest.fixture(params=["fastest, one band", "fastest, a band per output row",
                        "im2col, one band", "im2col, a band per output row"])
def options(request):
    """Every case four ways: the fastest algorithms and im2col + GEMM
    everywhere (Caffe's engine), each whole and cut into bands of one
    output row (or one tile), which the workers share out (and col2im
    sums across)."""
    algorithm, bands = request.param.split(", ")
    budgets = dict(col_budget=1, tile_budget=1) if bands != "one band" else {}
    # Winograd even on these small maps (a layer would give them to im2col).
    return Options(convolution=algorithm, winograd_least_tiles=0, **budgets)


def naive_conv(x, w, b, stride, pad, dilation, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    out = np.zeros((n, m, oh, ow))
    per = m // group
    for o in range(m):
        g = o // per
        for y in range(oh):
            for x_ in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg,
                           y * stride[0]:y * stride[0] + dilation[0] * (kh - 1) + 1:dilation[0],
                           x_ * stride[1]:x_ * stride[1] + dilation[1] * (kw - 1) + 1:dilation[1]]
                out[:, o, y, x_] = (patch * w[o]).sum(axis=(1, 2, 3)) + (b[o] if b is not None else 0)
    return out


def naive_deconv(x, w, stride, pad, group):
    """Scatter each input pixel times the kernel: the transpose of convolution."""
    n, c, h, wd = x.shape
    _, mg, kh, kw = w.shape
    m = mg * group
    full = np.zeros((n, m, stride[0] * (h - 1) + kh, stride[1] * (wd - 1) + kw))
    per_in = c // group
    for ci in range(c):
        g = ci // per_in
        for y in range(h):
            for x_ in range(wd):
                full[:, g * mg:(g + 1) * mg, y * stride[0]:y * stride[0] + kh, x_ * stride[1]:x_ * stride[1] + kw] += \
                    x[:, ci, y, x_][:, None, None, None] * w[ci][None]
    return full[:, :, pad[0]:full.shape[2] - pad[0], pad[1]:full.shape[3] - pad[1]]


CONV_CASES = [
    ("kernel_size: 3", (1, 1), (0, 0), (1, 1), 1, (2, 3, 7, 6), 4),
    ("kernel_size: 3 pad: 1 stride: 2", (2, 2), (1, 1), (1, 1), 1, (1, 4, 9, 8), 6),
    ("kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 1 stride_h: 1 stride_w: 3", (1, 3), (2, 1), (1, 1), 1, (1, 2, 6, 9), 2),
    ("kernel_size: 3 dilation: 2 pad: 2 group: 2", (1, 1), (2, 2), (2, 2), 2, (1, 4, 8, 8), 6),
    ("kernel_size: 1", (1, 1), (0, 0), (1, 1), 1, (2, 5, 4, 3), 3),
    # Winograd's: 3x3, stride 1, 16 channels or more a group; pad 3 makes
    # its backward pass crop.
    ("kernel_size: 3 pad: 1", (1, 1), (1, 1), (1, 1), 1, (1, 16, 7, 6), 17),
    ("kernel_size: 3 pad: 3", (1, 1), (3, 3), (1, 1), 1, (2, 18, 4, 5), 16),
    ("kernel_size: 3 pad: 1 group: 2", (1, 1), (1, 1), (1, 1), 2, (1, 32, 5, 6), 34),
]


@pytest.mark.parametrize("spec,stride,pad,dilation,group,shape,nout", CONV_CASES)
def test_convolution_forward_matches_naive(options, spec, stride, pad, dilation, group, shape, nout):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    text = (f'type: "Convolution" convolution_param {{ num_output: {nout} {spec} '
            'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }')
    layer, (out,) = run_forward(text, [x], options=options)
    w, b = layer.blobs[0].data, layer.blobs[1].data
    np.testing.assert_allclose(out, naive_conv(x, w, b, stride, pad, dilation, group), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spec,stride,pad,dilation,group,shape,nout", CONV_CASES)
def test_convolution_gradient(options, spec, stride, pad, dilation, group, shape, nout):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    check_gradient(f'type: "Convolution" convolution_param {{ num_output: {nout} {spec} '
                   'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }', [x], options=options)


DECONV_CASES = [("kernel_size: 4 stride: 2", (2, 2), (0, 0), 1, (1, 3, 4, 5), 3),
                ("kernel_size: 3 stride: 2 pad: 1 group: 3", (2, 2), (1, 1), 3, (2, 3, 3, 4), 6),
                ("kernel_size: 16 stride: 8 bias_term: false", (8, 8), (0, 0), 1, (1, 2, 2, 3), 2),
                ("kernel_size: 3 pad: 1", (1, 1), (1, 1), 1, (1, 16, 5, 4), 16),
                ("kernel_size: 3 pad: 1 group: 2", (1, 1), (1, 1), 2, (1, 32, 4, 5), 36)]


@pytest.mark.parametrize("spec,stride,pad,group,shape,nout", DECONV_CASES)
def test_deconvolution_forward_matches_scatter(options, spec, stride, pad, group, shape, nout):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    layer, (out,) = run_forward(f'type: "Deconvolution" convolution_param {{ num_output: {nout} {spec} '
                                'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }', [x],
                                options=options)
    expected = naive_deconv(x, layer.blobs[0].data, stride, pad, group)
    if len(layer.blobs) == 2:
        expected = expected + layer.blobs[1].data.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spec,stride,pad,group,shape,nout", DECONV_CASES)
def test_deconvolution_gradient(options, spec, stride, pad, group, shape, nout):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    check_gradient(f'type: "Deconvolution" convolution_param {{ num_output: {nout} {spec} '
                   'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }', [x], samples=40,
                   options=options)


def winograd(geometry, group, channels, kernels, options):
    return Winograd(geometry, group, channels, kernels, options,
                    Im2colGemm(geometry, group, channels, kernels, options))


BACKENDS = {"im2col + GEMM": Im2colGemm, "1x1 GEMM": PointwiseGemm, "Winograd": winograd}


def applies(name, geometry):
    g = geometry
    if name == "1x1 GEMM":
        return g.pointwise
    if name == "Winograd":
        return (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw) == (3, 3, 1, 1, 1, 1)
    return True


def backend_cases():
    """(backend, case) for every case each backend's geometry allows."""
    out = []
    for case in CONV_CASES:
        spec, shape, nout = case[0], case[5], case[6]
        probe, _, _ = make_layer(f'type: "Convolution" convolution_param {{ num_output: {nout} {spec} }}',
                                 [np.zeros(shape, np.float32)])
        out += [(name, *case) for name in BACKENDS if applies(name, probe.geometry)]
    return out


@pytest.mark.parametrize("name,spec,stride,pad,dilation,group,shape,nout", backend_cases())
def test_every_backend_on_every_case_it_can_run(name, spec, stride, pad, dilation, group, shape, nout):
    """Each algorithm forced onto each case whose geometry it handles (even
    where the layer would choose another): forward against the naive
    float64 convolution, and finite differences through all three passes."""
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    text = (f'type: "Convolution" convolution_param {{ num_output: {nout} {spec} '
            'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }')
    def force(layer):
        layer.algorithm = BACKENDS[name](layer.geometry, group, shape[1], nout, layer.options.but(winograd_least_tiles=0))
    layer, bottom, top = make_layer(text, [x], configure=force)
    layer.forward(bottom, top)
    w, b = layer.blobs[0].data, layer.blobs[1].data
    np.testing.assert_allclose(top[0].data, naive_conv(x, w, b, stride, pad, dilation, group), rtol=1e-4, atol=1e-4)
    check_gradient(text, [x], configure=force, samples=30)


def test_engine_field_chooses_caffes_algorithm():
    """engine: CAFFE is im2col + GEMM whatever the options; DEFAULT is the
    options' choice (Winograd for this 3x3 layer); the options' "im2col"
    reaches every layer."""
    x = np.zeros((1, 16, 6, 6), np.float32)
    spec = 'type: "Convolution" convolution_param {{ num_output: 16 kernel_size: 3 {} }}'
    assert type(make_layer(spec.format("engine: CAFFE"), [x])[0].algorithm) is Im2colGemm
    assert type(make_layer(spec.format(""), [x], options=Options())[0].algorithm) is Winograd
    assert type(make_layer(spec.format("engine: DEFAULT"), [x], options=Options())[0].algorithm) is Winograd
    assert type(make_layer(spec.format(""), [x], options=Options(convolution="im2col"))[0].algorithm) is Im2colGemm
    one = 'type: "Convolution" convolution_param { num_output: 4 kernel_size: 1 engine: CAFFE }'
    assert type(make_layer(one, [x])[0].algorithm) is PointwiseGemm     # Caffe's own 1x1 path


def test_deconvolution_is_adjoint_of_convolution():
    """<conv(x), y> == <x, deconv(y)> with the same (bias-free) kernel."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 3, 10, 8)).astype(np.float32)
    spec = "kernel_size: 4 stride: 2 pad: 1 bias_term: false"
    conv, (cx,) = run_forward(f'type: "Convolution" convolution_param {{ num_output: 5 {spec} '
                              'weight_filler { type: "gaussian" } }', [x])
    y = rng.standard_normal(cx.shape).astype(np.float32)
    deconv, bottom, top = make_layer(f'type: "Deconvolution" convolution_param {{ num_output: 3 {spec} }}', [y])
    deconv.blobs[0].data[...] = conv.blobs[0].data
    deconv.forward(bottom, top)
    assert top[0].shape == x.shape
    np.testing.assert_allclose((cx.astype(np.float64) * y).sum(), (x.astype(np.float64) * top[0].data).sum(),
                               rtol=1e-4)


def test_group_must_divide_channels():
    from netspec import FCNError
    x = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(FCNError, match="group 2 must divide"):
        make_layer('name: "c" type: "Convolution" convolution_param { num_output: 4 kernel_size: 1 group: 2 }', [x])


def test_too_small_input_names_layer_and_shape():
    from netspec import FCNError
    x = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(FCNError, match=r"'c'.*\[1, 1, 2, 2\].*too small"):
        make_layer('name: "c" type: "Convolution" convolution_param { num_output: 1 kernel_size: 5 }', [x])


@pytest.mark.parametrize("name", list(BACKENDS))
@pytest.mark.parametrize("budget", ["one image a pass", "two images a pass", "all images"])
def test_a_batch_through_each_backend_with_scale_bias_and_relu(name, budget):
    """The forward pass takes the whole batch: small maps go several images
    to one GEMM (as many as the col budget holds), then the epilogue scales,
    shifts and rectifies each output channel, as a folded BatchNorm, Scale
    and ReLU would. Against numpy in float64."""
    from layers.convolution import ConvGeometry
    spec = "kernel_size: 1" if name == "1x1 GEMM" else "kernel_size: 3 pad: 1"
    probe, _, _ = make_layer(f'type: "Convolution" convolution_param {{ num_output: 20 {spec} }}',
                             [np.zeros((1, 18, 5, 6), np.float32)])
    geometry = probe.geometry
    assert isinstance(geometry, ConvGeometry)
    rows = 18 * geometry.kh * geometry.kw * 30
    col_budget = {"one image a pass": rows, "two images a pass": 2 * rows, "all images": 100 * rows}[budget]
    options = Options(col_budget=col_budget, winograd_least_tiles=0)
    algorithm = BACKENDS[name](geometry, 1, 18, 20, options)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 18, 5, 6)).astype(np.float32)
    w = rng.standard_normal((20, 18, geometry.kh, geometry.kw)).astype(np.float32)
    bias, scale = rng.standard_normal(20).astype(np.float32), rng.uniform(-2, 2, 20).astype(np.float32)
    out = np.full((5, 20, 5, 6), np.nan, np.float32)
    algorithm.forward(x, w, bias, out, 0.1, scale)
    pad = (0, 0) if name == "1x1 GEMM" else (1, 1)
    expected = naive_conv(x, w, None, (1, 1), pad, (1, 1), 1) * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(out, np.where(expected > 0, expected, 0.1 * expected), rtol=1e-4, atol=1e-4)


def test_small_maps_leave_winograd_for_im2col_with_the_same_results():
    """A 3x3 layer on a map of fewer 2x2 tiles than the options' least (a
    ResNet's 7x7 maps; half as many for a batch) runs im2col + GEMM; on a
    larger one, Winograd. Both against numpy."""
    rng = np.random.default_rng(9)
    text = ('type: "Convolution" convolution_param { num_output: 16 kernel_size: 3 pad: 1 '
            'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }')
    cases = ((7, 2, 64, "small_maps"), (7, 2, 4, "winograd"), (20, 1, 64, "winograd"),
             (12, 1, 64, "small_maps"), (12, 2, 64, "winograd"))     # 36 tiles; a batch shares the transform
    for side, batch, least, expect in cases:
        x = rng.standard_normal((batch, 16, side, side)).astype(np.float32)
        layer, bottom, top = make_layer(text, [x], options=Options(winograd_least_tiles=least))
        assert isinstance(layer.algorithm, Winograd)
        used = []
        small = layer.algorithm.small_maps
        original = small.forward
        small.forward = lambda *a: (used.append("small_maps"), original(*a))
        layer.forward(bottom, top)
        assert used == ([expect] if expect == "small_maps" else [])
        w, b = layer.blobs[0].data, layer.blobs[1].data
        np.testing.assert_allclose(top[0].data, naive_conv(x, w, b, (1, 1), (1, 1), (1, 1), 1), rtol=1e-4, atol=1e-4)


def test_upsampling_that_joins_no_two_channels_runs_channel_by_channel():
    """FCN's bilinear upsampling (surgery.interp: every kernel between two
    different channels zero) takes a per-channel pass with the very same
    sums as the full pass and numpy's scatter; a NaN in the input takes the
    full pass, spreading to every channel as in Caffe; one nonzero kernel
    off the diagonal takes the full pass too."""
    from weights.surgery import upsample_filt
    text = ('type: "Deconvolution" convolution_param { num_output: 5 kernel_size: 8 stride: 4 pad: 2 '
            'bias_filler { type: "gaussian" } }')
    x = np.random.default_rng(12).standard_normal((2, 5, 6, 7)).astype(np.float32)
    layer, bottom, top = make_layer(text, [x], options=Options())
    w = layer.blobs[0].data
    w[...] = 0
    w[np.arange(5), np.arange(5)] = upsample_filt(8)
    assert layer._diagonal() is not None
    layer.forward(bottom, top)
    assert layer.per_channel is not None
    fast = top[0].data.copy()
    expected = naive_deconv(x, w, (4, 4), (2, 2), 1) + layer.blobs[1].data.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(fast, expected, rtol=1e-5, atol=1e-5)
    full = top[0].data
    layer._diagonal = lambda: None               # the full pass, for the same weights
    layer.forward(bottom, top)
    np.testing.assert_array_equal(fast, full)
    del layer._diagonal
    bottom[0].data[0, 1, 2, 3] = np.nan
    layer.forward(bottom, top)
    assert np.isnan(top[0].data[0]).any(axis=(1, 2)).all()       # every channel, as Caffe
    bottom[0].data[...] = x
    w[0, 1, 0, 0] = 0.5
    assert layer._diagonal() is None
