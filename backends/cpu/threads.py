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
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

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


class Workers:
    """A pool of `count` threads and the ways layers hand it work. One pool
    per count for the whole process (Workers.of): threads are a resource of
    the machine, not of a net."""

    _pools: dict[int, "Workers"] = {}
    _inside = threading.local()      # set on the pool's own threads

    def __init__(self, count: int):
        self.count = count
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def of(cls, count: int) -> "Workers":
        if count not in cls._pools:
            cls._pools[count] = cls(count)
        return cls._pools[count]

    def parallel(self, work, items) -> None:
        """work(item) for every item, spread over the workers; the first
        error is raised here. A worker calling it would wait on itself."""
        if getattr(Workers._inside, "value", False):
            raise RuntimeError("Workers.parallel called from a worker: the pool would wait on itself")
        items = list(items)
        if self.count == 1 or len(items) <= 1:
            for item in items:
                work(item)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="fcn-worker",
                                            initializer=_mark_worker)
        pool = self._pool
        for future in [pool.submit(work, item) for item in items]:
            future.result()

    def in_slices(self, kernel, count, *args) -> None:
        """kernel(*args, start, stop) over range(count), a slice per worker."""
        self.parallel(lambda span: kernel(*args, *span), self.split(count))

    def split(self, count, parts=None):
        """[start, stop) ranges cutting range(count) into at most `parts`
        (default: one per worker) pieces."""
        return split(count, self.count if parts is None else parts)

    def even_split(self, count, most, least=1):
        """[start, stop) ranges of at most `most` items (at least `least`
        ranges) covering range(count), as even as they come; when there are
        several, as many as a multiple of the workers, so that none waits
        idle for another's last one."""
        parts = max(least, -(-count // max(1, most)))
        if parts > 1:
            parts = -(-parts // self.count) * self.count
        return split(count, parts)


def _mark_worker():
    Workers._inside.value = True


def split(count, parts):
    """[start, stop) ranges cutting range(count) into at most `parts` pieces."""
    parts = max(1, min(parts, count))
    edges = [count * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts) if edges[i + 1] > edges[i]]
