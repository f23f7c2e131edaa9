"""Step i2: 1x1 transition convs after each pool shrink the linear head."""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    """3x3 conv -> BatchNorm -> ReLU -> Dropout2d; keeps H x W."""
    raise NotImplementedError('TODO(i2): conv (no bias: BN has one), BN, ReLU, Dropout2d (lesson: "The block")')


def transition(c_in: int, c_out: int) -> nn.Sequential:
    """1x1 conv -> BatchNorm -> ReLU: mixes channels, keeps H x W."""
    raise NotImplementedError('TODO(i2): a 1x1 conv with BN and ReLU (lesson: "Transitions")')


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.02) -> None:
        super().__init__()
        raise NotImplementedError('TODO(i2): build the layers of the shape table (lesson: "The network")')

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('TODO(i2): run the layers in order (lesson: "The network")')


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    raise NotImplementedError('TODO(i2): fill in the shape table (lesson: "Shapes by hand")')
