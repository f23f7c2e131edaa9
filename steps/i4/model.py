"""Step i4: under 8,000 parameters with unpadded convs.

Without padding every 3x3 conv trims a pixel from each border, so the maps
shrink on their own: 28 -> 22 before the pool, 11 -> 5 after it. Fewer
pixels per layer buy more layers, and the receptive field still covers
the digit (20 px at conv6; its 5x5 map spans all 28).
"""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    """3x3 conv, no padding -> BatchNorm -> ReLU -> Dropout2d; H, W -= 2."""
    raise NotImplementedError('TODO(i4): as in i3, but the conv has no padding (lesson: "Unpadded convs")')


def transition(c_in: int, c_out: int) -> nn.Sequential:
    """1x1 conv -> BatchNorm -> ReLU: mixes channels, keeps H x W."""
    raise NotImplementedError('TODO(i4): a 1x1 conv with BN and ReLU (lesson: "Transitions")')


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.01) -> None:
        super().__init__()
        raise NotImplementedError('TODO(i4): build the layers of the shape table (lesson: "The network")')

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('TODO(i4): run the layers in order (lesson: "The network")')


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    raise NotImplementedError('TODO(i4): fill in the shape table (lesson: "Shapes by hand")')
