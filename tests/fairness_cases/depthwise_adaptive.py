# step: i3
# Depthwise-separable convs (a grouped 3x3, then a 1x1) after a plain
# first conv, an nn.AdaptiveAvgPool2d head declared as (10, 1, 1).
from torch import nn


def separable(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout2d(0.03))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
            nn.ReLU(), nn.Dropout2d(0.03),
            separable(16, 32), nn.MaxPool2d(2),
            separable(32, 48), separable(48, 48), nn.MaxPool2d(2),
            separable(48, 64), separable(64, 64))
        self.head = nn.Sequential(nn.Conv2d(64, 10, 1), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten())

    def forward(self, x):
        return self.head(self.features(x))


def layer_shapes():
    return {
        "features.0": (16, 28, 28),
        "features.4.0": (16, 28, 28),
        "features.4.1": (32, 28, 28),
        "features.5": (32, 14, 14),
        "features.6.0": (32, 14, 14),
        "features.6.1": (48, 14, 14),
        "features.7.0": (48, 14, 14),
        "features.7.1": (48, 14, 14),
        "features.8": (48, 7, 7),
        "features.9.0": (48, 7, 7),
        "features.9.1": (64, 7, 7),
        "features.10.0": (64, 7, 7),
        "features.10.1": (64, 7, 7),
        "head.0": (10, 7, 7),
        "head.1": (10, 1, 1),
    }
