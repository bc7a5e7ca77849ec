"""`fcn train`: Caffe's `caffe train`, on this engine."""
import glob
import re
import signal
import sys

from solvers.solver import Solver
from tools.progress import progress_bar
from weights.caffemodel import copy_weights

HELP = "train with a solver.prototxt, as `caffe train` (snapshots, restore, Ctrl-C snapshots)"


def add_arguments(parser):
    parser.add_argument("--solver", required=True, help="solver.prototxt")
    parser.add_argument("--weights", help="initial weights: one or more files, comma-separated")
    parser.add_argument("--snapshot", help="a .solverstate(.h5) to resume from, or 'latest'")
    parser.add_argument("--iterations", type=int, help="steps to run (default: up to max_iter)")


def latest_state(solver):
    """The newest complete solver state under the snapshot prefix."""
    pattern = f"{solver._prefix()}_iter_*.solverstate*"
    found = []
    for path in glob.glob(pattern):
        match = re.search(r"_iter_(\d+)\.solverstate(\.h5)?$", path)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def run(args):
    solver = Solver.from_file(args.solver, log=lambda line: print(line, flush=True), options=args.options)
    for path in (args.weights or "").split(","):
        if path:
            copy_weights(solver.net, path)
    resume = args.snapshot
    if resume == "latest":
        resume = latest_state(solver)
        if resume is None:
            print("no snapshot found; starting from scratch", flush=True)
    if resume:
        solver.restore(resume)

    def interrupted(signum, frame):
        # Finish the step under way, then snapshot and stop (as caffe train).
        solver.requested = "stop"

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        bar = progress_bar(sys.stderr)
        if args.iterations is not None:
            solver.step(args.iterations, bar)
        else:
            solver.step(solver.param.max_iter - solver.iter, bar)
        if solver.requested == "stop":
            solver.snapshot()
            print("interrupted: snapshot written", flush=True)
        else:
            # Caffe's Solver::Solve: the final state is saved unless the
            # periodic snapshot has just written it.
            p = solver.param
            if p.snapshot_after_train and (not p.snapshot or solver.iter % p.snapshot != 0):
                solver.snapshot()
            print("Optimization done.", flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0

