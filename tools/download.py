"""`fcn download`: a published caffemodel, or a data set the recipes need,
into the layout `make voc-fcn8s` expects.

The URLs are data (tools/downloads.json). A transfer goes to DEST.part and
resumes from there with an HTTP Range request; the size the server gave and
the SHA-1 (where the table knows one) are checked before the rename to DEST.
Archives are unpacked (refusing members that would land outside the
folder) and their data folder moved to its place.
"""
import argparse
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

from common.errors import FCNError
from tools.progress import progress_bar

HELP = "download a published caffemodel or a data set (resumable, verified)"
TABLE = os.path.join(os.path.dirname(__file__), "downloads.json")
CHUNK = 1 << 20


def add_arguments(parser):
    parser.add_argument("name", metavar="MODEL|DATASET", help="a model (voc-fcn8s, ..., vgg16) or data set "
                                                              "(voc2011, voc2012, sbd)")
    parser.add_argument("--dir", default=".", help="the repository root to download into (default: here)")
    parser.add_argument("--table", default=TABLE, help=argparse.SUPPRESS)   # tests point it at 127.0.0.1


def load_table(path):
    try:
        with open(path) as f:
            table = json.load(f)
    except (OSError, ValueError) as err:
        raise FCNError(f"{path}: cannot read the download table ({err})") from None
    return {**table.get("models", {}), **table.get("datasets", {})}


def fetch(url, part):
    """Download `url` into `part`, resuming what is there; returns the size
    the server announced (None if it did not say)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:      # nothing left to send: the part is whole
            return have
        raise FCNError(f"{url}: the server answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise FCNError(f"{url}: cannot connect ({getattr(err, 'reason', err)})") from None
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = (have if resumed else 0) + int(length) if length is not None else None
        draw = progress_bar(label=os.path.basename(part[:-5]))
        with open(part, "ab" if resumed else "wb") as f:
            done = have if resumed else 0
            try:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    if draw and total:
                        draw(done >> 20, total >> 20)
            except OSError as err:
                raise FCNError(f"{url}: transfer broke off after {done:,} bytes ({err}); "
                               "run the same command again to resume") from None
    return total


def sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(name, root, table_path=TABLE):
    table = load_table(table_path)
    if name not in table:
        raise FCNError(f"unknown model or data set {name!r}; known: {', '.join(sorted(table))}")
    entry = table[name]
    dest = os.path.join(root, entry["dest"])
    if os.path.exists(dest):
        print(f"{dest}: already here")
        return dest
    archive = "member" in entry
    file_dest = os.path.join(root, "data", os.path.basename(entry["url"])) if archive else dest
    os.makedirs(os.path.dirname(os.path.abspath(file_dest)), exist_ok=True)
    if not os.path.exists(file_dest):
        part = file_dest + ".part"
        total = fetch(entry["url"], part)
        size = os.path.getsize(part)
        if total is not None and size != total:
            raise FCNError(f"{entry['url']}: got {size:,} of {total:,} bytes; run the same command again to resume")
        if entry.get("size") and size != entry["size"]:
            os.unlink(part)
            raise FCNError(f"{entry['url']}: {size:,} bytes, not the {entry['size']:,} expected; removed")
        if entry.get("sha1") and sha1_of(part) != entry["sha1"]:
            os.unlink(part)
            raise FCNError(f"{entry['url']}: SHA-1 differs from the published {entry['sha1']}; removed")
        os.replace(part, file_dest)
    if archive:
        extract(file_dest, entry["member"], dest)
    print(f"{name}: {dest}")
    return dest


def extract(archive, member, dest):
    """Unpack `archive` beside `dest`, then move its folder `member` to `dest`."""
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".unpack-", dir=parent)
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError) as err:
            raise FCNError(f"{archive}: cannot unpack ({err})") from None
        source = os.path.join(scratch, member)
        if not os.path.isdir(source):
            raise FCNError(f"{archive}: has no folder {member!r}")
        os.replace(source, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args):
    download(args.name, args.dir, args.table)
    return 0
