"""i1 from the exercise and hints: i0's layout, each conv a block."""

import torch
from torch import nn


def block(c_in: int, c_out: int, p_drop: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Dropout2d(p_drop),
    )


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.05) -> None:
        super().__init__()
        self.c1 = block(1, 8, p_drop)
        self.c2 = block(8, 12, p_drop)
        self.p1 = nn.MaxPool2d(2)
        self.c3 = block(12, 16, p_drop)
        self.c4 = block(16, 20, p_drop)
        self.p2 = nn.MaxPool2d(2)
        self.out = nn.Linear(20 * 7 * 7, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self.p1(self.c2(self.c1(X)))
        X = self.p2(self.c4(self.c3(X)))
        return self.out(torch.flatten(X, 1))


def layer_shapes() -> dict[str, tuple[int, ...]]:
    return {"c1": (8, 28, 28), "c2": (12, 28, 28), "p1": (12, 14, 14),
            "c3": (16, 14, 14), "c4": (20, 14, 14), "p2": (20, 7, 7),
            "out": (10,)}
