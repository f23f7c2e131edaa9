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
    # >>> TODO: as in i3, but the conv has no padding (lesson: "Unpadded convs")
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, bias=False),
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
    def __init__(self, p_drop: float = 0.01) -> None:
        super().__init__()
        # >>> TODO: build the layers of the shape table (lesson: "The network")
        self.conv1 = block(1, 8, p_drop)
        self.conv2 = block(8, 8, p_drop)
        self.conv3 = block(8, 12, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.trans1 = transition(12, 8)
        self.conv4 = block(8, 14, p_drop)
        self.conv5 = block(14, 16, p_drop)
        self.conv6 = block(16, 20, p_drop)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(20, 10, 1)
        # <<<

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        # >>> TODO: run the layers in order (lesson: "The network")
        X = self.conv1(X)          # (B, 8, 26, 26)
        X = self.conv2(X)          # (B, 8, 24, 24)
        X = self.conv3(X)          # (B, 12, 22, 22)
        X = self.pool1(X)          # (B, 12, 11, 11)
        X = self.trans1(X)         # (B, 8, 11, 11)
        X = self.conv4(X)          # (B, 14, 9, 9)
        X = self.conv5(X)          # (B, 16, 7, 7)
        X = self.conv6(X)          # (B, 20, 5, 5)
        X = self.gap(X)            # (B, 20, 1, 1)
        return self.head(X).flatten(1)  # (B, 10)
        # <<<


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    # >>> TODO: fill in the shape table (lesson: "Shapes by hand")
    return {
        "conv1": (8, 26, 26),
        "conv2": (8, 24, 24),
        "conv3": (12, 22, 22),
        "pool1": (12, 11, 11),
        "trans1": (8, 11, 11),
        "conv4": (14, 9, 9),
        "conv5": (16, 7, 7),
        "conv6": (20, 5, 5),
        "gap": (20, 1, 1),
        "head": (10, 1, 1),
    }
    # <<<
