"""`fcn compare`: our net against blobs that real Caffe wrote.

The reference file (layout of tests/data/reference/README.md) holds the
inputs, every blob after forward and, for training cases, every diff and
parameter diff after backward. Relative error is max|ours - ref| / max|ref|.
"""
import json
import os

import numpy as np

from common.errors import FCNError
from common.atomic import write_atomic
from tools.netload import build_net
from common.hdf5 import datasets, layer_blobs, open_hdf5, read_checked

HELP = "run a net on reference inputs and compare every blob with real Caffe's"
DATA_TOLERANCE = 1e-4
DIFF_TOLERANCE = 1e-3


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


def _entry(ours, ref, tolerance):
    if ours.shape != ref.shape:
        return {"shape": list(ref.shape), "ours_shape": list(ours.shape), "max_abs_err": None,
                "rel_err": None, "ok": False}
    if ref.size == 0:
        return {"shape": list(ref.shape), "max_abs_err": 0.0, "rel_err": 0.0, "ok": True}
    err = float(np.abs(ours.astype(np.float64) - ref).max())
    scale = float(np.abs(ref).max())
    rel = err / scale if scale else (0.0 if err == 0 else float("inf"))
    return {"shape": list(ref.shape), "max_abs_err": err, "rel_err": rel, "ok": bool(rel <= tolerance)}


def compare(net, reference, backward, layerwise=False):
    """{'data': {...}, 'diff': {...}, 'param_diff': {...}, 'skipped': [...]}

    Chained (the default), the net runs on from the reference inputs alone.
    `layerwise`, each blob is compared when its last writer has run and then
    replaced by Caffe's value, so every layer sees Caffe's own bottoms: the
    error of each layer alone, and no near-tied max-pooling window whose
    argmax flips on a last-bit difference upstream."""
    results = {"data": {}, "diff": {}, "param_diff": {}, "skipped": []}
    with open_hdf5(reference, "reference blobs") as f:
        if "input" not in f or "data" not in f:
            raise FCNError(f"{reference}: needs 'input' and 'data' groups (see tests/data/reference/README.md)")
        for name, dataset in datasets(f["input"]).items():
            if name not in net.blobs:
                raise FCNError(f"{reference}: input {name!r} is not a blob of the net")
            array = read_checked(reference, dataset)
            net.blobs[name].reshape(array.shape)
            net.blobs[name].data[...] = array
        if layerwise:
            _forward_layerwise(net, reference, datasets(f["data"]), results["data"])
        else:
            net.forward()
        if backward:
            if "diff" not in f:
                raise FCNError(f"{reference}: --backward needs a 'diff' group; this reference has none")
            net.clear_param_diffs()
            net.backward()
        groups = [("data", DATA_TOLERANCE)] + ([("diff", DIFF_TOLERANCE)] if backward else [])
        for group, tolerance in groups:
            for name, dataset in datasets(f[group]).items():
                if name in results[group]:
                    continue
                if name not in net.blobs:
                    results["skipped"].append(f"{group}/{name}")
                    continue
                blob = net.blobs[name]
                ours = blob.data if group == "data" else (blob.diff if blob.has_diff else np.zeros(blob.shape, np.float32))
                results[group][name] = _entry(ours, read_checked(reference, dataset), tolerance)
        if backward and "param_diff" in f:
            for layer, blobs in layer_blobs(reference, f["param_diff"]).items():
                for index, dataset in enumerate(blobs):
                    key = f"{layer}/{index}"
                    if layer not in net.params or index >= len(net.params[layer]):
                        results["param_diff"][key] = {"shape": list(dataset.shape), "max_abs_err": None,
                                                      "rel_err": None, "ok": False, "missing": True}
                        continue
                    ours = net.params[layer][index].diff
                    results["param_diff"][key] = _entry(ours, read_checked(reference, dataset), DIFF_TOLERANCE)
    return results


def _forward_layerwise(net, path, reference, data_results):
    last_writer = {blob.name: i for i, tops in enumerate(net.top_vecs) for blob in tops}
    loss = 0.0
    for i, name in enumerate(net.layer_names):
        net.forward(start=name, end=name)
        loss += net.loss
        for blob in net.top_vecs[i]:
            if last_writer[blob.name] == i and blob.name in reference:
                ref = read_checked(path, reference[blob.name])
                data_results[blob.name] = _entry(blob.data, ref, DATA_TOLERANCE)
                if ref.shape == blob.shape:
                    blob.data[...] = ref
    net.loss = loss


def failures(results):
    return [f"{group}/{name}" for group in ("data", "diff", "param_diff")
            for name, entry in results[group].items() if not entry["ok"]]


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
