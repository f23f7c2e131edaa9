"""i4 from the exercise and hints: unpadded blocks, one pool, GAP."""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout2d(0.02)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.drop(torch.relu(self.bn(self.conv(X))))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            Block(1, 8), Block(8, 12), Block(12, 16),   # 28 -> 22
            nn.MaxPool2d(2),                            # 11
            Block(16, 10, k=1),
            Block(10, 12), Block(12, 14), Block(14, 17),  # 11 -> 5
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(17, 10, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.gap(self.body(X))).flatten(1)


def layer_shapes() -> dict[str, tuple[int, ...]]:
    return {"body.0": (8, 26, 26), "body.1": (12, 24, 24),
            "body.2": (16, 22, 22), "body.3": (16, 11, 11),
            "body.4": (10, 11, 11), "body.5": (12, 9, 9),
            "body.6": (14, 7, 7), "body.7": (17, 5, 5), "gap": (17, 1, 1),
            "head": (10, 1, 1)}
