"""The CPU backend: numpy GEMMs and numba kernels run on a pool of worker
threads (threads.py), one scratch workspace per thread (workspace.py)."""
