"""Step i2: 1x1 transition convs after each pool shrink the linear head."""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    """3x3 conv -> BatchNorm -> ReLU -> Dropout2d; keeps H x W."""
    # >>> TODO: conv (no bias: BN has one), BN, ReLU, Dropout2d (lesson: "The block")
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Dropout2d(p_drop),
    )
    # <<<


def transition(c_in: int, c_out: int) -> nn.Sequential:
    """1x1 conv -> BatchNorm -> ReLU: mixes channels, keeps H x W."""
    # >>> TODO: a 1x1 conv with BN and ReLU (lesson: "Transitions")
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )
    # <<<


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.02) -> None:
        super().__init__()
        # >>> TODO: build the layers of the shape table (lesson: "The network")
        self.conv1 = block(1, 12, p_drop)
        self.conv2 = block(12, 16, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.trans1 = transition(16, 12)
        self.conv3 = block(12, 20, p_drop)
        self.conv4 = block(20, 24, p_drop)
        self.pool2 = nn.MaxPool2d(2)
        self.trans2 = transition(24, 20)
        self.fc = nn.Linear(20 * 7 * 7, 10)
        # <<<

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        # >>> TODO: run the layers in order (lesson: "The network")
        X = self.conv1(X)          # (B, 12, 28, 28)
        X = self.conv2(X)          # (B, 16, 28, 28)
        X = self.pool1(X)          # (B, 16, 14, 14)
        X = self.trans1(X)         # (B, 12, 14, 14)
        X = self.conv3(X)          # (B, 20, 14, 14)
        X = self.conv4(X)          # (B, 24, 14, 14)
        X = self.pool2(X)          # (B, 24, 7, 7)
        X = self.trans2(X)         # (B, 20, 7, 7)
        return self.fc(X.flatten(1))  # (B, 10)
        # <<<


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    # >>> TODO: fill in the shape table (lesson: "Shapes by hand")
    return {
        "conv1": (12, 28, 28),
        "conv2": (16, 28, 28),
        "pool1": (16, 14, 14),
        "trans1": (12, 14, 14),
        "conv3": (20, 14, 14),
        "conv4": (24, 14, 14),
        "pool2": (24, 7, 7),
        "trans2": (20, 7, 7),
        "fc": (10,),
    }
    # <<<
