"""The one place that decides where tensors live, and how they are laid
out there.

On Apple's GPU (MPS) the engine trains as it does on CUDA, with two
choices made from PyTorch's documentation and issue tracker, not from a
run: no run of this course on a Mac has been made yet.
- fp32, no autocast (precision.choose): MPS autocast exists (fp16; bf16
  from macOS 14), but which is faster for these small nets, and whether
  the references keep their margins in it, is unmeasured.
- NCHW, not channels_last (`memory_format`): MPS convolutions on
  channels_last tensors gave silently wrong results in released torch
  (pytorch/pytorch#180984, 2026: a channel slice of a channels_last
  tensor), and channels_last's gain is measured on CPUs and CUDA only.
The augmentation runs on the device (grid_sample's forward is native on
MPS from torch 2.1, macOS 13.1). An op of a learner's network with no
MPS kernel stops the run with what to do (step.train_step). The probe and
its torch.export always run on the CPU, so a design is judged the same
whatever device trains it.
"""

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


def memory_format(device: torch.device) -> torch.memory_format:
    """How training lays out batches and weights on `device`: channels_last
    (NHWC: faster convolutions in oneDNN and cuDNN) on CPU and CUDA, the
    default NCHW on MPS (see above)."""
    if device.type == "mps":
        return torch.contiguous_format
    return torch.channels_last
