"""Each solver type and lr policy against the formulas Caffe documents,
computed here independently on a net whose gradient is known in closed form."""
import math

import numpy as np
import pytest

from netspec import caffe_pb2, parse_text
from solvers.solver import Solver, learning_rate

# loss = 0.5 * sum((W x + b - 0)^2) / N over a fixed batch: gradients are exact.
NET = """
layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "p"
        param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
"""
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3)).astype(np.float32)
Y = RNG.standard_normal((4, 2)).astype(np.float32)


def make_solver(settings):
    text = f"train_net_param {{ {NET} }} random_seed: 3 " + settings
    solver = Solver(parse_text(text, caffe_pb2.SolverParameter()), log=lambda line: None)
    solver.net.blobs["x"].data[...] = X
    solver.net.blobs["y"].data[...] = Y
    return solver


def gradients(w, b):
    residual = (X.astype(np.float64) @ w.T + b - Y) / len(X)
    return residual.T @ X, residual.sum(axis=0)


def reference_run(kind, s, w, b, steps):
    """The documented update of each solver type, in float64."""
    state = {k: [np.zeros_like(w), np.zeros_like(b)] for k in ("h", "h2")}
    params = [w.astype(np.float64), b.astype(np.float64)]
    for t in range(steps):
        grads = gradients(*params)
        rate = s["base_lr"]
        for i, (lr_mult, decay_mult) in enumerate([(1, 1), (2, 0)]):
            g = grads[i] + s.get("weight_decay", 0) * decay_mult * params[i]
            lr = rate * lr_mult
            h, h2 = state["h"][i], state["h2"][i]
            m, delta = s.get("momentum", 0), s.get("delta", 1e-8)
            if kind == "SGD":
                h[...] = m * h + lr * g
                step = h.copy()
            elif kind == "Nesterov":
                old = h.copy()
                h[...] = m * h + lr * g
                step = (1 + m) * h - m * old
            elif kind == "AdaGrad":
                h += g * g
                step = lr * g / (np.sqrt(h) + delta)
            elif kind == "RMSProp":
                d = s["rms_decay"]
                h[...] = d * h + (1 - d) * g * g
                step = lr * g / (np.sqrt(h) + delta)
            elif kind == "AdaDelta":
                h[...] = m * h + (1 - m) * g * g
                update = g * np.sqrt((h2 + delta) / (h + delta))
                h2[...] = m * h2 + (1 - m) * update * update
                step = lr * update
            else:  # Adam
                b1, b2 = m, s["momentum2"]
                h[...] = b1 * h + (1 - b1) * g
                h2[...] = b2 * h2 + (1 - b2) * g * g
                correction = math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
                step = lr * correction * h / (np.sqrt(h2) + delta)
            params[i] = params[i] - step
    return params


CASES = [
    ("SGD", dict(base_lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(base_lr=0.05, momentum=0.99, weight_decay=0.0)),
    ("Nesterov", dict(base_lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("AdaGrad", dict(base_lr=0.1, weight_decay=0.01, delta=1e-6)),
    ("RMSProp", dict(base_lr=0.01, rms_decay=0.9, delta=1e-6)),
    ("AdaDelta", dict(base_lr=1.0, momentum=0.95, delta=1e-6)),
    ("Adam", dict(base_lr=0.01, momentum=0.9, momentum2=0.999, delta=1e-8)),
]


@pytest.mark.parametrize("kind,settings", CASES)
def test_update_rule(kind, settings):
    text = f'type: "{kind}" lr_policy: "fixed" ' + " ".join(f"{k}: {v}" for k, v in settings.items())
    solver = make_solver(text)
    w0, b0 = (blob.data.copy() for blob in solver.net.params["fc"])
    solver.step(5)
    w, b = reference_run(kind, settings, w0, b0, 5)
    np.testing.assert_allclose(solver.net.params["fc"][0].data, w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(solver.net.params["fc"][1].data, b, rtol=1e-4, atol=1e-6)


def test_iter_size_averages_passes():
    one = make_solver('base_lr: 0.1 momentum: 0.9 lr_policy: "fixed"')
    three = make_solver('base_lr: 0.1 momentum: 0.9 lr_policy: "fixed" iter_size: 3')
    for blob, source in zip(three.net.params["fc"], one.net.params["fc"]):
        blob.data[...] = source.data
    one.step(2)
    three.step(2)   # the same batch three times, averaged: the same update
    for a, b in zip(one.net.params["fc"], three.net.params["fc"]):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5)


def test_clip_gradients_bounds_the_global_norm():
    solver = make_solver('base_lr: 1 lr_policy: "fixed" clip_gradients: 0.01')
    w0 = solver.net.params["fc"][0].data.copy()
    b0 = solver.net.params["fc"][1].data.copy()
    solver.step(1)
    dw = w0 - solver.net.params["fc"][0].data
    db = (b0 - solver.net.params["fc"][1].data) / 2      # lr_mult 2 on the bias
    assert math.sqrt((dw ** 2).sum() + (db ** 2).sum()) == pytest.approx(0.01, rel=1e-4)


def test_l1_regularization():
    solver = make_solver('base_lr: 0.1 lr_policy: "fixed" weight_decay: 0.5 regularization_type: "L1"')
    w0, b0 = (blob.data.copy().astype(np.float64) for blob in solver.net.params["fc"])
    solver.step(1)
    gw, _ = gradients(w0, b0)
    np.testing.assert_allclose(solver.net.params["fc"][0].data, w0 - 0.1 * (gw + 0.5 * np.sign(w0)), rtol=1e-5)


@pytest.mark.parametrize("settings,iteration,expected", [
    ('lr_policy: "fixed" base_lr: 0.1', 7, 0.1),
    ('lr_policy: "step" base_lr: 0.1 gamma: 0.5 stepsize: 3', 7, 0.1 * 0.5 ** 2),
    ('lr_policy: "exp" base_lr: 0.1 gamma: 0.9', 7, 0.1 * 0.9 ** 7),
    ('lr_policy: "inv" base_lr: 0.1 gamma: 0.01 power: 0.75', 7, 0.1 * (1 + 0.07) ** -0.75),
    ('lr_policy: "poly" base_lr: 0.1 power: 2 max_iter: 10', 7, 0.1 * 0.3 ** 2),
    ('lr_policy: "sigmoid" base_lr: 0.1 gamma: -0.5 stepsize: 5', 7, 0.1 / (1 + math.exp(0.5 * 2))),
])
def test_learning_rate_policies(settings, iteration, expected):
    s = parse_text(settings, caffe_pb2.SolverParameter())
    assert learning_rate(s, iteration, {"current_step": 0}) == pytest.approx(expected, rel=1e-6)


def test_multistep_advances_one_step_at_a_time():
    s = parse_text('lr_policy: "multistep" base_lr: 1 gamma: 0.1 stepvalue: 2 stepvalue: 4', caffe_pb2.SolverParameter())
    state = {"current_step": 0}
    rates = [learning_rate(s, i, state) for i in range(6)]
    assert rates == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_solve_runs_to_max_iter_and_snapshots_once(tmp_path):
    prefix = tmp_path / "out" / "fc"
    solver = make_solver(f'base_lr: 0.01 lr_policy: "fixed" max_iter: 3 snapshot_prefix: "{prefix}"')
    solver.solve()
    assert solver.iter == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fc_iter_3.caffemodel", "fc_iter_3.solverstate"]
    again = make_solver(f'base_lr: 0.01 lr_policy: "fixed" max_iter: 3 snapshot_after_train: false '
                        f'snapshot_prefix: "{tmp_path / "none" / "fc"}"')
    again.solve()
    assert not (tmp_path / "none").exists()
