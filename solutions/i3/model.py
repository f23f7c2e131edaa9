"""Step i3: a global-average-pooling head replaces the linear layer.

conv5, a 3x3 conv at 7x7, grows the receptive field the head averages.
"""

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
        self.conv1 = block(1, 16, p_drop)
        self.conv2 = block(16, 16, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.trans1 = transition(16, 12)
        self.conv3 = block(12, 28, p_drop)
        self.conv4 = block(28, 28, p_drop)
        self.pool2 = nn.MaxPool2d(2)
        self.conv5 = block(28, 16, p_drop)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(16, 10, 1)
        # <<<

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        # >>> TODO: run the layers in order (lesson: "The network")
        X = self.conv1(X)          # (B, 16, 28, 28)
        X = self.conv2(X)          # (B, 16, 28, 28)
        X = self.pool1(X)          # (B, 16, 14, 14)
        X = self.trans1(X)         # (B, 12, 14, 14)
        X = self.conv3(X)          # (B, 28, 14, 14)
        X = self.conv4(X)          # (B, 28, 14, 14)
        X = self.pool2(X)          # (B, 28, 7, 7)
        X = self.conv5(X)          # (B, 16, 7, 7)
        X = self.gap(X)            # (B, 16, 1, 1)
        return self.head(X).flatten(1)  # (B, 10)
        # <<<


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    # >>> TODO: fill in the shape table (lesson: "Shapes by hand")
    return {
        "conv1": (16, 28, 28),
        "conv2": (16, 28, 28),
        "pool1": (16, 14, 14),
        "trans1": (12, 14, 14),
        "conv3": (28, 14, 14),
        "conv4": (28, 14, 14),
        "pool2": (28, 7, 7),
        "conv5": (16, 7, 7),
        "gap": (16, 1, 1),
        "head": (10, 1, 1),
    }
    # <<<
