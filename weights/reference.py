"""A net against blobs that real Caffe wrote for it.

The reference file (layout of tests/data/reference/README.md) holds the
inputs, every blob after forward and, for training cases, every diff and
parameter diff after backward. Relative error is max|ours - ref| / max|ref|.
"""
import numpy as np

from common.errors import FCNError
from common.hdf5 import datasets, layer_blobs, open_hdf5, read_checked

DATA_TOLERANCE = 1e-4
DIFF_TOLERANCE = 1e-3


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
                if group == "data":
                    ours = blob.data
                else:
                    ours = blob.diff if blob.has_diff else np.zeros(blob.shape, np.float32)
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
