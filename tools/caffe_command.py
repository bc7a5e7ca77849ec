"""`caffe`: Caffe's own command-line tool on this engine, for the shell
scripts written for build/tools/caffe.

    caffe train -solver S [-weights W[,W2]] [-snapshot STATE] [-iterations N]
    caffe test -model M -weights W [-iterations 50]
    caffe time -model M [-weights W] [-iterations 50]
    caffe device_query

Flags in gflags' forms (-solver x, -solver=x, --solver x, --solver=x).
-gpu is accepted with a note: this engine runs on the CPU. Lines go to
stderr in glog's form (tools/gflags.py), so that Caffe's log parsers
(tools/extra/parse_log.py) read them.
"""
from __future__ import annotations

import argparse
import sys

from common.errors import FCNError
from core.options import Options
from tools import gflags
from tools.cli import closed_pipe
from tools.gflags import glog

USAGE = """caffe: command line brew
usage: caffe <command> <args>

commands:
  train           train or finetune a model
  test            score a model
  device_query    show GPU diagnostic information
  time            benchmark model execution time

Flags: -solver, -weights, -snapshot, -model, -iterations, -gpu, -phase, -level, -stage"""

# flag: (default, type); all of Caffe's that scripts pass.
FLAGS = {"solver": ("", str), "weights": ("", str), "snapshot": ("", str), "model": ("", str),
         "iterations": (50, int), "gpu": ("", str), "phase": ("", str), "level": (0, int), "stage": ("", str),
         "sighup_effect": ("snapshot", str), "sigint_effect": ("stop", str)}


def parse_flags(argv):
    """(command, {flag: value}) from gflags' forms; unknown flags are errors."""
    positional, flags = gflags.parse(argv, FLAGS)
    if len(positional) > 1:
        raise FCNError(f"unexpected argument {positional[1]!r}")
    return (positional[0] if positional else None), flags


def train(flags, options):
    from tools import train as fcn_train
    if not flags["solver"]:
        raise FCNError("Need a solver definition to train (-solver).")
    if flags["weights"] and flags["snapshot"]:
        raise FCNError("Give a snapshot to resume training or weights to finetune but not both.")
    args = argparse.Namespace(solver=flags["solver"], weights=flags["weights"] or None,
                              snapshot=flags["snapshot"] or None, options=options,
                              iterations=flags["iterations"] if "iterations" in flags["given"] else None)
    return fcn_train.run(args, log=glog("solver.cpp"))


def test(flags, options):
    from tools import test as fcn_test
    if not flags["model"] or not flags["weights"]:
        raise FCNError("Need a model definition (-model) and its weights (-weights) to score.")
    args = argparse.Namespace(model=flags["model"], weights=flags["weights"], iterations=flags["iterations"],
                              phase=flags["phase"] or "TEST", options=options)
    log = glog("caffe.cpp")
    log(f"Running for {flags['iterations']} iterations.")
    return fcn_test.run(args, log=log)


def time(flags, options):
    from tools.time import time_net, timing_net
    if not flags["model"]:
        raise FCNError("Need a model definition to time (-model).")
    log = glog("caffe.cpp")
    phase = flags["phase"] or "TRAIN"
    net = timing_net(flags["model"], phase, weights=flags["weights"] or None, options=options)
    log("Performing Forward")
    net.forward()
    log(f"Initial loss: {net.loss:.6g}")
    log("Performing Backward")
    result = time_net(net, flags["iterations"])
    log("*** Benchmark begins ***")
    log(f"Testing for {flags['iterations']} iterations.")
    for name, t in result["layers"].items():
        log(f"{name:>12}\tforward: {t['forward_ms']:.6g} ms.")
        log(f"{name:>12}\tbackward: {t['backward_ms']:.6g} ms.")
    forward = sum(t["forward_ms"] for t in result["layers"].values())
    backward = sum(t["backward_ms"] for t in result["layers"].values())
    log(f"Average Forward pass: {forward:.6g} ms.")
    log(f"Average Backward pass: {backward:.6g} ms.")
    log(f"Average Forward-Backward: {forward + backward:.6g} ms.")
    log("*** Benchmark ends ***")
    return 0


def device_query(flags, options):
    glog("caffe.cpp")(f"This engine runs on the CPU ({options.threads} threads); there is no GPU to query.")
    return 0


COMMANDS = {"train": train, "test": test, "time": time, "device_query": device_query}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = None
    try:
        command, flags = parse_flags(argv)
        if command not in COMMANDS:
            print(USAGE, file=sys.stderr)
            return 1
        if flags["gpu"]:
            glog("caffe.cpp")(f"-gpu {flags['gpu']}: this engine runs on the CPU; the flag is ignored.")
        return COMMANDS[command](flags, Options.from_environment()) or 0
    except FCNError as err:
        print(f"caffe {command or ''}: error: {err}".replace("  ", " "), file=sys.stderr)
        return 2
    except BrokenPipeError:
        return closed_pipe()


def entry():
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = closed_pipe()
    sys.exit(code)


if __name__ == "__main__":
    entry()
