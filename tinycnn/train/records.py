"""Run records: what a training run did, written so a crash leaves none.

A record is a folder: `model.pt` (a state_dict), `curves.png` and, written
last, `record.json`. Only a folder with `record.json` counts as a record.
The trainer signs each record (an HMAC over the record and the weights,
with a key kept in this user's cache folder, never in the repo), and the
grader reuses only signed records: a copied checkpoint, or a record.json
edited by hand, is retrained.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import pickle
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from tinycnn import figure, posix
from tinycnn.paths import cache_dir, remove_stale_temps, write_atomic

RECORD, WEIGHTS, CURVES = "record.json", "model.pt", "curves.png"
LOCK = ".lock"
FREE_BYTES = 20 << 20  # a record is well under 1 MB; leave room for it


def invalidate(out: Path) -> None:
    """Drop the old record first: an interrupted run leaves no record."""
    path = Path(out) / RECORD
    if path.is_dir() and not path.is_symlink():  # not ours: in the way
        shutil.rmtree(path)
    path.unlink(missing_ok=True)


def check_writable(out: Path) -> None:
    """OSError now, before hours of training, if `out` cannot take a
    record: a read-only or full folder. Also sweeps a killed run's temps."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    write_atomic(out / ".write-test", b"")
    (out / ".write-test").unlink()
    free = shutil.disk_usage(out).free
    if free < FREE_BYTES:
        raise OSError(28, f"only {free >> 20} MB free", str(out))


@contextmanager
def locked(out: Path, waiting: Callable[[], None] | None = None
           ) -> Iterator[None]:
    """Hold the run folder's lock: one trainer per folder at a time.

    A second grader of the same step waits here (after `waiting()` says
    so), then finds the first one's record. Without flock (Windows,
    tinycnn.posix) or a writable folder there is no lock, and the check
    runs as before.
    """
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        fh = open(Path(out) / LOCK, "a", encoding="utf-8")  # noqa: SIM115
    except OSError:
        yield
        return
    with fh:
        if posix.lock(fh, wait=False) is False:
            if waiting:
                waiting()
            posix.lock(fh, wait=True)
        try:
            yield
        finally:
            posix.unlock(fh)


def _key() -> bytes | None:
    """This user's signing key, made on first use; None if unwritable."""
    path = cache_dir() / "record.key"
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, secrets.token_hex(32).encode())
            path.chmod(0o600)
        return path.read_bytes()
    except OSError:
        return None


def signature(record: dict, weights: bytes) -> str | None:
    key = _key()
    if key is None:
        return None
    body = {k: v for k, v in record.items() if k != "signature"}
    msg = json.dumps(body, sort_keys=True).encode() + hashlib.sha256(
        weights).digest()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def save(out: Path, record: dict, model: nn.Module) -> None:
    out = Path(out)
    buf = io.BytesIO()
    state = {k: v.detach().cpu().contiguous() for k, v in
             model.state_dict().items()}
    torch.save(state, buf)
    weights = buf.getvalue()
    record = {**record, "signature": signature(record, weights)}
    write_atomic(out / WEIGHTS, weights)
    write_atomic(out / CURVES, plot_curves(record))
    write_atomic(out / RECORD, json.dumps(record, indent=1).encode())


def load(out: Path, signed: bool = False) -> tuple[dict, dict] | None:
    """(record, state_dict), or None when there is no complete record (or,
    with `signed`, none that this user's trainer signed)."""
    out = Path(out)
    try:
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
        weights = (out / WEIGHTS).read_bytes()
        state = torch.load(io.BytesIO(weights), map_location="cpu",
                           weights_only=True)
    except (OSError, ValueError, RuntimeError, EOFError,
            pickle.UnpicklingError):
        return None
    if not isinstance(record, dict) or not isinstance(state, dict):
        return None
    if signed:
        want = signature(record, weights)
        if want is None or not hmac.compare_digest(
                str(record.get("signature")), want):
            return None
    return record, state


def plot_curves(record: dict) -> bytes:
    """Loss and accuracy per epoch, train vs test (or vs the held-out
    images of a --holdout run), as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinycnn.course import STEPS

    rows = record["epochs"]
    x = [r["epoch"] for r in rows]
    # a run with held-out images (--holdout) measured those each epoch
    held = "val" if "val_acc" in rows[0] else "test"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.4))
    # every 50 batches' training loss, where the run recorded it: the only
    # curve a one-epoch run has
    for r in rows:
        trace = r.get("train_loss_trace") or []
        ax1.plot([r["epoch"] - 1 + (j + 1) / len(trace)
                  for j in range(len(trace))], trace, color="C0", lw=0.8,
                 alpha=0.5, label="train, every 50 batches"
                 if r is rows[0] else None)
    for split in ("train", held):
        ax1.plot(x, [r[f"{split}_loss"] for r in rows], "o-",
                 label=f"{split}, epoch mean" if split == "train" else split)
        ax2.plot(x, [r[f"{split}_acc"] for r in rows], "o-", label=split)
    ax1.set(xlabel="epoch", ylabel="loss", yscale="log")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)")
    spec = STEPS.get(record.get("step", ""))
    mark = record.get("pass_acc") or (spec.pass_acc if spec else None)
    if mark:
        ax2.axhline(mark, color="gray", ls="--", lw=1, label="pass mark")
    accs = [r[f"{split}_acc"] for r in rows for split in ("train", held)]
    if len(rows) == 1:  # one epoch: a point per series, on a 0..1 axis
        for ax in (ax1, ax2):
            ax.set_xlim(0, 1.05)
        for split, acc in (("train", accs[0]), (held, accs[1])):
            ax2.annotate(f"{split} {acc:.2f} %", (1, acc), xytext=(-8, 0),
                         textcoords="offset points", ha="right",
                         va="center")
    # the region that matters: from 2 points under the mark (or the last
    # epoch) up; the first epochs' lower points drop off the bottom
    top = max(accs)
    low = max(min(accs), (mark or rows[-1]["test_acc"]) - 2)
    if len(rows) > 1 and low > min(accs):
        ax2.set_ylim(low, min(100.0, top + 0.3))
        ax2.set_ylabel(f"accuracy (%), from {low:.1f}")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(record.get("title") or
                 f"{record['step']}: {record['params']:,} parameters, "
                 f"final test {record['final_test_acc']:.2f}%")
    return figure.png(fig)
