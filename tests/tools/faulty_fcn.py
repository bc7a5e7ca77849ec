"""`fcn` with a fault at the moment a file is about to be renamed into place:

    python -m tests.tools.faulty_fcn kill:NAME|enospc:NAME COMMAND ARGS...

kill: the temporary file is cut to half, then the process is SIGKILLed;
enospc: the write fails as on a full disk. Only for files whose name holds
NAME. The tests' way to prove what common/atomic.py promises."""
import errno
import os
import signal
import sys

from common import atomic
from tools.cli import entry


def install(fault):
    kind, _, fragment = fault.partition(":")

    def before_rename(path, tmp):
        if fragment not in os.path.basename(path):
            return
        if kind == "kill":
            with open(tmp, "r+b") as f:
                f.truncate(os.path.getsize(tmp) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    atomic.before_rename = before_rename


if __name__ == "__main__":
    install(sys.argv[1])
    sys.argv = ["fcn", *sys.argv[2:]]
    entry()
