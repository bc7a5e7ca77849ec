"""`fcn train`: Caffe's `caffe train`, on this engine."""
import glob
import re
import signal
import sys

from netspec import read_solver
from solvers.distributed import join
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


def say(line):
    print(line, flush=True)


def run(args, log=say):
    """`log(line)` prints each line (the `caffe` command gives glog's form).
    Under mpirun with several ranks, a data-parallel job (solvers/distributed.py)."""
    world = join()
    solver = Solver(read_solver(args.solver), args.solver, log=log, options=args.options, world=world)
    for path in (args.weights or "").split(","):
        if path:
            copy_weights(solver.net, path)
    resume = args.snapshot
    if resume == "latest":
        resume = latest_state(solver)
        if world is not None:          # rank 0's choice for every rank
            resume = world.comm.bcast(resume, root=0)
        if resume is None:
            solver.log("no snapshot found; starting from scratch")
    if resume:
        solver.restore(resume)
    if world is not None:
        world.broadcast_weights(solver.net.learnable)     # rank 0's start, fillers included

    def interrupted(signum, frame):
        # Finish the step under way, then snapshot and stop (as caffe train).
        solver.requested = "stop"

    previous = signal.signal(signal.SIGINT, interrupted)
    previous_term = signal.signal(signal.SIGTERM, interrupted)     # what mpirun forwards
    try:
        bar = progress_bar(sys.stderr)
        if args.iterations is None:
            solver.solve(progress=bar)      # as `caffe train`: to max_iter, snapshot, last test
        else:
            # Our extension: N steps from here, then the final snapshot as Solve's.
            solver.log(f"Solving {solver.net.name or args.solver}")
            solver.step(args.iterations, bar)
            p = solver.param
            if solver.requested != "stop" and p.snapshot_after_train and \
                    (not p.snapshot or solver.iter % p.snapshot != 0):
                solver.snapshot()
        if solver.requested == "stop":
            if not solver.param.snapshot_after_train or args.iterations is not None:
                solver.snapshot()
            solver.log("interrupted: snapshot written")
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    return 0

