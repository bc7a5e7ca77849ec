"""The paper's four metrics, from a confusion histogram: pixel accuracy,
mean class accuracy, mean IU and frequency-weighted IU (score.py of the
release), and the seg_tests that run them over a val net."""
import os
from datetime import datetime

import numpy as np
from PIL import Image

from common.images import save_image
from common.palette import pil_palette


def fast_hist(truth, prediction, classes):
    """classes x classes counts of (truth, prediction); truths outside
    [0, classes) (the ignore label) are left out."""
    truth = np.asarray(truth).astype(np.int64).ravel()
    prediction = np.asarray(prediction).astype(np.int64).ravel()
    keep = (truth >= 0) & (truth < classes)
    return np.bincount(classes * truth[keep] + prediction[keep], minlength=classes ** 2).reshape(classes, classes)


def metrics(hist):
    """{'overall accuracy', 'mean accuracy', 'mean IU', 'fwavacc', 'per-class IU'}."""
    hist = np.asarray(hist, np.float64)
    diag = np.diag(hist)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class_acc = diag / hist.sum(1)
        iu = diag / (hist.sum(1) + hist.sum(0) - diag)
        freq = hist.sum(1) / hist.sum()
        return {"overall accuracy": diag.sum() / hist.sum(), "mean accuracy": np.nanmean(per_class_acc),
                "mean IU": np.nanmean(iu), "fwavacc": (freq[freq > 0] * iu[freq > 0]).sum(), "per-class IU": iu}


def compute_hist(net, count, layer="score", gt="label", save_dir=None, names=None):
    """Run `count` forward passes; the histogram and the mean loss."""
    classes = net.blobs[layer].shape[1]
    hist = np.zeros((classes, classes), np.int64)
    loss = 0.0
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    for i in range(count):
        net.forward()
        prediction = net.blobs[layer].data[0].argmax(axis=0)
        hist += fast_hist(net.blobs[gt].data[0, 0], prediction, classes)
        if save_dir:
            image = Image.fromarray(prediction.astype(np.uint8), mode="P")
            image.putpalette(pil_palette())
            save_image(image, os.path.join(save_dir, f"{names[i] if names else i}.png"))
        if "loss" in net.blobs:
            loss += float(net.blobs["loss"].data.reshape(-1)[0])
    return hist, loss / max(count, 1)


def do_seg_tests(net, iteration, count, layer="score", gt="label", save_dir=None, names=None, log=print,
                 world=None):
    """The metrics over `count` passes. In a data-parallel job (`world`,
    the net's data layer dealt as Options.shard says) each rank scores its
    share, and the histograms and loss sums are summed: the same metrics."""
    if world is None:
        hist, loss = compute_hist(net, count, layer, gt, save_dir, names)
    else:
        mine = list(range(world.rank, count, world.size))
        own = [names[i] for i in mine] if names else [str(i) for i in mine]
        hist, loss = compute_hist(net, len(mine), layer, gt, save_dir, own)
        hist = world.sum(hist).astype(np.int64)
        loss = float(world.sum(loss * len(mine))) / max(count, 1)
        if world.rank != 0:
            return hist, metrics(hist)
    scores = metrics(hist)
    now = datetime.now()
    log(f">>> {now} Iteration {iteration} loss {loss:.6g}")
    for key in ("overall accuracy", "mean accuracy", "mean IU", "fwavacc"):
        log(f">>> {now} Iteration {iteration} {key} {scores[key]:.6g}")
    return hist, scores


def seg_tests(solver, count, layer="score", gt="label", save_dir=None, names=None, log=print):
    """The test net, sharing the train net's weights, over `count` images."""
    net = solver.test_nets[0]
    net.share_with(solver.net)
    return do_seg_tests(net, solver.iter, count, layer, gt, save_dir, names, log)
