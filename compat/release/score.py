"""The release's score.py: the confusion histogram over a val set and the
four metrics, printed as its Python 2 prints them (`>>> time Iteration N
metric value`), on this project's solvers/score.py."""
import os
from datetime import datetime

import numpy as np
from PIL import Image

from common.images import save_image
from solvers.score import fast_hist as _fast_hist
from solvers.score import metrics


def fast_hist(a, b, n):
    return _fast_hist(a, b, n)


def compute_hist(net, save_dir, dataset, layer="score", gt="label"):
    """(histogram, mean loss) over one forward pass per item of `dataset`;
    predictions saved as `save_dir/<item>.png` when save_dir is given."""
    classes = net.blobs[layer].channels
    if save_dir:
        os.mkdir(save_dir)
    hist = np.zeros((classes, classes))
    loss = 0.0
    for name in dataset:
        net.forward()
        prediction = net.blobs[layer].data[0].argmax(0)
        hist += _fast_hist(net.blobs[gt].data[0, 0], prediction, classes)
        if save_dir:
            save_image(Image.fromarray(prediction.astype(np.uint8), mode="P"), os.path.join(save_dir, f"{name}.png"))
        loss += float(net.blobs["loss"].data.flat[0])
    return hist, loss / len(dataset)


def seg_tests(solver, save_format, dataset, layer="score", gt="label"):
    print(">>>", datetime.now(), "Begin seg tests")
    solver.test_nets[0].share_with(solver.net)
    return do_seg_tests(solver.test_nets[0], solver.iter, save_format, dataset, layer, gt)


def do_seg_tests(net, iter, save_format, dataset, layer="score", gt="label"):
    if save_format:
        save_format = save_format.format(iter)
    hist, loss = compute_hist(net, save_format, dataset, layer, gt)
    scores = metrics(hist)
    print(">>>", datetime.now(), "Iteration", iter, "loss", loss)
    for key in ("overall accuracy", "mean accuracy", "mean IU", "fwavacc"):
        print(">>>", datetime.now(), "Iteration", iter, key, scores[key])
    return hist
