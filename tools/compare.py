"""`fcn compare`: our net against blobs that real Caffe wrote (the
comparison itself is weights/reference.py)."""
import json
import os

from common.atomic import write_atomic
from tools.netload import build_net
from weights.reference import compare, failures

HELP = "run a net on reference inputs and compare every blob with real Caffe's"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="net prototxt (or a published model name)")
    parser.add_argument("--weights", required=True, help=".caffemodel or .caffemodel.h5")
    parser.add_argument("--reference", required=True, help="blobs.h5 written by Caffe (or tools/dump_caffe_blobs.py)")
    parser.add_argument("--phase", choices=["TRAIN", "TEST"],
                        help="default: the phase in meta.json beside the reference, else TEST")
    parser.add_argument("--backward", action="store_true", help="also compare diffs and parameter diffs")
    parser.add_argument("--layerwise", action="store_true",
                        help="feed every layer Caffe's own bottoms (each layer's error alone)")
    parser.add_argument("--json", help="write the per-array results here")


def _default_phase(reference):
    meta = os.path.join(os.path.dirname(os.path.abspath(reference)), "meta.json")
    try:
        with open(meta) as f:
            return json.load(f).get("phase", "TEST")
    except (OSError, ValueError):
        return "TEST"


def _fmt(value):
    return "-" if value is None else f"{value:.3g}"


def run(args):
    phase = args.phase or _default_phase(args.reference)
    net = build_net(args.model, phase, args.weights, keep_blobs=True, options=args.options)
    results = compare(net, args.reference, args.backward, args.layerwise)
    print(f"{'array':<44} {'shape':<20} {'max abs err':>12} {'rel err':>10}  ok")
    for group in ("data", "diff", "param_diff"):
        for name, entry in results[group].items():
            shape = "x".join(map(str, entry["shape"])) or "scalar"
            print(f"{group + '/' + name:<44} {shape:<20} {_fmt(entry['max_abs_err']):>12} "
                  f"{_fmt(entry['rel_err']):>10}  {'ok' if entry['ok'] else 'FAIL'}")
    for name in results["skipped"]:
        print(f"{name:<44} skipped (Caffe's own split blob, absent here)" if "_split_" in name
              else f"{name:<44} skipped (no such blob here)")
    bad = failures(results)
    counted = sum(len(results[g]) for g in ("data", "diff", "param_diff"))
    print(f"compared {counted} arrays ({phase}{', backward' if args.backward else ''}): "
          f"{counted - len(bad)} ok, {len(bad)} failed, {len(results['skipped'])} skipped")
    if args.json:
        write_atomic(args.json, json.dumps({k: results[k] for k in ("data", "diff", "param_diff")}, indent=1))
    return 0 if not bad else 1
