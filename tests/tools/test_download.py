"""fcn download against a local HTTP server on 127.0.0.1 (never the internet)."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PAYLOAD = bytes(range(256)) * 4096          # 1 MiB


def tar_bytes():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("benchmark_RELEASE/dataset/train.txt", b"2008_000002\n"),
                           ("benchmark_RELEASE/dataset/cls/2008_000002.mat", b"mat")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Server:
    """Serves FILES with Range support; the first request for a path in
    `cut` stops after half the bytes, as a dropped connection."""

    def __init__(self):
        self.files = {"/model.caffemodel": PAYLOAD, "/benchmark.tgz": tar_bytes()}
        self.cut = set()
        self.ranges = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if "Range" in self.headers:
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    server.ranges.append(start)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut:
                    server.cut.discard(self.path)
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def table(tmp_path, server, sha1=None):
    path = tmp_path / "table.json"
    model = {"url": server.url + "/model.caffemodel", "dest": "voc-fcn8s/w.caffemodel"}
    if sha1:
        model["sha1"] = sha1
    path.write_text(json.dumps({"models": {"voc-fcn8s": model}, "datasets": {"sbd": {
        "url": server.url + "/benchmark.tgz", "dest": "data/sbdd/dataset", "member": "benchmark_RELEASE/dataset"}}}))
    return str(path)


def fcn(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True)


def test_interrupted_transfer_resumes_and_verifies(tmp_path, server):
    server.cut.add("/model.caffemodel")
    args = ["download", "voc-fcn8s", "--dir", str(tmp_path), "--table",
            table(tmp_path, server, hashlib.sha1(PAYLOAD).hexdigest())]
    first = fcn(*args)
    assert first.returncode == 2 and "run the same command again to resume" in first.stderr
    part = tmp_path / "voc-fcn8s" / "w.caffemodel.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    assert not (tmp_path / "voc-fcn8s" / "w.caffemodel").exists()
    second = fcn(*args)
    assert second.returncode == 0, second.stderr
    assert server.ranges == [len(PAYLOAD) // 2]       # asked only for the missing half
    assert (tmp_path / "voc-fcn8s" / "w.caffemodel").read_bytes() == PAYLOAD
    assert not part.exists()


def test_wrong_checksum_is_refused_and_removed(tmp_path, server):
    result = fcn("download", "voc-fcn8s", "--dir", str(tmp_path), "--table", table(tmp_path, server, "0" * 40))
    assert result.returncode == 2 and "SHA-1" in result.stderr
    assert not os.listdir(tmp_path / "voc-fcn8s")


def test_dataset_archive_lands_in_the_recipe_layout(tmp_path, server):
    result = fcn("download", "sbd", "--dir", str(tmp_path), "--table", table(tmp_path, server))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "sbdd" / "dataset" / "train.txt").read_bytes() == b"2008_000002\n"
    again = fcn("download", "sbd", "--dir", str(tmp_path), "--table", table(tmp_path, server))
    assert again.returncode == 0 and "already here" in again.stdout


def test_unknown_name_and_unreachable_server(tmp_path, server):
    result = fcn("download", "nope", "--dir", str(tmp_path), "--table", table(tmp_path, server))
    assert result.returncode == 2 and "unknown model or data set 'nope'" in result.stderr
    server.files.clear()
    result = fcn("download", "voc-fcn8s", "--dir", str(tmp_path), "--table", table(tmp_path, server))
    assert result.returncode == 2 and "404" in result.stderr and "Traceback" not in result.stderr


def test_the_shipped_table_covers_every_published_model():
    from netspec import fcn_models
    from tools.download import TABLE, load_table
    entries = load_table(TABLE)
    assert set(fcn_models.model_names()) <= set(entries)
    assert {"voc2011", "voc2012", "sbd"} <= set(entries)
