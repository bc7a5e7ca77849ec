"""The communication side of data-parallel training (`make bench` runs it
under mpirun -n 2 when MPI is installed): the time of one in-place
allreduce of FCN-8s's gradients (134,489,777 float32: 538 MB) between the
ranks, the fastest of a few."""
import json
import sys
import time

import numpy as np
from mpi4py import MPI

COUNT = 134_489_777


def main():
    comm = MPI.COMM_WORLD
    buffer = np.ones(COUNT, np.float32)
    times = []
    for _ in range(4):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        times.append(time.perf_counter() - start)
    if comm.Get_rank() == 0:
        best = min(times[1:])
        json.dump({"ranks": comm.Get_size(), "bytes": COUNT * 4, "seconds": best,
                   "GB_per_s": COUNT * 4 / best / 1e9}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
