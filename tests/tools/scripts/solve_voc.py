"""Training as the release's solve.py does it: `python solve_voc.py VAL_LIST`."""
import sys

import caffe
import numpy as np
import score
import surgery

caffe.set_device(0)
caffe.set_mode_gpu()       # accepted; the CPU runs

solver = caffe.SGDSolver("solver.prototxt")
interp_layers = [k for k in solver.net.params.keys() if "up" in k]
surgery.interp(solver.net, interp_layers)
before = {name: blobs[0].data.copy() for name, blobs in solver.net.params.items()}
val = np.loadtxt(sys.argv[1], dtype=str)
for _ in range(2):
    solver.step(2)
    score.seg_tests(solver, val, layer="score")
moved = [name for name, blobs in solver.net.params.items() if not np.array_equal(blobs[0].data, before[name])]
print("changed:", " ".join(moved))
solver.snapshot()
restored = caffe.get_solver("solver.prototxt")
restored.restore(f"snapshot/train_iter_{solver.iter}.solverstate")
print("restored at", restored.iter)
