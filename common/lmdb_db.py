"""LMDB databases as Caffe's db_lmdb.cpp writes them (a folder holding
data.mdb and lock.mdb, records committed every 1000), made whole or not
at all: records go into a temporary folder beside the target, renamed
onto it once every one is in. Like Caffe's db::NEW, a target that exists
is refused. Needs the `lmdb` package (the `lmdb` extra)."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

from common.errors import FCNError

# Caffe's LMDB_MAP_SIZE: address space, not disk; the file grows as written.
MAP_SIZE = 1 << 40
COMMIT_EVERY = 1000


def _lmdb(path):
    try:
        import lmdb
    except ImportError:
        raise FCNError(f"{path}: writing an LMDB needs the lmdb package (pip install 'fcn-caffe[lmdb]')") from None
    return lmdb


class Writer:
    """put(key, value) in order; commits every COMMIT_EVERY records."""

    def __init__(self, env):
        self.env, self.count = env, 0
        self.txn = env.begin(write=True)

    def put(self, key: bytes, value: bytes) -> None:
        self.txn.put(key, value)
        self.count += 1
        if self.count % COMMIT_EVERY == 0:
            self.txn.commit()
            self.txn = self.env.begin(write=True)


@contextmanager
def new_lmdb(path: str):
    """A Writer into a new LMDB at `path`, which appears only if the block
    ends without an error."""
    lmdb = _lmdb(path)
    if os.path.lexists(path):
        raise FCNError(f"{path}: already exists; Caffe's tools make a new database and will not write into one")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
    except OSError as err:
        raise FCNError(f"{path}: cannot write ({err.strerror or err})") from None
    try:
        env = lmdb.open(tmp, map_size=MAP_SIZE, subdir=True)
        try:
            writer = Writer(env)
            yield writer
            writer.txn.commit()
        finally:
            env.close()
        os.rename(tmp, path)
    except lmdb.Error as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FCNError(f"{path}: cannot write the LMDB ({err})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_records(path: str, where: str):
    """(key, value) of every record of the LMDB at `path`, in key order."""
    lmdb = _lmdb(path)
    if not os.path.isdir(path):
        raise FCNError(f"{where}: {path} is not an LMDB folder")
    try:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False)
    except lmdb.Error as err:
        raise FCNError(f"{where}: cannot open the LMDB {path} ({err})") from None
    try:
        with env.begin() as txn:
            try:
                for key, value in txn.cursor():
                    yield bytes(key), bytes(value)
            except lmdb.Error as err:
                raise FCNError(f"{where}: the LMDB {path} is corrupt ({err})") from None
    finally:
        env.close()
