"""`fcn nets`: write the published FCN prototxts from our NetSpec code."""
import os

from netspec import fcn_models
from netspec.prototxt import write_text

HELP = "write the train/val/test, deploy and solver prototxts of the 15 FCN models"


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="folder that receives MODEL/*.prototxt")
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help=f"models to write (default: all): {', '.join(fcn_models.model_names(extras=True))}")


def write_model(name, out):
    folder = os.path.join(out, name)
    written = []
    for split in fcn_models.splits(name) + ("deploy",):
        path = os.path.join(folder, f"{split}.prototxt")
        write_text(path, fcn_models.net(name, split))
        written.append(path)
    path = os.path.join(folder, "solver.prototxt")
    write_text(path, fcn_models.solver(name))
    return written + [path]


def run(args):
    for name in args.models or fcn_models.model_names(extras=True):
        fcn_models.splits(name)  # an unknown name fails before anything is written
    for name in args.models or fcn_models.model_names(extras=True):
        for path in write_model(name, args.out):
            print(path)
    return 0
