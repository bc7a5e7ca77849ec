"""Solver state files: `.solverstate` (binary SolverState) and
`.solverstate.h5` (iter, learned_net, current_step, history/<i>), in the
layouts Caffe writes, each written to a temporary file and renamed."""
import os

import numpy as np
from google.protobuf.message import DecodeError

from common.atomic import atomic_path, write_atomic
from common.errors import FCNError
from common.hdf5 import open_hdf5, read_checked
from netspec import caffe_pb2
from weights.blobs import to_array, to_proto


def write_state(path, iteration, learned_net, current_step, history):
    if path.endswith(".h5"):
        import h5py  # 13 MB and 20 ms to import: only HDF5 files need it
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f["iter"] = np.int32(iteration)
                f["learned_net"] = learned_net
                f["current_step"] = np.int32(current_step)
                group = f.create_group("history")
                for i, array in enumerate(history):
                    group.create_dataset(str(i), data=array)
        return
    state = caffe_pb2.SolverState(iter=iteration, learned_net=learned_net, current_step=current_step)
    for array in history:
        state.history.append(to_proto(array))
    write_atomic(path, state.SerializeToString())


def read_state(path):
    """(iter, learned_net, current_step, [history arrays])."""
    if not os.path.exists(path):
        raise FCNError(f"{path}: no such solver state")
    if path.endswith(".h5"):
        try:
            with open_hdf5(path, "a solver state") as f:
                history = [read_checked(path, f["history"][str(i)]) for i in range(len(f["history"]))]
                learned = f["learned_net"][()]
                learned = learned.decode() if isinstance(learned, bytes) else str(learned)
                return int(f["iter"][()]), learned, int(f["current_step"][()]), history
        except (OSError, KeyError) as err:
            raise FCNError(f"{path}: not a solver state in Caffe's HDF5 layout ({err})") from None
    state = caffe_pb2.SolverState()
    try:
        with open(path, "rb") as f:
            state.ParseFromString(f.read())
    except DecodeError as err:
        raise FCNError(f"{path}: not a binary solver state ({err})") from None
    history = [to_array(blob, f"{path}: history {i}") for i, blob in enumerate(state.history)]
    return state.iter, state.learned_net, state.current_step, history
