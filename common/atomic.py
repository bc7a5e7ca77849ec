"""Every file the project writes goes through here: written to a temporary
file in the same folder, flushed to disk, then renamed over the target, so
a crash, a kill -9 or a full disk mid-write leaves the previous file whole.
(tests/tools/faulty_fcn.py proves it through `before_rename`, a seam that
does nothing outside the tests.)
"""
import os
import tempfile
from contextlib import contextmanager

from common.errors import FCNError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def before_rename(path: str, tmp: str) -> None:
    """Called with a file written whole to `tmp`, just before it is renamed
    onto `path`. Nothing here; the tests replace it to crash or fill the
    disk at that moment."""


@contextmanager
def atomic_path(path):
    """A temporary path to write `path` through; renamed onto `path` when the
    block ends, removed if it fails."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
        os.close(fd)
    except OSError as err:
        raise FCNError(f"{path}: cannot write ({err.strerror or err})") from None
    try:
        yield tmp
        before_rename(path, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; files get the usual mode
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise FCNError(f"{path}: cannot write ({err.strerror or err})") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def write_atomic(path, data):
    """Write bytes or text to `path` through a temporary file."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
