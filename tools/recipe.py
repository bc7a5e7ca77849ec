"""`fcn recipe MODEL`: what `make MODEL` runs after writing the prototxts.

With the real data in the release's layout (and the base weights the
published solve.py starts from), it runs the published recipe: load the
weights, bilinear kernels into the upsampling layers, then rounds of
solver.step(4000) each followed by seg tests on the val split.

Without them, for voc-fcn8s, it runs the same topology end to end on a
small synthetic set in the VOC/SBD layout (narrowed widths, msra-initialized,
a few minutes on two cores), prints the four metrics before and after, and
saves a picture. For other models it says what is missing.
"""
import ast
import os
import time

import numpy as np
from PIL import Image

from common.images import read_rgb, save_image
from common.palette import make_palette
from core.net import Net
from netspec import fcn_models, read_net, read_solver
from netspec.prototxt import write_text
from solvers.score import seg_tests
from solvers.solver import Solver
from tools.download import TABLE, load_table
from tools.synthetic import write_dataset
from weights.caffemodel import copy_weights
from weights.formats import load_arrays
from weights.surgery import interp, transplant, transplant_arrays

HELP = ("run a model's training recipe: on the real data if present, else (voc-fcn8s, or any VOC model "
        "with --synthetic) on synthetic data")

VGG = "ilsvrc-nets/vgg16-fcn.caffemodel"
VOC_DATA = ["sbdd/dataset/train.txt", "pascal/VOC2011/ImageSets/Segmentation/seg11valid.txt"]
NYUD_DATA = ["nyud/trainval.txt", "nyud/test.txt"]
SIFT_DATA = ["sift-flow/trainval.txt", "sift-flow/test.txt"]
CONTEXT_DATA = ["pascal/VOC2010/ImageSets/Main/train.txt", "pascal-context/labels.txt",
                "pascal-context/59_labels.txt"]
SCORE = [("score", "label")]
SIFT_HEADS = [("score_sem", "sem"), ("score_geo", "geo")]

# What each release solve.py needs: data files, relative to data/ at the top
# of the checkout (the release's nets say ../data or, for voc-fcn16s and
# PASCAL-Context, ../../data: both are read from data/ here); where its
# weights come from, relative to the top (a file, or transplants of base
# nets with a suffix); the (score, label) blobs its seg tests read; steps
# per round.
RECIPES = {
    "voc-fcn32s": (VOC_DATA, VGG, SCORE, 4000),
    "voc-fcn16s": (VOC_DATA, "voc-fcn32s/voc-fcn32s.caffemodel", SCORE, 4000),
    "voc-fcn8s": (VOC_DATA, "voc-fcn16s/voc-fcn16s.caffemodel", SCORE, 4000),
    "voc-fcn8s-atonce": (VOC_DATA, VGG, SCORE, 4000),
    "voc-fcn-alexnet": (VOC_DATA, "ilsvrc-nets/alexnet-fcn.caffemodel", SCORE, 4000),
    # The paper's other nets: GoogLeNet's ImageNet weights load by name (its
    # classifier and auxiliary heads are not in the FCN, so they are left).
    "voc-fcn-googlenet": (VOC_DATA, "ilsvrc-nets/bvlc_googlenet.caffemodel", SCORE, 4000),
    "voc-fcn32s-fixed": (VOC_DATA, VGG, SCORE, 4000),
    "voc-fcn32s-unpool": (VOC_DATA, VGG, SCORE, 4000),
    "nyud-fcn32s-color": (NYUD_DATA, VGG, SCORE, 2000),
    "nyud-fcn32s-hha": (NYUD_DATA, VGG, SCORE, 2000),
    "nyud-fcn32s-color-d": (NYUD_DATA, VGG, SCORE, 2000),
    "nyud-fcn32s-color-hha": (NYUD_DATA, [
        ("nyud-fcn32s-color/trainval.prototxt", "nyud-fcn32s-color/nyud-fcn32s-color-heavy.caffemodel", "color"),
        ("nyud-fcn32s-hha/trainval.prototxt", "nyud-fcn32s-hha/nyud-fcn32s-hha-heavy.caffemodel", "hha")],
        SCORE, 2000),
    "siftflow-fcn32s": (SIFT_DATA, VGG, SIFT_HEADS, 2000),
    "siftflow-fcn16s": (SIFT_DATA, "siftflow-fcn32s/siftflow-fcn32s.caffemodel", SIFT_HEADS, 2000),
    "siftflow-fcn8s": (SIFT_DATA, "siftflow-fcn16s/siftflow-fcn16s.caffemodel", SIFT_HEADS, 2000),
    "pascalcontext-fcn32s": (CONTEXT_DATA, VGG, SCORE, 4000),
    "pascalcontext-fcn16s": (CONTEXT_DATA, "pascalcontext-fcn32s/pascalcontext-fcn32s.caffemodel", SCORE, 4000),
    "pascalcontext-fcn8s": (CONTEXT_DATA, "pascalcontext-fcn16s/pascalcontext-fcn16s.caffemodel", SCORE, 4000),
}
# Weights that `fcn download` saves under the published file name: the recipe
# takes them where the name solve.py uses is absent. VGG16 comes with fully
# connected fc6/fc7, carried into FCN's convolutional ones by transplant.
DOWNLOADED = {"ilsvrc-nets/vgg16-fcn.caffemodel": "ilsvrc-nets/VGG_ILSVRC_16_layers.caffemodel"}
SYNTHETIC_WIDTHS = {64: 16, 128: 32, 256: 64, 512: 128, 4096: 256, 96: 24, 384: 96}


def add_arguments(parser):
    parser.add_argument("model", help="e.g. voc-fcn8s")
    parser.add_argument("--root", default=".", help="the repository root: MODEL/ and data/ live there")
    parser.add_argument("--weights", help="base weights (default: what the published solve.py loads)")
    parser.add_argument("--rounds", type=int, default=25, help="rounds of training and seg tests on real data (25)")
    parser.add_argument("--steps", type=int, help="steps per round on real data (default: the model's published value)")
    parser.add_argument("--iterations", type=int, default=600, help="steps of the synthetic run")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic set even if real data is present")
    parser.add_argument("--solver-type", default="Adam", help="solver of the synthetic run (default Adam)")
    parser.add_argument("--base-lr", type=float, default=1e-3, help="base_lr of the synthetic run")


def downloaded_name(path):
    """Where `fcn download` puts the weights the recipes name `path`."""
    if path in DOWNLOADED:
        return DOWNLOADED[path]
    model = path.split("/")[0]
    entry = load_table(TABLE).get(model)
    return entry["dest"] if entry and path == f"{model}/{model}.caffemodel" else None


def resolve(root, path):
    """The file to load for `path` (relative to the top): the name solve.py
    uses, else the published name a download gave it."""
    named = os.path.join(root, path)
    fallback = downloaded_name(path)
    if not os.path.exists(named) and fallback and os.path.exists(os.path.join(root, fallback)):
        return os.path.join(root, fallback)
    return named


def weight_files(root, source):
    if isinstance(source, str):
        return [resolve(root, source)]
    return [os.path.join(root, path) for spec in source for path in spec[:2]]


def run(args):
    fcn_models.splits(args.model)
    root = os.path.abspath(args.root)
    folder = os.path.join(root, args.model)
    needs, source, heads, steps = RECIPES[args.model]
    if args.weights:
        source = os.path.abspath(args.weights)
    data = os.path.join(root, "data")
    missing = [os.path.relpath(path, root) if path.startswith(root) else path for path in
               [os.path.join(data, p) for p in needs] + weight_files(root, source) if not os.path.exists(path)]
    if not missing and not args.synthetic:
        return run_published(root, folder, source, heads, args.rounds, args.steps or steps,
                             getattr(args, "options", None))
    if args.model == "voc-fcn8s" or (args.synthetic and needs == VOC_DATA):
        if missing:
            print("The real data is not here; missing: " + ", ".join(missing))
        return run_synthetic(args)
    print(f"{args.model}: prototxts written to {folder}/. Training needs the real data and base weights; "
          f"missing: {', '.join(missing)}.")
    return 0


def at_data_root(net_param, data):
    """The net with its data layers' folders read from `data`: the release's
    '../data/x' and '../../data/x' both become DATA/x."""
    for layer in net_param.layer:
        if layer.type != "Python":
            continue
        params = ast.literal_eval(layer.python_param.param_str or "{}")
        for key, value in params.items():
            if key.endswith("_dir") and isinstance(value, str) and "data/" in value and \
                    not os.path.isabs(value):
                params[key] = os.path.join(data, value.split("data/", 1)[1])
        layer.python_param.param_str = repr(params)
    return net_param


def published_solver(folder, data):
    """The model folder's solver.prototxt with its nets read in, their data
    under `data`."""
    param = read_solver(os.path.join(folder, "solver.prototxt"))
    for field in ("train_net", "net"):
        if param.HasField(field):
            path = getattr(param, field)
            getattr(param, field + "_param").CopyFrom(at_data_root(read_net(os.path.join(folder, path)), data))
            param.ClearField(field)
    for path in list(param.test_net):
        param.test_net_param.add().CopyFrom(at_data_root(read_net(os.path.join(folder, path)), data))
    del param.test_net[:]
    return param


def run_published(root, folder, source, heads, rounds, steps, options=None):
    """The release's solve.py: the base weights (or transplanted base nets),
    bilinear kernels in the upsampling layers, then rounds of training each
    followed by seg tests on the val split, one per score head."""
    param = published_solver(folder, os.path.join(root, "data"))
    here = os.getcwd()
    os.chdir(folder)   # snapshots go where solve.py's do
    try:
        solver = Solver(param, os.path.join(folder, "solver.prototxt"), log=lambda line: print(line, flush=True),
                        options=options)
        if isinstance(source, str):
            path = resolve(root, source)
            if path.endswith("VGG_ILSVRC_16_layers.caffemodel"):
                transplant_arrays(solver.net, load_arrays(path))
            else:
                copy_weights(solver.net, path)
        else:
            for proto, weights, suffix in source:
                base = Net(read_net(os.path.join(root, proto)), "TEST", source=proto, options=options)
                copy_weights(base, os.path.join(root, weights))
                transplant(solver.net, base, suffix=suffix)
        interp(solver.net, [name for name in solver.net.params if "up" in name])
        count = solver.param.test_iter[0]
        for _ in range(rounds):
            solver.step(steps)
            for layer, gt in heads:
                seg_tests(solver, count, layer, gt)
    finally:
        os.chdir(here)
    return 0


def synthetic_nets(data, widths=SYNTHETIC_WIDTHS, model="voc-fcn8s"):
    """A VOC model's train and val nets, narrowed, msra-initialized, reading the synthetic set."""
    sbdd, voc = os.path.join(data, "sbdd", "dataset"), os.path.join(data, "pascal", "VOC2011")
    nets = {}
    for split in ("train", "val"):
        net = fcn_models.net(model, split, widths)
        for layer in net.layer:
            if layer.type == "Python":
                params = ast.literal_eval(layer.python_param.param_str)
                params.update(sbdd_dir=sbdd) if "sbdd_dir" in params else params.update(voc_dir=voc)
                layer.python_param.param_str = repr(params)
            elif layer.type == "Convolution":
                layer.convolution_param.weight_filler.type = "msra"
        nets[split] = net
    return nets


def run_synthetic(args):
    began = time.perf_counter()
    work = os.path.abspath(os.path.join(args.root, "build", "synthetic"))
    data = os.path.join(work, "data")
    if not os.path.exists(os.path.join(data, "sbdd", "dataset", "train.txt")):
        write_dataset(data)
    folder = os.path.join(work, args.model)
    nets = synthetic_nets(data, model=args.model)
    write_text(os.path.join(folder, "train.prototxt"), nets["train"])
    write_text(os.path.join(folder, "val.prototxt"), nets["val"])
    with open(os.path.join(data, "pascal", "VOC2011", "ImageSets", "Segmentation", "seg11valid.txt")) as f:
        val_names = f.read().split()
    # The published solver settings, except what training from scratch on
    # 60 small images needs: Adam by default, which the unnormalized loss's
    # scale (a sum over every pixel) does not throw off.
    solver_param = fcn_models.solver(args.model)
    solver_param.type, solver_param.base_lr, solver_param.momentum = args.solver_type, args.base_lr, 0.9
    solver_param.iter_size = 1
    solver_param.test_iter[0] = len(val_names)
    solver_param.display, solver_param.snapshot = 100, 0
    solver_param.random_seed = 1
    solver_param.snapshot_prefix = "snapshot/train"
    write_text(os.path.join(folder, "solver.prototxt"), solver_param)
    here = os.getcwd()
    os.chdir(folder)
    try:
        solver = Solver.from_file("solver.prototxt", log=lambda line: print(line, flush=True),
                                  options=getattr(args, "options", None))
        interp(solver.net, [name for name in solver.net.params if "up" in name])
        print("Before training (msra-initialized weights):")
        _, before = seg_tests(solver, len(val_names))
        solver.step(args.iterations)
        print(f"After {args.iterations} steps:")
        _, after = seg_tests(solver, len(val_names), save_dir="predictions", names=val_names)
        picture = save_picture(solver.test_nets[0], data, val_names[:4], "demo.png")
    finally:
        os.chdir(here)
    chance = 1.0 / 7
    print(f"\nmean IU: {before['mean IU']:.3f} before, {after['mean IU']:.3f} after "
          f"(chance on these 7 classes: about {chance:.3f})")
    print(f"picture (image | ground truth | prediction): {os.path.join(folder, picture)}")
    print(f"This ran on SYNTHETIC data ({len(val_names)} val images, narrowed widths, msra init), "
          f"in {time.perf_counter() - began:.0f} s.")
    print("For the real recipe, put SBD in data/sbdd/dataset, PASCAL VOC 2011 in data/pascal/VOC2011 (with "
          "seg11valid.txt under ImageSets/Segmentation), and voc-fcn16s/voc-fcn16s.caffemodel, then run "
          "`make voc-fcn8s` again.")
    # The set is made for voc-fcn8s (the main job): on 72 x 88 images a
    # stride-32 net sees its objects in a 3 x 3 grid and learns little.
    if args.model == "voc-fcn8s" and not after["mean IU"] > 2 * chance:
        print(f"FAILED: the synthetic run did not learn (mean IU {after['mean IU']:.3f})")
        return 1
    return 0


def save_picture(net, data, names, path):
    """Rows of image | ground truth | prediction, in VOC colours. The val
    net's data layer has come round to its first image after the seg tests,
    so its next passes are `names` in order."""
    palette = make_palette(256)
    rows = []
    voc = os.path.join(data, "pascal", "VOC2011")
    for name in names:
        net.forward()
        image = read_rgb(os.path.join(voc, "JPEGImages", f"{name}.jpg"))
        truth = net.blobs["label"].data[0, 0].astype(np.uint8)
        prediction = net.blobs["score"].data[0].argmax(axis=0)
        rows.append(np.concatenate([image, palette[truth], palette[prediction]], axis=1))
    picture = Image.fromarray(np.concatenate(rows, axis=0))
    save_image(picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST), path)
    return path
