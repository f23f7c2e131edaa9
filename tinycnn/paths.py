"""Where things live (the repo, MNIST, the run records), and how a file
is written there: whole or not at all (write_atomic).

Both folders are found from the repo, not from the working directory, so
`pytest checks/i3` run from `checks/` uses the same data and records as a
run from the top. The environment variables move them; an empty one means
unset (a relative one is taken from the working directory, as typed).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def data_root() -> Path:
    """$TINYCNN_DATA, else data/ in the repo: MNIST/raw/ goes below it."""
    return _from_env("TINYCNN_DATA") or ROOT / "data"


def cache_dir() -> Path:
    """This user's tinycnn cache: the record key, the precision choice."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinycnn"


def runs_root() -> Path:
    """$TINYCNN_RUNS, else runs/ in the repo: run records go below it."""
    return _from_env("TINYCNN_RUNS") or ROOT / "runs"


def run_dir(folder: Path) -> Path:
    """runs/steps/i3 for steps/i3, runs/solutions/i3 for solutions/i3."""
    folder = Path(folder)
    return runs_root() / folder.parent.name / folder.name


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TEMP_PATTERN = re.compile(r"^\..+\.[A-Za-z0-9_]{8}$")  # write_atomic's names


def remove_stale_temps(folder: Path, max_age_s: float = 3600) -> list[Path]:
    """Delete write_atomic's temp files that a killed process left behind.

    Only names of its pattern (`.<name>.XXXXXXXX`) older than `max_age_s`
    go: a write in progress elsewhere is seconds old.
    """
    gone = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return gone
    now = time.time()
    for p in entries:
        try:
            if (TEMP_PATTERN.match(p.name) and p.is_file()
                    and now - p.stat().st_mtime > max_age_s):
                p.unlink()
                gone.append(p)
        except OSError:
            continue  # not ours to remove (read-only folder): harmless
    return gone
