"""`fcn`: one entry point, one module per subcommand.

Every subcommand module has `HELP` (its one line in `fcn --help`),
`add_arguments(parser)` and `run(args)` returning the exit code. A project
error (bad input) prints one line to stderr and exits 2; `--debug` shows the
traceback too.
"""
import argparse
import importlib
import sys

from layers import python_layer
from netspec.errors import FCNError

COMMANDS = ["nets", "shapes", "compare", "train", "test", "score", "recipe", "time", "infer", "convert", "info", "draw", "download", "run"]


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
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.no_python_layers:
        python_layer.ALLOW_PYTHON_LAYERS = False
    try:
        return args.run(args)
    except FCNError as err:
        if args.debug:
            raise
        print(f"fcn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fcn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
