"""Step i0: the baseline. Four 3x3 convs, two max-pools, one linear head."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # >>> TODO: build the layers of the shape table (lesson: "The network")
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(12, 16, 3, padding=1)
        self.conv4 = nn.Conv2d(16, 24, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(24 * 7 * 7, 10)
        # <<<

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        # >>> TODO: the layers in order, ReLU after each conv (lesson: "The network")
        X = self.conv1(X).relu()   # (B, 8, 28, 28)
        X = self.conv2(X).relu()   # (B, 12, 28, 28)
        X = self.pool1(X)          # (B, 12, 14, 14)
        X = self.conv3(X).relu()   # (B, 16, 14, 14)
        X = self.conv4(X).relu()   # (B, 24, 14, 14)
        X = self.pool2(X)          # (B, 24, 7, 7)
        return self.fc(X.flatten(1))  # (B, 10)
        # <<<


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    # >>> TODO: fill in the shape table (lesson: "Shapes by hand")
    return {
        "conv1": (8, 28, 28),
        "conv2": (12, 28, 28),
        "pool1": (12, 14, 14),
        "conv3": (16, 14, 14),
        "conv4": (24, 14, 14),
        "pool2": (24, 7, 7),
        "fc": (10,),
    }
    # <<<
