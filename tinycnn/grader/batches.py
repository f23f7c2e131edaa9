"""The images the checks run a network on: real MNIST training images,
prepared exactly as evaluation feeds them, so that a network cannot tell
the checks' batches from the ones it trains and is evaluated on (random
ones only where MNIST is not on this machine yet)."""

from __future__ import annotations

import functools

import torch

# engine.evaluate's batch: the accuracy is measured at this batch size, so
# the eval-mode rules are checked at it too
EVAL_BATCH = 1000


@functools.cache
def _sample() -> torch.Tensor | None:
    """Real training images, normalised as evaluation feeds them, or None
    where MNIST is not on this machine yet."""
    from tinycnn.train.data import peek
    from tinycnn.train.step import prepare

    raw = peek(2 * EVAL_BATCH)
    return None if raw is None else prepare(raw).cpu()


def images(batch: int, seed: int = 0) -> torch.Tensor:
    """`batch` images as training feeds them (channels_last, normalised),
    in an order drawn under `seed`."""
    g = torch.Generator().manual_seed(seed)
    real = _sample()
    if real is None:
        return torch.randn(batch, 1, 28, 28, generator=g).contiguous(
            memory_format=torch.channels_last)
    pick = torch.randint(len(real), (batch,), generator=g) \
        if batch > len(real) else torch.randperm(len(real), generator=g)[
            :batch]
    return real[pick].contiguous(memory_format=torch.channels_last)
