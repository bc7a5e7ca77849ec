"""The engine's own parallelism: one worker per core, single-threaded BLAS.

OpenBLAS's threads, and the OpenMP threads behind numba's parallel=True,
spin for a while after each call, fighting the next layer's workers for
the same cores (after a numba-parallel pooling, FCN-8s's next convolution
ran 60% slower); small GEMMs also pay OpenBLAS's thread start-up every
call. So while a net runs, BLAS is set to one thread, every kernel is a
serial numba function that releases the GIL, and the layers hand slices of
their work (bands of output rows, slices of channels, planes) to this one
pool, one slice per worker at a time.
"""
import ctypes
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_pool = None
_blas = None
_depth = threading.local()


def _openblas_controls():
    """(set, get) thread-count functions of every OpenBLAS in the process
    (numpy's and scipy's each bring one)."""
    controls = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        return controls
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes = [ctypes.c_int]
                    controls.append((setter, getter))
                    break
            else:
                continue
            break
    return controls


@contextmanager
def single_threaded_blas():
    """BLAS on one thread inside; as it was outside. Re-entrant."""
    global _blas
    if _blas is None:
        _blas = _openblas_controls()
    depth = getattr(_depth, "value", 0)
    saved = [getter() for _, getter in _blas] if depth == 0 else None
    if depth == 0:
        for setter, _ in _blas:
            setter(1)
    _depth.value = depth + 1
    try:
        yield
    finally:
        _depth.value = depth
        if depth == 0:
            for (setter, _), count in zip(_blas, saved):
                setter(count)


def parallel(work, items):
    """work(item) for every item, spread over the workers; the first error
    is raised here. Not to be nested: workers must not call it."""
    items = list(items)
    if WORKERS == 1 or len(items) <= 1:
        for item in items:
            work(item)
        return
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="fcn-worker")
    for future in [_pool.submit(work, item) for item in items]:
        future.result()


def in_slices(kernel, count, *args):
    """kernel(*args, start, stop) over range(count), a slice per worker."""
    parallel(lambda span: kernel(*args, *span), split(count))


def split(count, parts=WORKERS):
    """[start, stop) ranges cutting range(count) into at most `parts` pieces."""
    parts = max(1, min(parts, count))
    edges = [count * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts) if edges[i + 1] > edges[i]]


def even_split(count, most, least=1):
    """[start, stop) ranges of at most `most` items (at least `least` ranges)
    covering range(count), as even as they come; when there are several,
    as many as a multiple of the workers, so that none waits idle for
    another's last one."""
    parts = max(least, -(-count // max(1, most)))
    if parts > 1:
        parts = -(-parts // WORKERS) * WORKERS
    return split(count, parts)
