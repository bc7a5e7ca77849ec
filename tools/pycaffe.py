"""`fcn pycaffe --install | --remove`: `import caffe` in this environment
without `fcn run`, by a .pth file that puts the compatibility package on
the path. Refused where another `caffe` (a real pycaffe) is importable,
unless --force: it would be shadowed."""
import importlib.util
import os
import sysconfig

from common.atomic import write_atomic
from common.errors import FCNError
from tools.run import compat_folder

HELP = "let `import caffe` find this project's pycaffe in this environment (--install), or not (--remove)"
PTH = "fcn_pycaffe.pth"


def add_arguments(parser):
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--install", action="store_true")
    group.add_argument("--remove", action="store_true")
    parser.add_argument("--force", action="store_true", help="install even where another caffe is importable")


def pth_path():
    return os.path.join(sysconfig.get_paths()["purelib"], PTH)


def run(args):
    path = pth_path()
    if args.remove:
        if os.path.exists(path):
            os.unlink(path)
        print(f"removed {path}" if not os.path.exists(path) else f"could not remove {path}")
        return 0
    found = importlib.util.find_spec("caffe")
    ours = os.path.join(compat_folder(), "caffe")
    if found and found.origin and not os.path.realpath(found.origin).startswith(os.path.realpath(ours)) \
            and not args.force:
        raise FCNError(f"another caffe is importable here ({found.origin}); --force would shadow it")
    write_atomic(path, compat_folder() + "\n")
    print(f"wrote {path}: `import caffe` now finds {ours}")
    return 0
