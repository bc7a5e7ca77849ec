"""Mutated prototxts and caffemodels from the Caffe references: each either
works or fails with the project's error; never another exception, never a
hang. FCN_FUZZ_EXAMPLES sets the mutations per test (`make fuzz` runs
50,000 of each)."""
import os
import re
import signal
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.net import Net
from netspec import FCNError, read_net
from tests.conftest import REFERENCE
from tools.netload import build_net
from weights.caffemodel import copy_weights, read_weights

EXAMPLES = int(os.environ.get("FCN_FUZZ_EXAMPLES", "150"))
SECONDS_PER_EXAMPLE = 20
NETS = [os.path.join(REFERENCE, case, "net.prototxt")
        for case in ("voc-fcn8s-narrow-test", "voc-fcn8s-narrow-train", "voc-fcn-alexnet-narrow-train")]
WEIGHTS = [os.path.join(REFERENCE, case, name)
           for case, name in (("voc-fcn8s-narrow-test", "weights.caffemodel"),
                              ("voc-fcn-alexnet-narrow-train", "weights.caffemodel"))]
TEXTS = [open(path, "rb").read() for path in NETS]
BLOBS = [open(path, "rb").read() for path in WEIGHTS]
NUMBERS = st.sampled_from([b"0", b"-1", b"1", b"3", b"7", b"100", b"65536", b"2147483647", b"99999999999", b"1e38",
                           b"nan", b"-0.5"])


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"one example ran for more than {SECONDS_PER_EXAMPLE} s")


def mutations(text_like):
    """Bit flips, truncations, insertions (and, for text, new numbers)."""
    position = st.one_of(st.integers(0, 4095), st.integers(0, 1 << 24))
    ops = [st.tuples(st.just("flip"), position, st.integers(0, 7)),
           st.tuples(st.just("truncate"), position, st.just(0)),
           st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8))]
    if text_like:
        ops.append(st.tuples(st.just("number"), st.integers(0, 1 << 16), NUMBERS))
    return st.lists(st.one_of(*ops), min_size=1, max_size=4)


def mutate(data, ops):
    data = bytearray(data)
    for kind, where, what in ops:
        if kind == "number":
            spans = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?(e-?\d+)?", bytes(data))]
            if spans:
                a, b = spans[where % len(spans)]
                data[a:b] = what
            continue
        where %= max(len(data), 1)
        if kind == "flip" and data:
            data[where] ^= 1 << what
        elif kind == "truncate":
            del data[where:]
        elif kind == "insert":
            data[where:where] = what
    return bytes(data)


def survive(action):
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_EXAMPLE)
    try:
        action()
    except FCNError:
        pass
    finally:
        signal.alarm(0)


FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(which=st.integers(0, len(TEXTS) - 1), ops=mutations(text_like=True), phase=st.sampled_from(["TRAIN", "TEST"]))
def test_mutated_prototxts(which, ops, phase):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "net.prototxt")
        with open(path, "wb") as f:
            f.write(mutate(TEXTS[which], ops))
        survive(lambda: Net(read_net(path), phase, source=path))


@FUZZ
@given(which=st.integers(0, len(BLOBS) - 1), ops=mutations(text_like=False))
def test_mutated_caffemodels(which, ops):
    net = build_net(NETS[0], "TEST")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "w.caffemodel")
        with open(path, "wb") as f:
            f.write(mutate(BLOBS[which], ops))

        def load():
            arrays = read_weights(path)
            assert all(a.dtype == np.float32 for blobs in arrays.values() for a in blobs)
            copy_weights(net, path)
        survive(load)


HDF5 = open(os.path.join(REFERENCE, "voc-fcn8s-narrow-test", "weights.caffemodel.h5"), "rb").read()
IMAGES = [open(os.path.join(REFERENCE, "..", "published", "demo", "image.jpg"), "rb").read()]


def _small_png():
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.arange(24 * 32, dtype=np.uint8).reshape(24, 32) % 21, mode="P").save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES.append(_small_png())


@FUZZ
@given(ops=mutations(text_like=False))
def test_mutated_hdf5_weights(ops):
    """HDF5 weights: through the reader every command uses, the describer
    of fcn info and the loader into a net."""
    from weights.formats import describe
    net = build_net(NETS[0], "TEST")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "w.caffemodel.h5")
        with open(path, "wb") as f:
            f.write(mutate(HDF5, ops))
        survive(lambda: (describe(path), read_weights(path), copy_weights(net, path)))


@FUZZ
@given(which=st.integers(0, len(IMAGES) - 1), ops=mutations(text_like=False))
def test_mutated_images(which, ops):
    """JPEG and PNG: read as the data layers and fcn infer read them."""
    from common.images import read_array, read_rgb
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "image.png" if which else "image.jpg")
        with open(path, "wb") as f:
            f.write(mutate(IMAGES[which], ops))
        survive(lambda: (read_rgb(path), read_array(path)))
