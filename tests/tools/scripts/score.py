"""Segmentation scores in pycaffe's terms, as the release's score.py works:
a test net sharing the solver's weights, forward passes, histograms."""
import numpy as np


def fast_hist(a, b, n):
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n ** 2).reshape(n, n)


def compute_hist(net, dataset, layer="score", gt="label"):
    n_cl = net.blobs[layer].channels
    hist = np.zeros((n_cl, n_cl))
    loss = 0
    for _ in dataset:
        net.forward()
        hist += fast_hist(net.blobs[gt].data[0, 0].flatten(), net.blobs[layer].data[0].argmax(0).flatten(), n_cl)
        loss += net.blobs["loss"].data.flat[0]
    return hist, loss / len(dataset)


def seg_tests(solver, dataset, layer="score", gt="label"):
    print(">>> Begin seg tests")
    solver.test_nets[0].share_with(solver.net)
    hist, loss = compute_hist(solver.test_nets[0], dataset, layer, gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    print(f">>> Iteration {solver.iter} loss {loss}")
    print(f">>> Iteration {solver.iter} overall accuracy {np.diag(hist).sum() / hist.sum()}")
    print(f">>> Iteration {solver.iter} mean IU {np.nanmean(iu)}")
    print(f">>> Iteration {solver.iter} pixels {int(hist.sum())}")
    return hist
