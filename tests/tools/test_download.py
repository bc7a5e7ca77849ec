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


def tar_of(folder, member):
    """A .tgz holding `folder` as `member`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=member)
    return buffer.getvalue()


def test_download_then_recipe_with_the_published_file_names(tmp_path, server, capsys):
    """fcn download saves the published names (VGG_ILSVRC_16_layers.caffemodel
    with fully connected fc6/fc7, fcn16s-heavy-pascal.caffemodel); the
    recipes then train from them: voc-fcn32s carries VGG16's fc6/fc7 into
    its convolutions, voc-fcn8s starts from the downloaded FCN-16s. Nets
    narrowed to stay fast; data sets downloaded as archives in their
    published layouts."""
    import numpy as np

    from core.net import Net
    from netspec import fcn_models
    from netspec.prototxt import write_text
    from tools import recipe
    from tools.cli import main
    from tools.download import TABLE, load_table
    from tools.synthetic import write_dataset
    from weights.formats import save_arrays
    narrow = {k: 2 for k in recipe.SYNTHETIC_WIDTHS}
    scratch = tmp_path / "scratch"
    sbdd, voc = write_dataset(str(scratch), train=3, val=2, size=(36, 44))
    rng = np.random.default_rng(0)
    fcn32 = Net(fcn_models.net("voc-fcn32s", "deploy", narrow), "TEST")
    vgg = {name: [rng.standard_normal(b.shape).astype(np.float32) * 0.01 for b in blobs]
           for name, blobs in fcn32.params.items() if not name.startswith(("score", "up"))}
    for name in ("fc6", "fc7"):     # VGG16 as published: fully connected
        vgg[name][0] = vgg[name][0].reshape(vgg[name][0].shape[0], -1)
    vgg["fc8"] = [rng.standard_normal((1000, 2)).astype(np.float32), np.zeros(1000, np.float32)]
    save_arrays(str(scratch / "vgg.caffemodel"), vgg)
    fcn16 = Net(fcn_models.net("voc-fcn16s", "deploy", narrow), "TEST")
    save_arrays(str(scratch / "fcn16.caffemodel"),
                {name: [rng.standard_normal(b.shape).astype(np.float32) * 0.01 for b in blobs]
                 for name, blobs in fcn16.params.items()})
    server.files.update({"/vgg": (scratch / "vgg.caffemodel").read_bytes(),
                         "/fcn16": (scratch / "fcn16.caffemodel").read_bytes(),
                         "/sbd.tgz": tar_of(sbdd, "benchmark_RELEASE/dataset"),
                         "/voc.tar": tar_of(voc, "TrainVal/VOCdevkit/VOC2011")})
    shipped = json.loads(open(TABLE).read())
    for name, path in [("vgg16", "/vgg"), ("voc-fcn16s", "/fcn16")]:
        shipped["models"][name] = dict(shipped["models"][name], url=server.url + path)
        shipped["models"][name].pop("sha1", None)
    for name, path in [("sbd", "/sbd.tgz"), ("voc2011", "/voc.tar")]:
        shipped["datasets"][name]["url"] = server.url + path
    table_path = tmp_path / "table.json"
    table_path.write_text(json.dumps(shipped))
    root = tmp_path / "checkout"
    for name in ("vgg16", "voc-fcn16s", "sbd", "voc2011"):
        result = fcn("download", name, "--dir", str(root), "--table", str(table_path))
        assert result.returncode == 0, result.stderr
    assert (root / load_table(TABLE)["vgg16"]["dest"]).exists()
    for model in ("voc-fcn32s", "voc-fcn8s"):
        for split in ("train", "val"):
            write_text(str(root / model / f"{split}.prototxt"), fcn_models.net(model, split, narrow))
        solver = fcn_models.solver(model)
        solver.test_iter[0], solver.snapshot, solver.display = 2, 0, 1
        write_text(str(root / model / "solver.prototxt"), solver)
    capsys.readouterr()
    assert main(["recipe", "voc-fcn32s", "--root", str(root), "--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "coercing fc6 0 from [2, 98] to [2, 2, 7, 7]" in out and "dropping fc8" in out
    assert "mean IU" in out and "missing" not in out
    assert main(["recipe", "voc-fcn8s", "--root", str(root), "--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "mean IU" in out and "SYNTHETIC" not in out and "missing" not in out
