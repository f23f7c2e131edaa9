# step: i4
# Unpadded blocks of a class of their own, one pool; the table names the
# blocks, not the convs inside them, in forward order.
from torch import nn


class Block(nn.Module):
    def __init__(self, c_in, c_out, pad=0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=pad, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout2d(0.01))

    def forward(self, x):
        return self.body(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = Block(1, 8)
        self.b2 = Block(8, 10)
        self.b3 = Block(10, 12)
        self.pool = nn.MaxPool2d(2)
        self.b4 = Block(12, 12)
        self.b5 = Block(12, 14)
        self.b6 = Block(14, 16)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(16, 10, 1)

    def forward(self, x):
        x = self.pool(self.b3(self.b2(self.b1(x))))
        x = self.b6(self.b5(self.b4(x)))
        return self.head(self.gap(x)).flatten(1)


def layer_shapes():
    return {
        "b1": (8, 26, 26),
        "b2": (10, 24, 24),
        "b3": (12, 22, 22),
        "pool": (12, 11, 11),
        "b4": (12, 9, 9),
        "b5": (14, 7, 7),
        "b6": (16, 5, 5),
        "gap": (16, 1, 1),
        "head": (10, 1, 1),
    }
