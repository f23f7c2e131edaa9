"""The one place that decides where tensors live."""

from __future__ import annotations

import os

import torch


def available() -> list[str]:
    """Devices usable here, best first."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def pick_device(name: str | None = None) -> torch.device:
    """`name`, else $TINYCNN_DEVICE, else cuda, then mps, then cpu."""
    name = name or os.environ.get("TINYCNN_DEVICE") or available()[0]
    kind = name.split(":")[0]
    if kind not in available():
        raise ValueError(
            f"device {name!r} is not available here; "
            f"available: {', '.join(available())}"
        )
    return torch.device(name)


def describe(device: torch.device) -> str:
    """One line for logs and run records: device and torch version."""
    what = device.type
    if device.type == "cuda":
        what += f" ({torch.cuda.get_device_name(device)})"
    return f"{what}, torch {torch.__version__}"
