"""Sizes read from files, bounded before anything is allocated, read or
decompressed.

Every count here is a Python integer: a shape read from a file can ask for
more than 2**63 bytes, and numpy's int64 arithmetic would wrap round to a
small or negative number that passes a check."""
import math
import os

# zlib's deflate never expands more than 1032 to 1: a dataset or a zip
# member claiming more than that over what it stores is a bomb (or empty
# HDF5 chunks that would read back as a fill value).
MAX_DEFLATE_RATIO = 1032


def count(shape) -> int:
    """The number of elements of `shape`, exactly."""
    return math.prod(int(d) for d in shape)


def physical_memory() -> int:
    """This machine's memory in bytes (64 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 << 30


MACHINE_BYTES = physical_memory()


def fits_in_memory(nbytes: int) -> bool:
    return 0 <= nbytes <= MACHINE_BYTES
