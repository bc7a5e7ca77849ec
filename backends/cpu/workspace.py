"""Per-thread scratch buffers that every convolution algorithm reuses in
turn (Caffe's col_buffer): after the first pass nothing is allocated."""
import threading

import numpy as np


class Workspace(threading.local):
    """A float32 buffer per thread, reused by every layer in turn (Caffe's
    col_buffer): im2col allocates nothing after the first pass."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def get(self, rows, cols):
        size = rows * cols
        if self.buffer.size < size:
            self.buffer = np.empty(size, np.float32)
        return self.buffer[:size].reshape(rows, cols)


WORKSPACE = Workspace()
# A second buffer per thread: the product of several images' GEMM before
# it is spread into their outputs.
PRODUCTS = Workspace()
