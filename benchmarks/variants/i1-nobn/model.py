"""Ablation: step i1 without BatchNorm (convs get their bias back)."""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    """3x3 conv -> BatchNorm -> ReLU -> Dropout2d; keeps H x W."""
    # >>> TODO: conv (no bias: BN has one), BN, ReLU, Dropout2d (lesson: "The block")
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(),
        nn.Dropout2d(p_drop),
    )
    # <<<


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.05) -> None:
        super().__init__()
        # >>> TODO: build the layers of the shape table (lesson: "The network")
        self.conv1 = block(1, 12, p_drop)
        self.conv2 = block(12, 16, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = block(16, 20, p_drop)
        self.conv4 = block(20, 24, p_drop)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(24 * 7 * 7, 10)
        # <<<

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        # >>> TODO: run the layers in order (lesson: "The network")
        X = self.conv1(X)          # (B, 12, 28, 28)
        X = self.conv2(X)          # (B, 16, 28, 28)
        X = self.pool1(X)          # (B, 16, 14, 14)
        X = self.conv3(X)          # (B, 20, 14, 14)
        X = self.conv4(X)          # (B, 24, 14, 14)
        X = self.pool2(X)          # (B, 24, 7, 7)
        return self.fc(X.flatten(1))  # (B, 10)
        # <<<


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    # >>> TODO: fill in the shape table (lesson: "Shapes by hand")
    return {
        "conv1": (12, 28, 28),
        "conv2": (16, 28, 28),
        "pool1": (16, 14, 14),
        "conv3": (20, 14, 14),
        "conv4": (24, 14, 14),
        "pool2": (24, 7, 7),
        "fc": (10,),
    }
    # <<<
