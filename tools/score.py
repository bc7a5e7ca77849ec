"""`fcn score`: the paper's four metrics over a val net's data split."""
from common.errors import FCNError
from solvers.distributed import join
from solvers.score import do_seg_tests
from tools.netload import build_net

HELP = "score a val net over its data layer's split: loss, pixel acc., mean acc., mean IU, f.w. IU"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="the val (or test) prototxt, with its data layer")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--save", metavar="DIR", help="write each prediction as a VOC-palette PNG here")
    parser.add_argument("--layer", default="score", help="the score blob (default score)")
    parser.add_argument("--gt", default="label", help="the label blob (default label)")


def run(args):
    """Under mpirun with several ranks, the split is dealt across them."""
    world = join()
    options = args.options.but(shard=(world.rank, world.size)) if world is not None else args.options
    net = build_net(args.model, "TEST", args.weights, keep_blobs=True, options=options)
    data = net.layers[0]
    names = getattr(getattr(data, "impl", data), "indices", None)
    if names is None:
        raise FCNError(f"{args.model}: the first layer ({data.param.type}) is not a data layer with a split list")
    _, scores = do_seg_tests(net, 0, len(names), args.layer, args.gt, args.save, names, world=world)
    if world is not None and world.rank != 0:
        return 0
    for k, iu in enumerate(scores["per-class IU"]):
        print(f"class {k:3d} IU {iu:.4f}")
    return 0
