"""fp32 or bf16 autocast for training: whichever is faster on this machine.

bf16 autocast is faster than fp32 on CPUs with a native bf16 path (AMX,
AVX512-BF16; by 8 to 27 % a whole epoch of the references on an AVX-512
EPYC without AMX, benchmarks/train_speed.py) and slower on the many
without one (most laptops). So on a CPU the engine measures both, once
per machine: a few training steps of a small conv net in each precision,
interleaved, and keeps the faster one (bf16 must win by 5 %). The choice
is cached in ~/.cache/tinycnn/precision.json (keyed by CPU model, torch
version and threads) and written into every run record. A measurement
taken while other work holds the cores times the contention, not the
precisions (seen here: 760 vs 784 ms a step instead of about 20, and fp32
cached on a CPU with AMX): then the CPU's flags decide for this run, and
nothing is cached.
`TINYCNN_PRECISION=fp32` or `bf16` overrides it. CUDA and MPS train in
fp32 (CUDA's convs use TF32).
"""

from __future__ import annotations

import json
import os
import platform
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CHOICES = ("fp32", "bf16")
MARGIN = 0.95  # bf16 must take at most 95 % of fp32's time
# the share of its threads' time the timed rounds got, on 2 cores at 2
# threads: 1.0 idle, 0.63 beside one busy process, 0.51 beside two
BUSY = 0.75
_GUESSED: dict[str, tuple[str, str]] = {}  # this process's busy guesses


def autocast(precision: str, device: torch.device):
    """The context a training step's forward runs in."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache() -> Path:
    from tinycnn.paths import cache_dir

    return cache_dir() / "precision.json"


def _key() -> str:
    return (f"{cpu_name()} | {torch.backends.cpu.get_cpu_capability()} | "
            f"torch {torch.__version__} | {torch.get_num_threads()} threads")


def measure(steps: int = 8, batch: int = 64) -> dict[str, float]:
    """Seconds per training step of a small conv net in each precision,
    the best of two interleaved rounds (so a busy moment hits both), and
    "cpu_share": the CPU time it got over wall time x threads."""
    torch.manual_seed(0)

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU()]

    net = nn.Sequential(*block(1, 16), *block(16, 16), nn.MaxPool2d(2),
                        *block(16, 28), *block(28, 28), nn.MaxPool2d(2),
                        *block(28, 16), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, 10)
                        ).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    X = torch.randn(batch, 1, 28, 28).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    cpu = torch.device("cpu")

    def run(precision: str, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            with autocast(precision, cpu):
                loss = F.cross_entropy(net(X).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return (time.perf_counter() - t0) / max(n, 1)

    best = {p: float("inf") for p in CHOICES}
    for p in CHOICES:
        run(p, 2)  # warm-up: first-call costs are not the step time
    # after the warm-up: its kernel compiles run on one thread
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(2):
        for p in CHOICES:
            best[p] = min(best[p], run(p, steps))
    share = (time.process_time() - cpu0) / (
        (time.perf_counter() - wall0) * torch.get_num_threads())
    return {**best, "cpu_share": share}


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them; empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16() -> bool:
    """Whether the CPU says it has a bf16 path (AMX or AVX512-BF16): the
    guess where the machine is too busy to measure."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def forced() -> str:
    """The precision TINYCNN_PRECISION sets, or "" where it is unset."""
    name = os.environ.get("TINYCNN_PRECISION", "").strip().lower()
    if name and name not in CHOICES:
        raise ValueError(f"TINYCNN_PRECISION={name!r}: use fp32 or bf16")
    return name


def choose(device: torch.device) -> tuple[str, str]:
    """(precision, why) for training on `device`."""
    if name := forced():
        return name, "set by TINYCNN_PRECISION"
    if device.type != "cpu":
        return "fp32", f"{device.type} trains in fp32"
    path, key = _cache(), _key()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    got = cached.get(key) if isinstance(cached, dict) else None
    if not (isinstance(got, dict) and got.get("precision") in CHOICES):
        if key in _GUESSED:  # one process, one precision
            return _GUESSED[key]
        t = measure()
        share = t.pop("cpu_share", 1.0)
        if share < BUSY:  # timed the other work: guess, measure next run
            native = native_bf16()
            _GUESSED[key] = ("bf16" if native else "fp32", (
                f"the CPU's flags ({'a' if native else 'no'} native bf16 "
                f"path): it was too busy to measure (this process got "
                f"{share:.0%} of its threads' time); measured again next "
                "run"))
            return _GUESSED[key]
        fast = "bf16" if t["bf16"] <= MARGIN * t["fp32"] else "fp32"
        got = {"precision": fast, "ms_per_step": {
            p: round(1000 * s, 2) for p, s in t.items()}}
        try:
            from tinycnn.paths import write_atomic

            cached = cached if isinstance(cached, dict) else {}
            write_atomic(path, json.dumps({**cached, key: got},
                                          indent=1).encode())
        except OSError:
            pass  # measured again next time: a second or two
    ms = got.get("ms_per_step", {})
    why = (f"faster on this CPU: bf16 {ms.get('bf16')} vs fp32 "
           f"{ms.get('fp32')} ms per test step")
    return got["precision"], why
