"""Every file the project writes goes through here: written to a temporary
file in the same folder, flushed to disk, then renamed over the target, so
a crash, a kill -9 or a full disk mid-write leaves the previous file whole.

FCN_FAULT=kill:NAME or FCN_FAULT=enospc:NAME injects a fault while writing
a file whose name contains NAME (half the temporary file written, then
SIGKILL, or a full disk): the tests' way to prove the above.
"""
import errno
import os
import signal
import tempfile
from contextlib import contextmanager

from common.errors import FCNError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fault_point(path, tmp):
    fault = os.environ.get("FCN_FAULT", "")
    kind, _, fragment = fault.partition(":")
    if not fragment or fragment not in os.path.basename(path):
        return
    if kind == "kill":
        with open(tmp, "r+b") as f:
            f.truncate(os.path.getsize(tmp) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


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
        _fault_point(path, tmp)
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
