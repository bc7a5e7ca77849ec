"""Caffe's Solver: learning-rate policies, the work of one step, testing,
snapshots and restore. The update rules live in updates.py.

One step, in Caffe's order: clear the parameter diffs; iter_size passes of
forward and backward (the diffs accumulate); clip the gradients by their
global L2 norm; then per parameter: divide by iter_size, add weight decay,
compute the update (with lr_mult) into the history; finally subtract.
"""
import math
import os
import time

import numpy as np

from common.errors import FCNError
from core.net import Net
from core.options import Options
from netspec import caffe_pb2, read_net, read_solver
from solvers.snapshot import read_state, write_state
from solvers.updates import RULES
from weights.caffemodel import copy_weights, save_weights


def _silent(line):
    """The log of a rank other than 0 in a data-parallel job."""


def learning_rate(s, iteration, state):
    """The rate at `iteration` (state['current_step'] kept as Caffe keeps it)."""
    policy = s.lr_policy
    base = s.base_lr
    if policy == "fixed":
        return base
    if policy == "step":
        if s.stepsize <= 0:
            raise FCNError("lr_policy step needs a positive stepsize")
        state["current_step"] = iteration // s.stepsize
        return base * s.gamma ** state["current_step"]
    if policy == "exp":
        return base * s.gamma ** iteration
    if policy == "inv":
        return base * (1 + s.gamma * iteration) ** (-s.power)
    if policy == "multistep":
        if state["current_step"] < len(s.stepvalue) and iteration >= s.stepvalue[state["current_step"]]:
            state["current_step"] += 1
        return base * s.gamma ** state["current_step"]
    if policy == "poly":
        return base * (1 - iteration / s.max_iter) ** s.power
    if policy == "sigmoid":
        return base / (1 + math.exp(-s.gamma * (iteration - s.stepsize)))
    raise FCNError(f"unknown lr_policy {policy!r}; known: fixed, step, exp, inv, multistep, poly, sigmoid")


class Solver:
    # The train net drops each blob's diff once it has been passed down
    # (the update reads only the parameters' diffs); pycaffe's solvers keep
    # them for scripts that read solver.net.blobs[...].diff.
    keep_train_diffs = False

    def __init__(self, param, source="<solver>", log=print, options: Options | None = None, world=None):
        self.param = param
        # A data-parallel job (solvers/distributed.py): only rank 0 speaks.
        self.world = world
        if world is not None and world.rank != 0:
            log = _silent
        self.source = source
        self.log = log
        if param.type not in RULES:
            raise FCNError(f"{source}: unknown solver type {param.type!r}; known: {', '.join(RULES)}")
        options = options if options is not None else Options.from_environment()
        # Caffe seeds its generator with random_seed; here each net's own.
        self.options = options.but(seed=param.random_seed) if param.random_seed >= 0 else options
        self.net = self._train_net()
        self.test_nets = [self._test_net(p) for p in self._test_params()] if self._leads() else []
        self.rule, copies = RULES[param.type]
        self.history = [[np.zeros(blob.shape, np.float32) for _ in range(copies)] for blob, *_ in self.net.learnable]
        self.iter = 0
        self.lr_state = {"current_step": 0}
        self.losses: list[float] = []
        self.smoothed_loss = 0.0
        self.requested: str | None = None     # "stop" (Ctrl-C): end after the step under way
        # (on_start, on_gradients_ready) pairs called in every step, as Caffe's
        # Solver::Callback (pycaffe's add_callback).
        self.callbacks: list[tuple] = []

    @classmethod
    def from_file(cls, path, log=print, options: Options | None = None):
        return cls(read_solver(path), path, log, options)

    # -- nets ---------------------------------------------------------------
    def _train_net(self):
        p = self.param
        given = [f for f in ("train_net_param", "train_net", "net_param", "net") if p.HasField(f)]
        if len(given) != 1:
            raise FCNError(f"{self.source}: give exactly one of train_net, train_net_param, net, net_param "
                           f"(found {', '.join(given) or 'none'})")
        field = given[0]
        net_param = getattr(p, field) if field.endswith("_param") else read_net(getattr(p, field))
        source = field if field.endswith("_param") else getattr(p, field)
        return self._make_net(net_param, "TRAIN", p.train_state, source)

    def _make_net(self, net_param, phase, state, source):
        stages = list(state.stage) + list(net_param.state.stage)
        level = state.level if state.HasField("level") else net_param.state.level
        keep = phase == "TEST" or self.keep_train_diffs
        options = self.options
        if self.world is not None and phase == "TRAIN":      # this rank's batches only
            options = options.but(shard=(self.world.rank, self.world.size))
        return Net(net_param, phase, stages=stages, level=level, source=source, keep_blobs=keep,
                   options=options)

    def _test_params(self):
        p = self.param
        nets = [(n, "test_net_param") for n in p.test_net_param]
        nets += [(read_net(path), path) for path in p.test_net]
        if p.HasField("net_param") or p.HasField("net"):
            shared = p.net_param if p.HasField("net_param") else read_net(p.net)
            nets += [(shared, "net")] * (len(p.test_iter) - len(nets))
        if len(p.test_iter) != len(nets):
            raise FCNError(f"{self.source}: {len(nets)} test nets but {len(p.test_iter)} test_iter values")
        if len(p.test_state) not in (0, len(nets)):
            raise FCNError(f"{self.source}: test_state must be given once per test net")
        return [(net, source, p.test_state[i] if len(p.test_state) else None) for i, (net, source) in enumerate(nets)]

    def _test_net(self, spec):
        net_param, source, state = spec
        net = self._make_net(net_param, "TEST", state or caffe_pb2.NetState(), source)
        net.share_with(self.net)
        return net

    # -- stepping -------------------------------------------------------------
    def step(self, iterations: int, progress=None) -> None:
        """Run `iterations` steps; `progress(done, total)` after each, if given."""
        start, stop = self.iter, self.iter + iterations
        average = max(self.param.average_loss, 1)
        self.losses = []
        self.smoothed_loss = 0.0
        began = time.perf_counter()
        while self.iter < stop:
            for on_start, _ in self.callbacks:
                on_start()
            self.net.clear_param_diffs()
            p = self.param
            if p.test_interval and self.iter % p.test_interval == 0 and (self.iter > 0 or p.test_initialization):
                self.test_all()
            loss = 0.0
            for _ in range(max(p.iter_size, 1)):
                self.net.forward()
                self.net.backward()
                loss += self.net.loss
            loss /= max(p.iter_size, 1)
            if self.world is not None:
                self.world.sum_gradients(self.net.learnable)
                loss = float(self.world.sum(loss)) / self.world.size
            for _, on_gradients_ready in self.callbacks:
                on_gradients_ready()
            self._smooth(loss, start, average)
            rate = learning_rate(p, self.iter, self.lr_state)
            if p.display and self.iter % p.display == 0:
                lapse = time.perf_counter() - began
                speed = (self.iter - start + 1) / max(lapse, 1e-9)
                # Caffe's lines, which its log parsers read (tools/extra/parse_log.py).
                self.log(f"Iteration {self.iter} ({speed:.6g} iter/s, {lapse:.6g}s/{p.display} iters), "
                         f"loss = {self.smoothed_loss:.6g}")
                self._log_outputs("Train", self.net)
                self.log(f"Iteration {self.iter}, lr = {rate:.6g}")
            self.apply_update(rate)
            self.iter += 1
            if progress:
                progress(self.iter - start, iterations)
            if p.snapshot and self.iter % p.snapshot == 0:
                self.snapshot()
            halt = self.requested == "stop"
            if self.world is not None:
                halt = self.world.any(halt)           # every rank ends after the same step
                self.requested = "stop" if halt else self.requested
            if halt:
                break

    def solve(self, resume=None, progress=None):
        """Caffe's Solver::Solve: steps up to max_iter, the final snapshot,
        then one more display pass and test where their intervals fall."""
        if resume:
            self.restore(resume)
        self.log(f"Solving {self.net.name or self.source}")
        self.log(f"Learning Rate Policy: {self.param.lr_policy}")
        start = self.iter
        self.step(self.param.max_iter - self.iter, progress)
        p = self.param
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
            self.snapshot()
        if self.requested == "stop":
            self.log("Optimization stopped early.")
            return
        if p.display and self.iter % p.display == 0:
            self.net.forward()
            self._smooth(self.net.loss, start, max(p.average_loss, 1))
            self.log(f"Iteration {self.iter}, loss = {self.smoothed_loss:.6g}")
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self.log("Optimization Done.")

    def _smooth(self, loss, start, average):
        if len(self.losses) < average:
            self.losses.append(loss)
            self.smoothed_loss = (self.smoothed_loss * (len(self.losses) - 1) + loss) / len(self.losses)
        else:
            index = (self.iter - start) % average
            self.smoothed_loss += (loss - self.losses[index]) / average
            self.losses[index] = loss

    def apply_update(self, rate: float | None = None) -> None:
        """Caffe's ApplyUpdate: clip, normalize, regularize, then the rule's
        step at `rate` (default: the learning rate of the current iteration)."""
        p = self.param
        if rate is None:
            rate = learning_rate(p, self.iter, self.lr_state)
        learnable = self.net.learnable
        if p.clip_gradients >= 0:
            norm = math.sqrt(sum(float(np.sum(blob.diff.astype(np.float64) ** 2)) for blob, *_ in learnable))
            if norm > p.clip_gradients:
                factor = np.float32(p.clip_gradients / norm)
                self.log(f"Gradient clipping: scaling down gradients (L2 norm {norm:.6g} > {p.clip_gradients:g}) "
                         f"by scale factor {factor:.6g}")
                for blob, *_ in learnable:
                    blob.diff *= factor
        if p.regularization_type not in ("L1", "L2"):
            raise FCNError(f"{self.source}: unknown regularization_type {p.regularization_type!r}; use L1 or L2")
        # Gradients summed over iter_size passes (and over the ranks of a
        # data-parallel job: N ranks x iter_size passes, as one process).
        passes = max(p.iter_size, 1) * (self.world.size if self.world is not None else 1)
        for (blob, lr_mult, decay_mult, *_), history in zip(learnable, self.history):
            diff = blob.diff
            if passes > 1:
                diff *= np.float32(1.0 / passes)
            decay = p.weight_decay * decay_mult
            if decay:
                if p.regularization_type == "L2":
                    diff += np.float32(decay) * blob.data
                else:
                    diff += np.float32(decay) * np.sign(blob.data)
            update = self.rule(diff, history, np.float32(rate) * np.float32(lr_mult), p, self.iter)
            blob.data -= update
            diff[...] = update

    # -- testing --------------------------------------------------------------
    def _log_outputs(self, kind, net, means=None):
        """Caffe's lines for each element of each output blob (and its loss
        weight): `    Train net output #k: name = value (* w = wv loss)`."""
        weights = {blob.name: layer.loss_weights[k] for layer, top in zip(net.layers, net.top_vecs)
                   for k, blob in enumerate(top) if layer.loss_weights[k]}
        index = 0
        for name in net.outputs:
            values = np.ravel(means[name] if means is not None else net.blobs[name].data)
            for value in values:
                weight = weights.get(name, 0)
                loss = f" (* {weight:g} = {weight * float(value):.6g} loss)" if weight else ""
                self.log(f"    {kind} net output #{index}: {name} = {float(value):.6g}{loss}")
                index += 1

    def _leads(self):
        return self.world is None or self.world.rank == 0

    def test_all(self):
        if not self._leads():
            return
        for index, (net, count) in enumerate(zip(self.test_nets, self.param.test_iter)):
            self.log(f"Iteration {self.iter}, Testing net (#{index})")
            totals = {}
            for _ in range(count):
                outputs = net.forward()
                for name, value in outputs.items():
                    totals[name] = totals.get(name, 0) + np.asarray(value, np.float64)
            self._log_outputs("Test", net, {name: total / max(count, 1) for name, total in totals.items()})

    # -- snapshots ------------------------------------------------------------
    def _prefix(self):
        prefix = self.param.snapshot_prefix
        if not prefix:
            prefix = os.path.splitext(self.source)[0] if self.source.endswith(".prototxt") else "snapshot"
        return prefix

    def snapshot(self):
        """Write the weights, then the state that points to them; returns both
        paths (rank 0 of a data-parallel job writes; the others return None)."""
        if not self._leads():
            return None
        hdf5 = self.param.snapshot_format == self.param.HDF5
        base = f"{self._prefix()}_iter_{self.iter}"
        model = base + (".caffemodel.h5" if hdf5 else ".caffemodel")
        state = base + (".solverstate.h5" if hdf5 else ".solverstate")
        folder = os.path.dirname(model)
        if folder:
            os.makedirs(folder, exist_ok=True)
        save_weights(self.net, model, write_diff=self.param.snapshot_diff)
        history = [array for arrays in self.history for array in arrays[:1]] + \
                  [array for arrays in self.history for array in arrays[1:]]
        write_state(state, self.iter, model, self.lr_state["current_step"], history)
        kind = "HDF5 file" if hdf5 else "binary proto file"
        self.log(f"Snapshotting to {kind} {model}")
        self.log(f"Snapshotting solver state to {kind} {state}")
        return model, state

    def restore(self, path: str) -> None:
        self.log(f"Restoring previous solver status from {path}")
        iteration, learned, current_step, history = read_state(path)
        copies = len(self.history[0]) if self.history else 1
        if len(history) != copies * len(self.history):
            raise FCNError(f"{path}: holds {len(history)} history blobs; this solver and net need "
                           f"{copies * len(self.history)}")
        n = len(self.history)
        for i, arrays in enumerate(self.history):
            for k in range(copies):
                saved = history[k * n + i]
                if saved.size != arrays[k].size:
                    raise FCNError(f"{path}: history blob {k * n + i} has {saved.size} values, the parameter "
                                   f"{self.net.learnable[i].layer}/{self.net.learnable[i].index} has {arrays[k].size}")
                arrays[k][...] = saved.reshape(arrays[k].shape)
        if learned:
            copy_weights(self.net, learned)
        self.iter, self.lr_state["current_step"] = iteration, current_step
        for layer in self.net.layers:
            if hasattr(layer, "rewind"):
                layer.rewind()   # Caffe does not save a data layer's position: it restarts
        self.log(f"Restored {path} at iteration {iteration}")
