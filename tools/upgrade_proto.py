"""Caffe's upgrade tools, written out as tools/upgrade_net_proto_text.cpp,
upgrade_net_proto_binary.cpp and upgrade_solver_proto_text.cpp write them:
the same V0/V1 -> V2 upgrade (and solver_type -> type) the loaders here do.

    upgrade_net_proto_text    OLD.prototxt    NEW.prototxt
    upgrade_net_proto_binary  OLD.caffemodel  NEW.caffemodel
    upgrade_solver_proto_text OLD_solver.prototxt NEW_solver.prototxt
"""
from __future__ import annotations

import sys

from common.atomic import write_atomic
from netspec import caffe_pb2, read_text, write_text
from netspec.prototxt import read_binary
from netspec.upgrade import upgrade_net, upgrade_solver
from tools import gflags


def deprecations(net) -> list[str]:
    """What in `net` Caffe's UpgradeNetAsNeeded would upgrade."""
    found = []
    if any(v1.HasField("layer") for v1 in net.layers):
        found.append("V0LayerParameter")
    elif len(net.layers):
        found.append("V1LayerParameter")
    if len(net.input) or len(net.input_dim) or len(net.input_shape):
        found.append("input fields")
    return found


def upgraded_net(net, source: str, log):
    old = deprecations(net)
    for what in old:
        log(f"Attempting to upgrade input file specified using deprecated {what}: {source}")
    if not old:
        log(f"File already in latest proto format: {source}")
    upgrade_net(net, source)
    for what in old:
        log(f"Successfully upgraded file specified using deprecated {what}")
    return net


def net_text(argv: list[str]) -> int:
    positional, _ = gflags.parse(argv, {})
    if len(positional) != 2:
        print("Usage: upgrade_net_proto_text v0_net_proto_file_in net_proto_file_out", file=sys.stderr)
        return 1
    log = gflags.glog("upgrade_net_proto_text.cpp")
    net = upgraded_net(read_text(positional[0], caffe_pb2.NetParameter()), positional[0], log)
    write_text(positional[1], net)
    log(f"Wrote upgraded NetParameter text proto to {positional[1]}")
    return 0


def net_binary(argv: list[str]) -> int:
    positional, _ = gflags.parse(argv, {})
    if len(positional) != 2:
        print("Usage: upgrade_net_proto_binary v0_net_proto_file_in net_proto_file_out", file=sys.stderr)
        return 1
    log = gflags.glog("upgrade_net_proto_binary.cpp")
    net = read_binary(positional[0], caffe_pb2.NetParameter(), "binary net")
    upgraded_net(net, positional[0], log)
    write_atomic(positional[1], net.SerializeToString())
    log(f"Wrote upgraded NetParameter binary proto to {positional[1]}")
    return 0


def solver_text(argv: list[str]) -> int:
    positional, _ = gflags.parse(argv, {})
    if len(positional) != 2:
        print("Usage: upgrade_solver_proto_text old_solver_proto_file_in solver_proto_file_out", file=sys.stderr)
        return 1
    log = gflags.glog("upgrade_solver_proto_text.cpp")
    solver = read_text(positional[0], caffe_pb2.SolverParameter())
    if solver.HasField("solver_type"):
        log(f"Attempting to upgrade input file specified using deprecated 'solver_type' field (enum)': "
            f"{positional[0]}")
        upgrade_solver(solver, positional[0])
        log("Successfully upgraded file specified using deprecated 'solver_type' field (enum) to 'type' field "
            "(string).")
    else:
        log(f"File already in latest proto format: {positional[0]}")
    write_text(positional[1], solver)
    log(f"Wrote upgraded SolverParameter text proto to {positional[1]}")
    return 0


def net_text_entry() -> None:
    raise SystemExit(gflags.run_tool("upgrade_net_proto_text", net_text))


def net_binary_entry() -> None:
    raise SystemExit(gflags.run_tool("upgrade_net_proto_binary", net_binary))


def solver_text_entry() -> None:
    raise SystemExit(gflags.run_tool("upgrade_solver_proto_text", solver_text))
