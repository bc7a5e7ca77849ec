"""`fcn run`: a script written against pycaffe, run on this engine.

The folder of the `caffe` package (compat/, installed with the project and
found as a package resource) and the script's own folder go first on
sys.path, sys.argv becomes the script and its arguments, and the script runs
as __main__ from its folder's point of view, unchanged.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from importlib import resources

from common.errors import FCNError

HELP = "run a pycaffe script (net.py, solve.py, infer.py, ...) with `import caffe` served by this engine"


def compat_folder() -> str:
    """The folder that holds the `caffe` package, wherever the project is installed."""
    return str(resources.files("compat"))


# The release's helper modules, and names only Python 2 has.
RELEASE_HELPERS = ("score", "surgery", "vis")
PYTHON2_NAMES = {"xrange", "unicode", "basestring", "raw_input", "unichr", "long", "execfile", "reduce"}


def python2_only(path):
    """Whether the module at `path` is Python 2 code: it does not compile
    under Python 3, or it calls what only Python 2 has (vis.py's xrange)."""
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    except SyntaxError:
        return True
    except (OSError, ValueError):
        return False
    names, stack = set(), [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if hasattr(c, "co_names"))
    return bool(names & PYTHON2_NAMES)


class ReleaseHelpers(importlib.abc.MetaPathFinder):
    """score, surgery and vis as the release's scripts import them: the file
    on the path when it is Python 3 code, else this project's version with
    the same functions and printed output (compat/release), said once."""

    def find_spec(self, name, path=None, target=None):
        if name not in RELEASE_HELPERS or path is not None:
            return None
        found = importlib.machinery.PathFinder.find_spec(name, sys.path)
        if found is not None and found.origin and not python2_only(found.origin):
            return found
        why = f"{found.origin} is Python 2" if found is not None else f"no {name}.py on the path"
        print(f"fcn run: {why}; using this project's {name} (the release's functions and output)",
              file=sys.stderr)
        ours = resources.files("compat") / "release" / f"{name}.py"
        return importlib.util.spec_from_file_location(name, str(ours))


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
    sys.meta_path.insert(0, ReleaseHelpers())
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
