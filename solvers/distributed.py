"""Data-parallel training and scoring over MPI (mpi4py; the `mpi` extra).

Under `mpirun -n N` (or `srun`), each rank builds the same net, takes
every N-th batch of the single-process sequence (rank r: batches r, r+N,
...; data layers deal them, see Options.shard), and after each step's
forward and backward passes the parameter gradients are summed across the
ranks with one in-place allreduce over a single contiguous buffer. Every
rank then applies the same update, normalized by N x iter_size: N ranks
with iter_size k are one process with iter_size N k, the same images in
the same steps, up to the order of the float additions. Only rank 0 logs,
snapshots and runs test nets. Nothing here imports mpi4py unless the
process was started by an MPI launcher with more than one rank.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from common.errors import FCNError

LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS", "MPI_LOCALNRANKS")


class World:
    """The ranks of an MPI job."""

    def __init__(self, comm):
        from mpi4py import MPI
        self.MPI, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.buffer = None

    def sum_gradients(self, learnable) -> None:
        """Every rank's parameter diffs replaced by their sum over the ranks."""
        diffs = [entry.blob.diff for entry in learnable]
        total = sum(d.size for d in diffs)
        if self.buffer is None or self.buffer.size != total:
            self.buffer = np.empty(total, np.float32)
        at = 0
        for d in diffs:
            self.buffer[at:at + d.size] = d.reshape(-1)
            at += d.size
        self.comm.Allreduce(self.MPI.IN_PLACE, self.buffer, op=self.MPI.SUM)
        at = 0
        for d in diffs:
            d.reshape(-1)[...] = self.buffer[at:at + d.size]
            at += d.size

    def broadcast_weights(self, learnable) -> None:
        """Rank 0's parameters on every rank."""
        for entry in learnable:
            data = np.ascontiguousarray(entry.blob.data)
            self.comm.Bcast(data, root=0)
            entry.blob.data[...] = data

    def sum(self, array):
        array = np.array(array, dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        return array

    def any(self, flag: bool) -> bool:
        return bool(self.comm.allreduce(bool(flag), op=self.MPI.LOR))

    def abort(self, message: str, code: int = 2):
        print(message, file=sys.stderr, flush=True)
        self.comm.Abort(code)


def launched_by_mpi() -> bool:
    return any(int(os.environ.get(v, "0") or 0) > 1 for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")) or \
        ("PMIX_RANK" in os.environ and int(os.environ.get("OMPI_COMM_WORLD_SIZE", "2")) > 1)


def join() -> World | None:
    """The job's World when started by an MPI launcher with several ranks, else None."""
    if not launched_by_mpi():
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise FCNError("started by an MPI launcher, but mpi4py is not installed (make install-mpi)") from None
    world = World(MPI.COMM_WORLD)
    return world if world.size > 1 else None
