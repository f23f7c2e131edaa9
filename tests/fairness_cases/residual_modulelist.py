# step: i3
# A residual network whose blocks live in an nn.ModuleList and run in a
# loop; the add skips each pair of convs at 14x14 and 7x7.
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout2d(0.05)

    def forward(self, x):
        return self.drop(F.relu(self.bn(self.conv(x))))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Block(1, 12)
        self.mid = nn.ModuleList([Block(12, 12), Block(12, 12)])
        self.widen = Block(12, 20)
        self.late = nn.ModuleList([Block(20, 20), Block(20, 20)])
        self.head = nn.Conv2d(20, 10, 1)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)          # 12x14x14
        skip = x
        for block in self.mid:
            x = block(x)
        x = F.max_pool2d(x + skip, 2)              # 12x7x7
        x = self.widen(x)
        skip = x
        for block in self.late:
            x = block(x)
        x = (x + skip).mean((2, 3), keepdim=True)
        return self.head(x).flatten(1)


def layer_shapes():
    return {
        "stem.conv": (12, 28, 28),
        "pool 1": (12, 14, 14),
        "mid.0.conv": (12, 14, 14),
        "mid.1.conv": (12, 14, 14),
        "pool 2": (12, 7, 7),
        "widen.conv": (20, 7, 7),
        "late.0.conv": (20, 7, 7),
        "late.1.conv": (20, 7, 7),
        "the average": (20, 1, 1),
        "head": (10, 1, 1),
    }
