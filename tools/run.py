"""`fcn run`: a script written against pycaffe, run on this engine.

compat/ (the `caffe` package) and the script's own folder go first on
sys.path, sys.argv becomes the script and its arguments, and the script runs
as __main__ from its folder's point of view, unchanged.
"""
import os
import runpy
import sys

from common.errors import FCNError

HELP = "run a pycaffe script (net.py, solve.py, infer.py, ...) with `import caffe` served by this engine"
COMPAT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compat")


def add_arguments(parser):
    parser.add_argument("script", help="the Python script")
    parser.add_argument("args", nargs="...", help="its arguments")


def run(args):
    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        raise FCNError(f"{args.script}: no such script")
    if not os.path.isdir(os.path.join(COMPAT, "caffe")):
        raise FCNError(f"{COMPAT}: the caffe compatibility package is missing")
    sys.path[:0] = [COMPAT, os.path.dirname(script)]
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
