"""i2 from the exercise and hints: one nn.Sequential, 1x1 transitions."""

import torch
from torch import nn


def cbr(c_in: int, c_out: int, k: int = 3, p: float = 0.05) -> list:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout2d(p)]


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *cbr(1, 10), *cbr(10, 16), nn.MaxPool2d(2), *cbr(16, 10, 1),
            *cbr(10, 20), *cbr(20, 28), nn.MaxPool2d(2), *cbr(28, 12, 1),
        )
        self.classifier = nn.Linear(12 * 7 * 7, 10)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(X).flatten(1))


def layer_shapes() -> dict[str, tuple[int, ...]]:
    return {
        "b1": (10, 28, 28),
        "b2": (16, 28, 28),
        "pool1": (16, 14, 14),
        "t1": (10, 14, 14),
        "b3": (20, 14, 14),
        "b4": (28, 14, 14),
        "pool2": (28, 7, 7),
        "t2": (12, 7, 7),
        "classifier": (10,),
    }
