"""i1 from the exercise and hints: i0's layout, each conv a block."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, p_drop: float = 0.05) -> None:
        super().__init__()
        widths = [1, 8, 12, 16, 20]
        self.c1, self.c2, self.c3, self.c4 = (
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False),
                          nn.BatchNorm2d(b), nn.ReLU(), nn.Dropout2d(p_drop))
            for a, b in zip(widths, widths[1:], strict=False))
        self.p1, self.p2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.out = nn.Linear(20 * 7 * 7, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self.p1(self.c2(self.c1(X)))
        X = self.p2(self.c4(self.c3(X)))
        return self.out(torch.flatten(X, 1))


def layer_shapes() -> dict[str, tuple[int, ...]]:
    return {"c1": (8, 28, 28), "c2": (12, 28, 28), "p1": (12, 14, 14),
            "c3": (16, 14, 14), "c4": (20, 14, 14), "p2": (20, 7, 7),
            "out": (10,)}
