"""`fcn run`: a script written against pycaffe, run on this engine.

The folder of the `caffe` package (compat/, installed with the project and
found as a package resource) and the script's own folder go first on
sys.path, sys.argv becomes the script and its arguments, and the script runs
as __main__ from its folder's point of view, unchanged.
"""
import os
import runpy
import sys
from importlib import resources

from common.errors import FCNError

HELP = "run a pycaffe script (net.py, solve.py, infer.py, ...) with `import caffe` served by this engine"


def compat_folder() -> str:
    """The folder that holds the `caffe` package, wherever the project is installed."""
    return str(resources.files("compat"))


def add_arguments(parser):
    parser.add_argument("script", help="the Python script")
    parser.add_argument("args", nargs="...", help="its arguments")


def run(args):
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        raise FCNError(f"{args.script}: no such script")
    compat = compat_folder()
    if not os.path.isdir(os.path.join(compat, "caffe")):
        raise FCNError(f"{compat}: the caffe compatibility package is missing")
    sys.path[:0] = [compat, os.path.dirname(script)]
    sys.argv = [args.script, *args.args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as done:
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0
