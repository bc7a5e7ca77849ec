"""`fcn`: one entry point, one module per subcommand.

Every subcommand module has `HELP` (its one line in `fcn --help`),
`add_arguments(parser)` and `run(args)` returning the exit code. A project
error (bad input) prints one line to stderr and exits 2; `--debug` shows the
traceback too.
"""
import argparse
import importlib
import os
import sys

from common.errors import FCNError
from core.options import Options

COMMANDS = ["nets", "shapes", "compare", "train", "test", "score", "recipe", "time", "infer", "convert", "info",
            "draw", "download", "run", "pycaffe", "table", "examples"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fcn", description="Fully Convolutional Networks as released in Caffe, in numpy and numba.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--no-python-layers", action="store_true",
                        help="refuse Python layers that import code (for prototxts from untrusted sources)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tools.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        # Also after the command: `fcn train --no-python-layers ...`.
        command.add_argument("--no-python-layers", action="store_true", default=argparse.SUPPRESS,
                             help=argparse.SUPPRESS)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None, exit_at_once=False):
    """Runs one command and returns its exit code. With `exit_at_once`, a
    command that has returned ends the process there: every file it wrote
    is closed by then, and tearing down numba's LLVM at interpreter exit
    would add 0.2-0.3 s (a fifth of `fcn infer`'s start-up). `fcn run`
    always ends the normal way: a user's script may count on atexit
    handlers and files closed at exit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        # How nets run: the environment's defaults (FCN_THREADS, FCN_CONV),
        # and the trust of Python layers the command line gives.
        args.options = Options.from_environment(trust_python_layers=not args.no_python_layers)
        code = args.run(args)
        if exit_at_once and args.command != "run":
            sys.stdout.flush()
            sys.stderr.flush()
            if "mpi4py.MPI" in sys.modules:     # an MPI job's ranks leave through finalize
                from mpi4py import MPI
                MPI.Finalize()
            os._exit(code or 0)
        return code
    except FCNError as err:
        if args.debug:
            raise
        print(f"fcn {args.command}: error: {err}", file=sys.stderr, flush=True)
        abort_job(2)
        return 2
    except KeyboardInterrupt:
        print(f"fcn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_pipe()


def closed_pipe():
    """The reader of our output has gone (`fcn info NET | head -1`): end
    quietly, as a Unix tool killed by SIGPIPE does (exit 141). Later
    writes, and the flush at exit, go nowhere instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


def abort_job(code):
    """In a data-parallel MPI job, end every rank now: the others would wait
    for this one in their next allreduce."""
    if "mpi4py.MPI" in sys.modules:
        from mpi4py import MPI
        if MPI.COMM_WORLD.Get_size() > 1:
            MPI.COMM_WORLD.Abort(code)


def entry():
    """The `fcn` command."""
    code = main(exit_at_once=True)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = closed_pipe()
    sys.exit(code)


if __name__ == "__main__":
    entry()
