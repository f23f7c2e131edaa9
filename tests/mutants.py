"""A library of models and the verdict each check must give them.

Classes: "legit" designs the graders must pass (the reference, designs
students commonly write for this assignment, functional code); "wrong"
designs that must fail a named check; "tamper" code that tries to change
a verdict; "fault" code that hangs, exits, raises or computes NaN.
Each mutant is graded on the structure checks of its step; every check
not named in `expect` must pass. The bases are written for this project.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from tinycnn.course import CHECKS, STEPS, structure
from tinycnn.paths import ROOT
from tools.mistakes import mistakes

I3 = (ROOT / "solutions/i3/model.py").read_text()
I2 = (ROOT / "solutions/i2/model.py").read_text()
I0 = (ROOT / "solutions/i0/model.py").read_text()
TRAIN = (ROOT / "solutions/i3/train.py").read_text()


def with_epochs(n: int | str) -> str:
    """The i3 reference's train.py asking for `n` epochs (whatever its own
    count is)."""
    src, count = re.subn(r"num_epochs=\d+", f"num_epochs={n}", TRAIN)
    if count != 1:
        raise ValueError("stale edit: no num_epochs=... in solutions/i3")
    return src


TRAIN12, TRAIN1 = with_epochs(12), with_epochs(1)

HEAD = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n"

# An unpadded ERA-style net: ReLU before BN, a 1x1 transition *before* the
# pool, and a 1x1 conv -> GAP -> log_softmax head.
ERA = HEAD + '''
def cbr(c_in, c_out, k=3, pad=0, p=0.05):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=pad, bias=False),
                         nn.ReLU(), nn.BatchNorm2d(c_out), nn.Dropout(p))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(cbr(1, 8), cbr(8, 16))
        self.trans = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False))
        self.pool = nn.MaxPool2d(2, 2)
        self.block2 = nn.Sequential(cbr(8, 12), cbr(12, 16), cbr(16, 16),
                                    cbr(16, 16, pad=1))
        self.head = nn.Conv2d(16, 10, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.block1(x)
        x = self.pool(self.trans(x))
        x = self.block2(x)
        x = self.gap(self.head(x))
        x = x.view(-1, 10)
        return F.log_softmax(x, dim=-1)


def layer_shapes():
    return {"c1": (8, 26, 26), "c2": (16, 24, 24), "trans": (8, 24, 24),
            "pool": (8, 12, 12), "c3": (12, 10, 10), "c4": (16, 8, 8),
            "c5": (16, 6, 6), "c6": (16, 6, 6), "head": (10, 6, 6),
            "gap": (10, 1, 1)}
'''

# Functional code: F.batch_norm with its own parameters, F.max_pool2d,
# F.dropout2d, a mean over H x W and an F.linear head.
FUNC = HEAD + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.g1 = nn.Parameter(torch.ones(16))
        self.b1 = nn.Parameter(torch.zeros(16))
        self.register_buffer("m1", torch.zeros(16))
        self.register_buffer("v1", torch.ones(16))
        self.c2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.n2 = nn.BatchNorm2d(16)
        self.t1 = nn.Conv2d(16, 12, 1)
        self.c3 = nn.Conv2d(12, 24, 3, padding=1, bias=False)
        self.n3 = nn.BatchNorm2d(24)
        self.c4 = nn.Conv2d(24, 24, 3, bias=False)
        self.n4 = nn.BatchNorm2d(24)
        self.w = nn.Parameter(torch.randn(10, 24) * 0.1)
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = F.relu(F.batch_norm(self.c1(x), self.m1, self.v1, self.g1,
                                self.b1, self.training))
        x = F.relu(self.n2(self.c2(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.t1(x))
        x = F.dropout2d(F.relu(self.n3(self.c3(x))), 0.05, self.training)
        x = F.max_pool2d(x, 2)
        x = F.relu(self.n4(self.c4(x)))
        x = x.mean((2, 3))
        return F.linear(x, self.w, self.b)


def layer_shapes():
    return {"c1": (16, 28, 28), "c2": (16, 28, 28), "p1": (16, 14, 14),
            "t1": (12, 14, 14), "c3": (24, 14, 14), "p2": (24, 7, 7),
            "c4": (24, 5, 5), "gap": (24,), "fc": (10,)}
'''

# One nn.Sequential for the whole network; the table still lists each layer.
SEQ = HEAD + '''
def cb(c_in, c_out, k=3):
    return [nn.Conv2d(c_in, c_out, k, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU()]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *cb(1, 10), *cb(10, 16), nn.MaxPool2d(2), *cb(16, 10, 1),
            *cb(10, 16), nn.Dropout(0.05), *cb(16, 16), nn.Dropout(0.05),
            *cb(16, 16), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(16, 10))

    def forward(self, x):
        return self.features(x)


def layer_shapes():
    return {"c1": (10, 26, 26), "c2": (16, 24, 24), "pool": (16, 12, 12),
            "t": (10, 12, 12), "c3": (16, 10, 10), "c4": (16, 8, 8),
            "c5": (16, 6, 6), "gap": (16, 1, 1), "fc": (10,)}
'''

# Sequential stages that end in a conv, each followed by BatchNorm outside
# it; the table lists every conv and each stage's output as well.
BLOCKS = HEAD + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
            nn.ReLU(), nn.Dropout2d(0.02),
            nn.Conv2d(16, 16, 3, padding=1, bias=False))
        self.bn1 = nn.BatchNorm2d(16)
        self.pool1 = nn.MaxPool2d(2)
        self.stage2 = nn.Sequential(
            nn.Conv2d(16, 12, 1, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
            nn.Conv2d(12, 24, 3, padding=1, bias=False))
        self.bn2 = nn.BatchNorm2d(24)
        self.pool2 = nn.MaxPool2d(2)
        self.stage3 = nn.Sequential(
            nn.Conv2d(24, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
            nn.ReLU(), nn.Conv2d(16, 10, 1))
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.stage1(x))))
        x = self.pool2(F.relu(self.bn2(self.stage2(x))))
        return self.gap(self.stage3(x)).flatten(1)


def layer_shapes():
    return {
        "stage1.0": (16, 28, 28),
        "stage1.4": (16, 28, 28),
        "stage1": (16, 28, 28),
        "pool1": (16, 14, 14),
        "stage2.0": (12, 14, 14),
        "stage2.3": (24, 14, 14),
        "stage2": (24, 14, 14),
        "pool2": (24, 7, 7),
        "stage3.0": (16, 7, 7),
        "stage3.3": (10, 7, 7),
        "stage3": (10, 7, 7),
        "gap": (10, 1, 1),
    }
'''
# A block that convolves and pools; the table names the block with its
# conv's shape and lists the pool after it under a name of its own.
DOWN = HEAD + '''
class Down(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout2d(0.02)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.drop(F.relu(self.bn(self.conv(x)))))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.down1 = Down(1, 16)
        self.down2 = Down(16, 24)
        self.conv = nn.Conv2d(24, 10, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.gap(self.conv(self.down2(self.down1(x)))).flatten(1)


def layer_shapes():
    return {"down1": (16, 28, 28), "pool1": (16, 14, 14),
            "down2": (24, 14, 14), "pool2": (24, 7, 7), "conv": (10, 7, 7),
            "gap": (10, 1, 1)}
'''
FWD = "        X = self.gap(X)            # (B, 16, 1, 1)\n"
INIT = "        super().__init__()\n"
POOL1 = "        X = self.pool1(X)          # (B, 16, 14, 14)\n"
NO_DROP = ("p_drop: float = 0.02) -> None", "p_drop: float = 0.0) -> None")
# every BatchNorm out of the blocks and transitions, one defined unused
BLOCK_BN = "        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n        nn.Dropout2d"
BN_UNCALLED = [
    (BLOCK_BN, "        nn.ReLU(),\n        nn.Dropout2d"),
    ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
     "        nn.ReLU(),\n    )"),
    ("        self.pool1 = nn.MaxPool2d(2)\n",
     "        self.pool1 = nn.MaxPool2d(2)\n"
     "        self.bn = nn.BatchNorm2d(16)\n")]
RET = "        return self.head(X).flatten(1)  # (B, 10)\n"


def edit(src: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        if old not in src:
            raise ValueError(f"stale edit: {old!r}")
        src = src.replace(old, new)
    return src


@dataclass
class Mutant:
    name: str
    kind: str                       # legit, wrong, tamper, fault
    model: str                      # model.py
    expect: dict[str, str] = field(default_factory=dict)  # check: status
    says: dict[str, str] = field(default_factory=dict)    # check: regex
    step: str = "i3"
    train: str = TRAIN
    hints: dict[str, str] = field(default_factory=dict)   # check: regex


M = Mutant


def crash(name: str, model: str, says: str, step: str = "i3",
          train: str = TRAIN) -> Mutant:
    """Code that fails "builds" (saying `says`), blocking the network's
    checks; the recipe is read before model.py, so epochs still passes."""
    blocked = {c: "blocked" for c in structure(STEPS[step])
               if "builds" in CHECKS[c].after}
    return M(name, "fault", model, {"builds": "failed", **blocked},
             {"builds": says}, step, train)


def in_init(code: str) -> tuple[str, str]:
    """An edit that runs `code` first thing in Net.__init__."""
    return (INIT, INIT + "".join(f"        {line}\n"
                                 for line in code.splitlines()))
PATCH = "import tinycnn.grader.checks as g\n"
BIG = '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 64, 3, padding=1)
        self.bn = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 28 * 28, 10)

    def forward(self, x):
        x = F.dropout(self.bn(self.c(x)).relu(), 0.1, self.training)
        return self.fc(x.flatten(1))
'''
SHAPES_BIG = '\n\ndef layer_shapes():\n    return {"c": (64, 28, 28), "fc": (10,)}\n'
BLOCKED = {c: "blocked" for c in ("params", "batchnorm", "dropout", "gap",
                                  "output", "shapes")}

MUTANTS = [
    # ---------------------------------------------------------- legit
    M("reference i3", "legit", I3),
    M("ERA style: 1x1 before the pool, 1x1 -> GAP -> log_softmax", "legit",
      ERA),
    M("functional: F.batch_norm, F.max_pool2d, mean, F.linear", "legit",
      FUNC),
    M("one nn.Sequential, every layer in the table", "legit", SEQ),
    M("log_softmax after the head", "legit",
      edit(I3, (RET, "        return F.log_softmax(self.head(X).flatten(1),"
                     " dim=1)\n"), ("from torch import nn\n",
                                    "from torch import nn\nimport "
                                    "torch.nn.functional as F\n"))),
    M("F.relu between the last block and the average", "legit",
      edit(I3, (FWD, "        X = self.gap(torch.relu(X))\n"))),
    M("a residual add inside a stage", "legit",
      edit(I3, ("        X = self.conv4(X)          # (B, 28, 14, 14)\n",
                "        X = X + self.conv4(X)\n"))),
    M("nn.LazyConv2d", "legit",
      edit(I3, ("        self.conv1 = block(1, 16, p_drop)\n",
                "        self.conv1 = block(1, 16, p_drop)\n"
                "        self.conv1[0] = nn.LazyConv2d(16, 3, padding=1, "
                "bias=False)\n"))),
    M("MaxPool2d(return_indices=True)", "legit",
      edit(I3, ("self.pool1 = nn.MaxPool2d(2)",
                "self.pool1 = nn.MaxPool2d(2, return_indices=True)"),
           (POOL1,
            "        X, _ = self.pool1(X)\n"))),
    M("mean over the flattened map", "legit",
      edit(I3, (FWD, "        X = X.flatten(2).mean(-1)[:, :, None, None]\n"),
           ('"gap": (16, 1, 1)', '"gap": (16,)'))),
    M("global sum pooling", "legit",
      edit(I3, (FWD, "        X = X.sum((2, 3), keepdim=True)\n"))),
    M("AvgPool2d(7) over a 7x7 map", "legit",
      edit(I3, ("self.gap = nn.AdaptiveAvgPool2d(1)",
                "self.gap = nn.AvgPool2d(7)"))),
    M("GAP, dropout, then Linear(C, 10)", "legit",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Linear(16, 10)"),
           (RET, "        X = nn.functional.dropout(X.flatten(1), 0.1, "
                 "self.training)\n        return self.head(X)\n"),
           ('"head": (10, 1, 1)', '"head": (10,)'))),
    M("element-wise nn.Dropout", "legit",
      edit(I3, ("        nn.Dropout2d(p_drop),", "        nn.Dropout(p_drop),"))),
    M("a Bernoulli mask as dropout", "legit",
      edit(I3, NO_DROP,
           (FWD, "        if self.training:\n            X = X * torch."
                 "bernoulli(torch.full_like(X, 0.9)) / 0.9\n" + FWD))),
    M("ReLU(inplace=True) and GELU", "legit",
      edit(I3, ("        nn.ReLU(),\n        nn.Dropout2d",
                "        nn.GELU(),\n        nn.Dropout2d"),
           ("        nn.ReLU(),\n    )", "        nn.ReLU(inplace=True),\n    )"))),
    M("conv bias kept before BatchNorm", "legit",
      edit(I3, ("nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)",
                "nn.Conv2d(c_in, c_out, 3, padding=1)"))),
    M("depthwise-separable conv4", "legit",
      edit(I3, ("        self.conv4 = block(28, 28, p_drop)\n",
                "        self.conv4 = block(28, 28, p_drop)\n"
                "        self.conv4[0] = nn.Sequential(nn.Conv2d(28, 28, 3, "
                "padding=1, groups=28), nn.Conv2d(28, 28, 1))\n"),
           ('"conv4": (28, 14, 14),',
            '"conv4_dw": (28, 14, 14),\n        "conv4_pw": (28, 14, 14),'))),
    M("dilated conv5", "legit",
      edit(I3, ("        self.conv5 = block(28, 16, p_drop)\n",
                "        self.conv5 = block(28, 16, p_drop)\n"
                "        self.conv5[0] = nn.Conv2d(28, 16, 3, padding=2, "
                "dilation=2, bias=False)\n"))),
    M("shape table with extra entries: BatchNorm, ReLU, Dropout outputs",
      "legit", edit(I3, ('        "conv1": (16, 28, 28),\n',
                         '        "conv1": (16, 28, 28),\n'
                         '        "conv1 bn": (16, 28, 28),\n'
                         '        "conv1 relu": (16, 28, 28),\n'
                         '        "conv1 dropout": (16, 28, 28),\n'),
                        ('        "head": (10, 1, 1),\n',
                         '        "head": (10, 1, 1),\n'
                         '        "flattened": (10,),\n'))),
    M("shape table: one entry per Sequential block that ends in a conv, "
      "and one per conv in it", "legit", BLOCKS),
    M("shape table names a conv-and-pool block by its conv, the pool by "
      "order", "legit", DOWN),
    M("shape table named after the modules, in another order", "legit",
      edit(I3, ('        "conv1": (16, 28, 28),\n', ""),
           ('        "head": (10, 1, 1),\n',
            '        "head": (10, 1, 1),\n        "conv1": (16, 28, 28),\n'),
           ('        "pool1": (16, 14, 14),\n', ""),
           ('        "gap": (16, 1, 1),\n',
            '        "pool1": (16, 14, 14),\n        "gap": (16, 1, 1),\n'))),
    M("one conv module under two names, called twice (weights counted once)",
      "legit", edit(I3, ("        self.conv4 = block(28, 28, p_drop)\n",
                         "        self.conv4 = block(28, 28, p_drop)\n"
                         "        self.again = self.conv4\n"),
                    ("        X = self.conv4(X)          # (B, 28, 14, 14)\n",
                     "        X = self.conv4(X)          # (B, 28, 14, 14)\n"
                     "        X = self.again(X)\n"),
                    ('        "conv4": (28, 14, 14),\n',
                     '        "conv4": (28, 14, 14),\n'
                     '        "conv4, again": (28, 14, 14),\n')),
      says={"params": "^17,154 parameters$"}),
    M("blocks in an nn.ModuleList loop", "legit", edit(
        I3, ("        X = self.conv1(X)          # (B, 16, 28, 28)\n"
             "        X = self.conv2(X)          # (B, 16, 28, 28)\n",
             "        for layer in nn.ModuleList([self.conv1, self.conv2]):\n"
             "            X = layer(X)\n"))),
    M("Gaussian noise besides real dropout", "legit",
      edit(I3, (FWD, "        if self.training:\n            X = X + 0.01 * "
                     "torch.randn_like(X)\n" + FWD))),
    M("i0 reference", "legit", I0, step="i0", train=TRAIN1),
    M("i0 with reshape(B, -1)", "legit",
      edit(I0, ("self.fc(X.flatten(1))", "self.fc(X.reshape(X.size(0), -1))")),
      step="i0", train=TRAIN1),
    M("i2 reference", "legit", I2, step="i2", train=TRAIN12),
    M("i2: transition before the pool (ERA)", "legit",
      edit(ERA, ("cbr(16, 16, pad=1))", "cbr(16, 16, pad=1), cbr(16, 16))"),
           ("x = self.gap(self.head(x))",
            "x = self.gap(self.head(F.max_pool2d(x, 2)))"),
           ('"c6": (16, 6, 6), "head": (10, 6, 6)',
            '"c6": (16, 6, 6), "c7": (16, 4, 4), "p": (16, 2, 2), '
            '"head": (10, 2, 2)')), step="i2", train=TRAIN12),
    M("i2: F.max_pool2d then a 1x1 conv", "legit", FUNC, step="i2",
      train=TRAIN12),
    M("i2: transition after the pool, with BN and ReLU between", "legit",
      edit(I2, (POOL1,
                "        X = torch.relu(self.pool1(X))\n")),
      step="i2", train=TRAIN12),
    # ---------------------------------------------------------- wrong
    M("BatchNorm called, output thrown away", "wrong",
      edit(I3, *BN_UNCALLED, (POOL1,
                              "        X = self.pool1(X)\n        _ = self.bn(X)\n")),
      {"batchnorm": "failed"}),
    M("BatchNorm multiplied by zero", "wrong",
      edit(I3, *BN_UNCALLED, (POOL1,
                              "        X = self.pool1(X)\n"
                              "        X = X + 0 * self.bn(X)\n")),
      {"batchnorm": "failed"}, {"batchnorm": "do not depend"}),
    M("BatchNorm on batch statistics in eval", "wrong",
      edit(FUNC, ("self.b1, self.training)", "self.b1, True)")),
      {"batchnorm": "failed"}, {"batchnorm": "batch's own statistics"}),
    M("BatchNorm without running statistics", "wrong",
      edit(I3, ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
                "        nn.BatchNorm2d(c_out, track_running_stats=False),\n"
                "        nn.ReLU(),\n    )")),
      {"batchnorm": "failed"}),
    M("eval output depends on the batch (centering by batch mean)", "wrong",
      edit(I3, (FWD, "        X = X - X.mean(0, keepdim=True)\n" + FWD)),
      {"batchnorm": "failed"}, {"batchnorm": "depends on the other images"}),
    M("Gaussian noise instead of dropout", "wrong",
      edit(I3, NO_DROP,
           (FWD, "        if self.training:\n            X = X + 0.1 * "
                 "torch.randn_like(X)\n" + FWD)),
      {"dropout": "failed"}, {"dropout": "Gaussian"}),
    M("dropout left on in eval (F.dropout without training)", "wrong",
      edit(I3, NO_DROP,
           (FWD, "        X = nn.functional.dropout(X, 0.1)\n" + FWD)),
      {"dropout": "failed"}, {"dropout": "eval"}),
    M("dropout output thrown away", "wrong",
      edit(I3, NO_DROP,
           (FWD, "        _ = nn.functional.dropout(X, 0.1, self.training)\n"
                 + FWD)),
      {"dropout": "failed"}),
    M("classifier sees the average and the flattened map", "wrong",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Linear(16 + 4 * 49, 10)"),
           (FWD + RET, "        X = torch.cat([self.gap(X).flatten(1), "
                       "X[:, :4].flatten(1)], 1)\n"
                       "        return self.head(X)\n"),
           ('"head": (10, 1, 1)', '"head": (10,)')),
      {"gap": "failed"}, {"gap": "skips the global average"}),
    M("a partial average (2x2) then flatten", "wrong",
      edit(I3, ("self.gap = nn.AdaptiveAvgPool2d(1)",
                "self.gap = nn.AvgPool2d(2)"),
           ("self.head = nn.Conv2d(16, 10, 1)",
            "self.head = nn.Linear(16 * 9, 10)"),
           (RET, "        return self.head(X.flatten(1))\n"),
           ('"gap": (16, 1, 1),\n        "head": (10, 1, 1)',
            '"gap": (16, 3, 3),\n        "head": (10,)')),
      {"gap": "failed"}),
    M("a 7x7 conv reduces the map to 1x1", "wrong",
      edit(I3, ("self.gap = nn.AdaptiveAvgPool2d(1)",
                "self.gap = nn.Conv2d(16, 16, 7, groups=16)")),
      {"gap": "failed"}, {"gap": "kernel covers the map"}),
    M("weights hidden in a buffer", "wrong",
      edit(I3, ("        self.pool1 = nn.MaxPool2d(2)\n",
                "        self.pool1 = nn.MaxPool2d(2)\n        self."
                "register_buffer('w', torch.randn(16, 16, 5, 5))\n"),
           (POOL1,
            "        X = self.pool1(X + nn.functional.conv2d(X, self.w, "
            "padding=2))\n"),
           ('"conv2": (16, 28, 28),', '"conv2": (16, 28, 28), "w": (16, 28, 28),')),
      {"params": "failed"}, {"params": "buffers or constants"}),
    M("weights in a plain tensor attribute", "wrong",
      edit(I3, ("        self.pool1 = nn.MaxPool2d(2)\n",
                "        self.pool1 = nn.MaxPool2d(2)\n"
                "        self.w = torch.randn(16, 16, 5, 5)\n"),
           (POOL1,
            "        X = self.pool1(X + nn.functional.conv2d(X, self.w, "
            "padding=2))\n"),
           ('"conv2": (16, 28, 28),', '"conv2": (16, 28, 28), "w": (16, 28, 28),')),
      {"params": "failed"}),
    M("parameters() overridden to hide a big Linear", "wrong",
      HEAD + BIG + "    def parameters(self, recurse=True):\n"
      "        return iter([])\n" + SHAPES_BIG,
      {"params": "failed", "gap": "failed"}),
    M("shape table of two Sequential rows", "wrong",
      edit(SEQ, (SEQ[SEQ.index("def layer_shapes"):],
                 'def layer_shapes():\n    return {"features": (10,)}\n')),
      {"shapes": "failed"}, {"shapes": "1 entries; your forward runs 9"}),
    M("shape table with an extra entry of the wrong shape", "wrong",
      edit(I3, ('        "conv1": (16, 28, 28),\n',
                '        "conv1": (16, 28, 28),\n'
                '        "conv1 bn": (16, 14, 14),\n')),
      {"shapes": "failed"}, {"shapes": "'conv1 bn' \\(2nd\\): you declared"}),
    M("shape table in another order, one named entry wrong", "wrong",
      edit(I3, ('        "conv1": (16, 28, 28),\n', ""),
           ('        "head": (10, 1, 1),\n',
            '        "head": (10, 1, 1),\n        "conv1": (16, 26, 26),\n')),
      {"shapes": "failed"}, {"shapes": "module conv1 gives \\(16, 28, 28\\)"}),
    M("shape table of blocks only: the convs inside them have no entry",
      "wrong", edit(BLOCKS, *[(f'        "{k}": {v},\n', "") for k, v in (
          ("stage1.0", "(16, 28, 28)"), ("stage1.4", "(16, 28, 28)"),
          ("stage2.0", "(12, 14, 14)"), ("stage2.3", "(24, 14, 14)"),
          ("stage3.0", "(16, 7, 7)"), ("stage3.3", "(10, 7, 7)"))]),
      {"shapes": "failed"}, {"shapes": "6 entries; your forward runs 9"}),
    M("shape table with an int", "wrong",
      edit(I3, ('"conv1": (16, 28, 28)', '"conv1": 16')),
      {"shapes": "failed"}, {"shapes": "tuple of ints"},
      hints={"shapes": r"\(C, H, W\) for a map, \(N,\) for a vector"}),
    M("shape table missing an entry", "wrong",
      edit(I3, ('        "pool2": (28, 7, 7),\n', "")),
      {"shapes": "failed"}),
    M("layer_shapes() returns a list", "wrong",
      edit(I3, ("    return {\n        \"conv1\"", "    return [{\n        \"conv1\""),
           ('        "head": (10, 1, 1),\n    }',
            '        "head": (10, 1, 1),\n    }]')),
      {"shapes": "failed"},
      {"shapes": "non-empty dict.*it returned a list or tuple of 1 items"},
      hints={"shapes": r"returns a dict \{name: shape\}"}),
    M("squeeze() breaks a batch of one", "wrong",
      edit(I3, (RET, "        return self.head(X).squeeze()\n")),
      {"output": "failed"}, {"output": "batch of 1"}),
    M("i1 network handed in as i2: no transition", "wrong",
      (ROOT / "solutions/i1/model.py").read_text(),
      {"transitions": "failed", "params": "failed"}, step="i2",
      train=TRAIN12),
    M("i2: the only 1x1 conv is a classifier after the GAP", "wrong",
      edit(I3, ("        self.trans1 = transition(16, 12)\n", ""),
           ("        X = self.trans1(X)         # (B, 12, 14, 14)\n", ""),
           ("block(12, 28, p_drop)", "block(16, 28, p_drop)"),
           ('        "trans1": (12, 14, 14),\n', "")),
      {"transitions": "failed"}, step="i2", train=TRAIN12),
    M("i2: 1x1 conv called, output thrown away", "wrong",
      edit(I2, ("        X = self.trans1(X)         # (B, 12, 14, 14)\n",
                "        _ = self.trans1(X)\n"),
           ("        X = self.trans2(X)         # (B, 20, 7, 7)\n",
            "        _ = self.trans2(X)\n"),
           ("block(12, 20, p_drop)", "block(16, 20, p_drop)"),
           ("nn.Linear(20 * 7 * 7, 10)", "nn.Linear(24 * 7 * 7, 10)")),
      {"transitions": "failed", "batchnorm": "failed", "params": "failed"},
      step="i2",
      train=TRAIN12),
    M("i3 network handed in as i4", "wrong", I3, {"params": "failed"},
      step="i4", train=with_epochs(15)),
    M("recipe: 21 epochs", "wrong", I3, {"epochs": "failed"},
      {"epochs": "21 epochs"}, train=with_epochs(21)),
    M("recipe: 15.5 epochs", "wrong", I3, {"epochs": "failed"},
      {"epochs": "must be int"},
      train=with_epochs(15.5)),
    M("recipe() returns a dict", "wrong", I3, {"epochs": "failed"},
      {"epochs": "not a tinycnn Recipe"},
      train="def recipe():\n    return {'num_epochs': 15}\n"),
    M("recipe() returns another object", "wrong", I3, {"epochs": "failed"},
      train="from types import SimpleNamespace\n\n\ndef recipe():\n"
            "    return SimpleNamespace(num_epochs=15)\n"),
    M("recipe: unknown optimizer", "wrong", I3, {"epochs": "failed"},
      {"epochs": "optimizer"},
      train=with_epochs("15, optimizer='lion'"),
      hints={"epochs": r"help\(tinycnn\.Recipe\) lists every field"}),
    # ---------------------------------------------------------- tamper
    M("model.py patches the grader and is 500K parameters", "tamper",
      HEAD + PATCH + "g.check_params = lambda *a: 'ok'\n"
      "g.JUDGES.update({k: (lambda *a: 'ok') for k in g.JUDGES})\n"
      + BIG + SHAPES_BIG, {"params": "failed", "gap": "failed"}),
    M("recipe() answers 15 once, 100 after", "tamper", I3,
      train="from tinycnn import Recipe\n_n = []\n\n\ndef recipe():\n"
            "    _n.append(1)\n"
            "    return Recipe(num_epochs=15 if len(_n) == 1 else 100)\n"),
    M("model.py forges the probe's facts, then exits", "tamper",
      "import json, os, sys\n"
      "facts = {'phase': None, 'errors': {}, 'done': True}\n"
      "with open(os.path.join(sys.argv[2], 'facts.json'), 'w') as f:\n"
      "    json.dump(facts, f)\n"
      "os._exit(0)\n" + I3,
      {"builds": "failed", "epochs": "failed", **BLOCKED},
      {"builds": "left no network"}),
    # ---------------------------------------------------------- fault
    crash("endless loop in forward",
          edit(I3, (FWD, "        while True:\n            pass\n" + FWD)),
          "did not finish.*line"),
    crash("os._exit(0) in Net()", edit(I3, in_init("import os\nos._exit(0)")),
          "exit code 0"),
    crash("KeyboardInterrupt raised in forward",
          edit(I3, (FWD, "        raise KeyboardInterrupt\n")),
          "KeyboardInterrupt"),
    crash("sys.exit(3) at import", "import sys\nsys.exit(3)\n" + I3,
          "SystemExit"),
    crash("kills itself with SIGKILL",
          edit(I3, in_init("import os, signal\n"
                           "os.kill(os.getpid(), signal.SIGKILL)")),
          "signal 9"),
    crash("NaN outputs",
          edit(I3, (RET, "        return self.head(X).flatten(1) * "
                         "float('nan')\n")), "NaN"),
    dataclasses.replace(
        crash("forward returns a tuple",
              edit(I3, (RET, "        return self.head(X).flatten(1), X\n")),
              "tuple"),
        hints={"builds": "return only that"}),
    dataclasses.replace(
        crash("stale Linear(1176, 10) after a width change",
              edit(I0, ("nn.Linear(24 * 7 * 7, 10)", "nn.Linear(1176, 10)"),
                   ("nn.Conv2d(16, 24, 3, padding=1)",
                    "nn.Conv2d(16, 20, 3, padding=1)")),
              "mat1 and mat2", step="i0", train=TRAIN1),
        hints={"builds": r"in_features \(1176\) does not match .*980"}),
    M("F.max_pool2d left out of the table", "wrong",
      edit(FUNC, ('"p1": (16, 14, 14),\n            ', "")),
      {"shapes": "failed"},
      {"shapes": r"has 8 entries; your forward runs 9 layers.*max_pool2d "
                 r"in forward.*\(a functional call in forward is a layer "
                 r"too"}),
    dataclasses.replace(
        crash("flatten forgotten after the GAP, a Linear head",
              edit(FUNC, ("x = x.mean((2, 3))",
                          "x = x.mean((2, 3), keepdim=True)")),
              "mat1 and mat2"),
        hints={"builds": r"global average that was not flattened.*"
                         r"X\.flatten\(1\)"}),
    dataclasses.replace(
        crash("a 7x7 map into the Linear, not flattened",
              edit(I0, ("self.fc(X.flatten(1))", "self.fc(X)")),
              "mat1 and mat2", step="i0", train=TRAIN1),
        hints={"builds": r"7 is the width of a map that was not flattened"}),
    crash("X.view(X.size(0), -1) on a channels_last batch",
          edit(I0, ("self.fc(X.flatten(1))",
                    "self.fc(X.view(X.size(0), -1))")),
          "view", step="i0", train=TRAIN1),
    crash("Net() raises", edit(I3, in_init("raise RuntimeError('oops')")),
          "line .*oops"),
    M("layer_shapes() raises", "fault",
      edit(I3, ("    return {\n        \"conv1\"",
                "    1 / 0\n    return {\n        \"conv1\"")),
      {"shapes": "failed"}, {"shapes": "ZeroDivisionError"}),
    M("recipe() raises", "fault", I3, {"epochs": "failed"},
      {"epochs": "KeyError"},
      train="def recipe():\n    return {}['x']\n",
      hints={"epochs": "names the line that failed"}),
    crash("syntax error in model.py", I3 + "\ndef broken(:\n", "SyntaxError"),
    crash("forward decides on a tensor value",
          edit(I3, (FWD, "        if X.sum() > 0:\n            X = X * 2\n"
                         + FWD)), "torch.export"),
    crash("input() in model.py", "input('name? ')\n" + I3, "EOFError"),
    M("train.py fails to import", "fault", I3, {"epochs": "failed"},
      {"epochs": "ModuleNotFoundError"},
      train="import no_such_module\n" + TRAIN,
      hints={"epochs": "names the line that failed"}),
]

# Round 2 (issue 41): designs the new rules must pass, and the routes they
# close. The deep chain: 38 blocks of conv, BN, ReLU and Dropout2d in a
# ModuleList, four ops each (over 150 ops in a row; a copy of the graph
# used to recurse that deep).
DEEP = HEAD + '''
W, N = 6, 38


def block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(), nn.Dropout2d(0.01))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([block(1 if i == 0 else W, W)
                                     for i in range(N)])
        self.head = nn.Conv2d(W, 10, 1)

    def forward(self, x):
        for i, b in enumerate(self.blocks):
            x = b(x)
            if i in (12, 25):
                x = F.max_pool2d(x, 2)
        return self.head(x.mean((2, 3), keepdim=True)).flatten(1)


def layer_shapes():
    out, hw = {}, 28
    for i in range(N):
        out[f"blocks.{i}"] = (W, hw, hw)
        if i in (12, 25):
            hw //= 2
            out[f"pool{i}"] = (W, hw, hw)
    return {**out, "gap": (W, 1, 1), "head": (10, 1, 1)}
'''
# i3's reference with conv2's weights standardised in forward (a few
# numbers written into forward: an eps, the dims)
STANDARDISED = edit(I3, (
    "        X = self.conv2(X)          # (B, 16, 28, 28)\n",
    "        w = self.conv2[0].weight\n"
    "        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), "
    "keepdim=True) + 1e-5)\n"
    "        X = nn.functional.conv2d(X, w, padding=1)\n"
    "        X = self.conv2[3](self.conv2[2](self.conv2[1](X)))\n"),
    ('"conv2": (16, 28, 28)', '"conv2.0": (16, 28, 28)'))
# the weights of conv2 from numbers: a 16-level code book and 2,304 codes
CODES = edit(I3, ("class Net(nn.Module):",
                  "CODES = [(7 * i) % 16 for i in range(2304)]\n\n\n"
                  "class Net(nn.Module):"),
             ("        X = self.conv2(X)          # (B, 16, 28, 28)\n",
              "        g = torch.linspace(-0.3, 0.3, 16).unbind(0)\n"
              "        w = torch.stack([g[c] for c in CODES]).view(16, 16, 3, "
              "3)\n        X = nn.functional.conv2d(X, w, padding=1)\n"
              "        X = self.conv2[3](self.conv2[2](self.conv2[1](X)))\n"),
             ('"conv2": (16, 28, 28)', '"conv2.0": (16, 28, 28)'))
# a 0/1 factor from the batch size: dropout and the GAP head for batches
# of 100 or fewer, neither at the training or the evaluation batch
FACTOR = edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                   "self.head = nn.Conv2d(16, 10, 1)\n"
                   "        self.fc = nn.Linear(16 * 49, 10)"),
              (FWD + RET,
               "        f = torch.tensor(1.0) * (X.shape[0] <= 100)\n"
               "        gap = self.head(self.gap(X)).flatten(1)\n"
               "        return f * gap + (1 - f) * self.fc(X.flatten(1))\n"),
              ('"head": (10, 1, 1),', '"head": (10, 1, 1), "fc": (10,),'))
# batch dependence in eval mode through a size only (no value of the batch
# size enters a computation): a tensor as long as the batch beyond 100
LARGE_ONLY = edit(I3, (FWD, "        k = X.new_ones(max(X.shape[0] - 100, 0))"
                            ".sum()\n"
                            "        X = X + (k > 0) * X.mean(0, keepdim=True)"
                            "\n" + FWD))
# dropout off where training runs (the recipe's batch of 64, not the
# checks' 8), by a size alone
NO_DROP_LARGE = edit(I3, NO_DROP, (
    FWD, "        k = X.new_ones(max(X.shape[0] - 32, 0)).sum()\n"
         "        X = torch.where(k > 0, X, nn.functional.dropout(X, 0.1, "
         "self.training))\n" + FWD))
LS_END = '        "head": (10, 1, 1),\n    }'
MUTANTS += [
    M("a deep chain: 38 blocks in a ModuleList (over 150 ops)", "legit",
      DEEP),
    M("GAP as permute, reshape and a mean over the positions", "legit",
      edit(I3, (FWD + RET,
                "        X = X.permute(0, 2, 3, 1).reshape(X.size(0), -1, 16)"
                ".mean(1)\n"
                "        return self.head(X[:, :, None, None]).flatten(1)\n"),
           ('"gap": (16, 1, 1)', '"gap": (16,)'))),
    M("GAP in two means: over W, then over H", "legit",
      edit(I3, (FWD, "        X = X.mean(3).mean(2)[:, :, None, None]\n"),
           ('"gap": (16, 1, 1)', '"gap": (16,)'))),
    M("a squeeze-excite scale before the GAP", "legit",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Conv2d(16, 10, 1)\n"
                "        self.se = nn.Linear(16, 16)"),
           (FWD, "        s = torch.sigmoid(self.se(X.mean((2, 3))))\n"
                 "        X = X * s[:, :, None, None]\n" + FWD),
           ('"gap": (16, 1, 1),',
            '"se avg": (16,), "se": (16,), "gap": (16, 1, 1),'))),
    M("depthwise conv by a reshape of the batch into channels", "legit",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Conv2d(16, 10, 1)\n"
                "        self.dw = nn.Conv2d(1, 1, 3, padding=1)"),
           (FWD, "        B, C, H, W = X.shape\n"
                 "        X = self.dw(X.reshape(B * C, 1, H, W)).reshape("
                 "B, C, H, W)\n" + FWD),
           ('"gap": (16, 1, 1),', '"dw": (1, 7, 7), "gap": (16, 1, 1),'))),
    M("conv2's weights standardised in forward", "legit", STANDARDISED),
    M("fake GAP: a mean over an axis made by expand", "wrong",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Linear(784, 10)"),
           (FWD + RET, "        Z = X.flatten(1)\n"
                       "        Z = Z.unsqueeze(-1).expand(-1, -1, 2)"
                       ".mean(-1)\n        return self.head(Z)\n"),
           ('"gap": (16, 1, 1),\n        "head": (10, 1, 1)',
            '"head": (10,)')),
      {"gap": "failed", "params": "failed"},
      {"gap": "not a map's positions"}),
    M("fake GAP: a Linear's output reshaped to a map, then averaged",
      "wrong",
      edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                "self.head = nn.Conv2d(16, 10, 1)\n"
                "        self.mix = nn.Linear(784, 784)"),
           (FWD, "        X = self.mix(X.flatten(1)).view(-1, 16, 7, 7)\n"
                 + FWD),
           ('"gap": (16, 1, 1),', '"mix": (784,), "gap": (16, 1, 1),')),
      {"gap": "failed", "params": "failed"}),
    M("fake GAP: channels reshaped into the averaged axis", "wrong",
      edit(I3, (FWD + RET,
                "        X = X.reshape(X.size(0), 49, 16).mean(1)\n"
                "        return self.head(X[:, :, None, None]).flatten(1)\n"),
           ('"gap": (16, 1, 1)', '"gap": (16,)')),
      {"gap": "failed"}),
    M("conv1's weights built in forward from a code book", "wrong", CODES,
      {"params": "failed"}, {"params": "numbers into its ops"}),
    M("conv4's weights built from numbers alone, over the budget", "wrong",
      edit(I3, ("        X = self.conv4(X)          # (B, 28, 14, 14)\n",
                "        w = torch.arange(7056.0).sin().view(28, 28, 3, 3) * "
                "0.05\n        X = nn.functional.conv2d(X, w, padding=1)\n"
                "        X = self.conv4[3](self.conv4[2](self.conv4[1](X)))\n"),
           ('"conv4": (28, 14, 14)', '"conv4.0": (28, 14, 14)')),
      {"params": "failed"}, {"params": "computed_0"}),
    M("the batch size as a 0/1 factor: GAP only for small batches",
      "wrong", FACTOR, {"builds": "failed", **BLOCKED},
      {"builds": "batch size as a value"}),
    M("eval-mode batch dependence only for batches over 100", "wrong",
      LARGE_ONLY, {"batchnorm": "failed"},
      {"batchnorm": "depends on the other images.*1000"}),
    M("dropout off at the recipe's batch size", "wrong", NO_DROP_LARGE,
      {"dropout": "failed"}, {"dropout": "recipe's batch size"}),
    M("forward reads BatchNorm's step counter", "wrong",
      edit(I3, (FWD, "        X = X * (self.conv5[1].num_batches_tracked "
                     "< 100)\n" + FWD)),
      {"builds": "failed", **BLOCKED},
      {"builds": "changes a tensor in place and reads it"}),
    M("forward returns detached logits", "wrong",
      edit(I3, (RET, "        return self.head(X).flatten(1).detach()\n")),
      {"output": "failed", "batchnorm": "failed", "dropout": "failed"},
      {"output": "carries no gradient"}),
    M("forward returns class indices", "wrong",
      edit(I3, (RET, "        return self.head(X).flatten(1).argmax(1, "
                     "keepdim=True).expand(-1, 10)\n")),
      {"output": "failed", "batchnorm": "failed", "dropout": "failed"},
      {"output": "int64"}),
    M("forward keeps the first 64 rows", "wrong",
      edit(I3, (RET, "        return self.head(X).flatten(1)[:64]\n")),
      {"output": "failed"}, {"output": "batch of 1000"}),
    crash("forward works only on Net()'s own weights",
          edit(I3, ("self.head = nn.Conv2d(16, 10, 1)",
                    "self.head = nn.Conv2d(16, 10, 1)\n"
                    "        self.sel = nn.Parameter(torch.linspace(0, 0.015, "
                    "16))"),
               (FWD, FWD + "        X = X.index_select(1, (self.sel.abs() * "
                           "1000).long())\n")),
          "weights the grader starts from"),
    M("layer_shapes() with a 5,000-digit int", "fault",
      edit(I3, (LS_END, '        "head": (10, 1, 1),\n        "x": (10 ** 5000,),'
                        '\n    }')),
      {"shapes": "failed"}, {"shapes": "5000 digits"}),
    M("layer_shapes() with a value whose repr raises", "fault",
      edit(I3, ("def layer_shapes()", "class R:\n    def __repr__(self):\n"
                "        raise ValueError\n\n\ndef layer_shapes()"),
           (LS_END, '        "head": (R(),),\n    }')),
      {"shapes": "failed"}, {"shapes": "repr raised"}),
    M("layer_shapes() returns a dict that contains itself", "fault",
      edit(I3, ("    return {\n        \"conv1\"",
                "    d = {}\n    d[\"d\"] = d\n    return d\n"
                "    return {\n        \"conv1\"")),
      {"shapes": "failed"}, {"shapes": "cannot read"}),
    M("recipe: seed 2**64", "wrong", I3, {"epochs": "failed"},
      {"epochs": "seed.*2\\*\\*63"},
      train=with_epochs("20, seed=2 ** 64")),
    M("recipe: batch_size 15000 leaves OneCycle one warm-up step", "wrong",
      I3, {"epochs": "failed"}, {"epochs": "OneCycle"},
      train=with_epochs("1, batch_size=15000").replace(
          "        batch_size=64,\n", "")),
]

# The lessons' "common mistakes" (tools/mistakes.py), made to each step's
# own reference, each with the check it must fail (None: a legitimate
# variant that must pass); a mistake that fails "builds" blocks the
# network's checks. The phrase each failure must name:
SAYS = {"batchnorm": "BatchNorm", "dropout": "dropout|eval",
        "gap": "flattening|maximum", "params": "parameters; i. allows",
        "shapes": "you declared", "output": "expected", "builds": "view",
        "transitions": "no channel-mixing 1x1 conv"}


def expect(step: str, check: str | None) -> dict[str, str]:
    if check == "builds":
        return {"builds": "failed", **{
            c: "blocked" for c in structure(STEPS[step])
            if "builds" in CHECKS[c].after}}
    return {check: "failed"} if check else {}


TRAINS = {s: (ROOT / "solutions" / s / "train.py").read_text() for s in STEPS}
MUTANTS += [
    M(f"{step} mistake: {m.title}", "wrong" if m.check else "legit",
      m.model, expect(step, m.check),
      {m.check: SAYS[m.check]} if m.check else {}, step, TRAINS[step],
      # a wrong class count gets the fix for it, not the flatten hint
      {"output": "9 scores per image.*must be 10"}
      if m.title.startswith("9 classes") else {})
    for step in STEPS for m in mistakes(step)]
