"""Step i4: under 8K parameters."""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float, pad: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=pad, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Dropout2d(p_drop),
    )


def transition(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.05) -> None:
        super().__init__()
        self.conv1 = block(1, 10, p_drop)
        self.conv2 = block(10, 10, p_drop)
        self.conv3 = block(10, 14, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.trans1 = transition(14, 10)
        self.conv4 = block(10, 12, p_drop)
        self.conv5 = block(12, 16, p_drop)
        self.conv6 = block(16, 16, p_drop, pad=0)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(16, 10, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self.conv3(self.conv2(self.conv1(X)))
        X = self.trans1(self.pool1(X))
        X = self.conv6(self.conv5(self.conv4(X)))
        return self.head(self.gap(X)).flatten(1)


def layer_shapes() -> dict[str, tuple[int, ...]]:
    return {}
