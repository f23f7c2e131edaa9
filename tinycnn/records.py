"""Run records: what a training run did, written so a crash leaves none.

A record is a folder: `model.pt` (a state_dict), `curves.png` and, written
last, `record.json`. Only a folder with `record.json` counts as a record.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import torch
from torch import nn

from tinycnn.data import write_atomic

RECORD, WEIGHTS, CURVES = "record.json", "model.pt", "curves.png"


def invalidate(out: Path) -> None:
    """Drop the old record first: an interrupted run leaves no record."""
    (Path(out) / RECORD).unlink(missing_ok=True)


def save(out: Path, record: dict, model: nn.Module) -> None:
    out = Path(out)
    buf = io.BytesIO()
    state = {k: v.detach().cpu().contiguous() for k, v in
             model.state_dict().items()}
    torch.save(state, buf)
    write_atomic(out / WEIGHTS, buf.getvalue())
    write_atomic(out / CURVES, plot_curves(record))
    write_atomic(out / RECORD, json.dumps(record, indent=1).encode())


def load(out: Path) -> tuple[dict, dict] | None:
    """(record, state_dict), or None when there is no complete record."""
    out = Path(out)
    try:
        record = json.loads((out / RECORD).read_text())
        state = torch.load(out / WEIGHTS, map_location="cpu",
                           weights_only=True)
    except (OSError, ValueError, RuntimeError, EOFError,
            pickle.UnpicklingError):
        return None
    return record, state


def plot_curves(record: dict) -> bytes:
    """Loss and accuracy per epoch, train vs test, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = record["epochs"]
    x = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for split in ("train", "test"):
        ax1.plot(x, [r[f"{split}_loss"] for r in rows], "o-", label=split)
        ax2.plot(x, [r[f"{split}_acc"] for r in rows], "o-", label=split)
    ax1.set(xlabel="epoch", ylabel="loss", yscale="log")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)")
    ax2.axhline(99.4, color="gray", ls="--", lw=1)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{record['step']}: {record['params']:,} parameters, "
                 f"final test {record['final_test_acc']:.2f}%")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
