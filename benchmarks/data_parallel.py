"""One FCN-8s training step at 500x500 per rank, timed with and without the
gradient allreduce, under `mpirun -n N` with the cores split between the
ranks (FCN_THREADS): images per second against one process on all of
them. Random weights, Input layers (the data layers' dealing costs nothing
here)."""
import json
import os
import sys
import time

from core.options import Options
from netspec import fcn_models
from solvers.distributed import join
from tools.time import timing_net


def main():
    world = join()
    ranks = world.size if world else 1
    cores = len(os.sched_getaffinity(0))
    options = Options(threads=max(1, cores // ranks))
    net = timing_net(fcn_models.net("voc-fcn8s", "train"), "TRAIN", (500, 500),
                     {"data": (1, 3, 500, 500), "label": (1, 1, 500, 500)}, options=options)
    best, comm = float("inf"), 0.0
    for i in range(3):
        start = time.perf_counter()
        net.clear_param_diffs()
        net.forward()
        net.backward()
        middle = time.perf_counter()
        if world:
            world.sum_gradients(net.learnable)
        end = time.perf_counter()
        if i and end - start < best:
            best, comm = end - start, end - middle
    if not world or world.rank == 0:
        json.dump({"ranks": ranks, "threads_per_rank": options.threads, "step_seconds": best,
                   "allreduce_seconds": comm, "images_per_second": ranks / best}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
