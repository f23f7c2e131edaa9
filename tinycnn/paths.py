"""Where things live: the repo, MNIST and the run records.

Both folders are found from the repo, not from the working directory, so
`pytest checks/i3` run from `checks/` uses the same data and records as a
run from the top. The environment variables move them; an empty one means
unset (a relative one is taken from the working directory, as typed).
"""

from __future__ import annotations

import os
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
