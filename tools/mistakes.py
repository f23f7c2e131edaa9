"""Deliberately broken versions of the i3 reference, one mistake each.

The project's tests prove that each fails exactly the grader check named
here (and the two `None` ones fail none); the lessons show what the grader
says about each. An edit is (text in solutions/i3/model.py, replacement).
"""

from __future__ import annotations

from tinycnn.paths import ROOT

BLOCK_BN = "        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n        nn.Dropout2d"
GAP_HEAD = ("        self.gap = nn.AdaptiveAvgPool2d(1)\n"
            "        self.head = nn.Conv2d(16, 10, 1)")

# title: (edits to solutions/i3/model.py, the one check it must fail)
MISTAKES = {
    "no batchnorm": (
        [(BLOCK_BN, "        nn.ReLU(),\n        nn.Dropout2d"),
         ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
          "        nn.ReLU(),\n    )")],
        "batchnorm"),
    "batchnorm never called": (
        [(BLOCK_BN, "        nn.ReLU(),\n        nn.Dropout2d"),
         ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
          "        nn.ReLU(),\n    )"),
         ("        self.pool1 = nn.MaxPool2d(2)\n",
          "        self.pool1 = nn.MaxPool2d(2)\n"
          "        self.bn = nn.BatchNorm2d(16)\n")],
        "batchnorm"),
    "no dropout": (
        [("p_drop: float = 0.02) -> None", "p_drop: float = 0.0) -> None")],
        "dropout"),
    "linear head over flattened 7x7": (
        [("block(28, 16, p_drop)", "block(28, 8, p_drop)"),
         (GAP_HEAD, "        self.fc = nn.Linear(8 * 7 * 7, 10)"),
         ("        X = self.gap(X)            # (B, 16, 1, 1)\n"
          "        return self.head(X).flatten(1)",
          "        return self.fc(X.flatten(1))"),
         ('"conv5": (16, 7, 7),\n        "gap": (16, 1, 1),\n'
          '        "head": (10, 1, 1),',
          '"conv5": (8, 7, 7),\n        "fc": (10,),')],
        "gap"),
    "global max pool": (
        [("nn.AdaptiveAvgPool2d(1)", "nn.AdaptiveMaxPool2d(1)")],
        "gap"),
    "20,001 parameters": (
        [("        self.pool1 = nn.MaxPool2d(2)\n",
          "        self.pool1 = nn.MaxPool2d(2)\n"
          "        self.extra = nn.Parameter(torch.zeros(20_001 - 17_154))\n")],
        "params"),
    "wrong shape table": (
        [('"trans1": (12, 14, 14)', '"trans1": (12, 7, 7)')],
        "shapes"),
    "wrong output shape": (
        [("nn.Conv2d(16, 10, 1)", "nn.Conv2d(16, 9, 1)"),
         ('"head": (10, 1, 1)', '"head": (9, 1, 1)')],
        "output"),
    "functional F.dropout passes": (
        [("p_drop: float = 0.02) -> None", "p_drop: float = 0.0) -> None"),
         ("        return self.head(X).flatten(1)",
          "        X = nn.functional.dropout(X, 0.1, self.training)\n"
          "        return self.head(X).flatten(1)")],
        None),
    "GAP then Linear(C, 10) passes": (
        [("self.head = nn.Conv2d(16, 10, 1)", "self.head = nn.Linear(16, 10)"),
         ("return self.head(X).flatten(1)", "return self.head(X.flatten(1))"),
         ('"head": (10, 1, 1)', '"head": (10,)')],
        None),
}


def apply(edits: list[tuple[str, str]]) -> str:
    """solutions/i3/model.py with `edits` made; fails loudly if one is stale."""
    src = (ROOT / "solutions/i3/model.py").read_text()
    for old, new in edits:
        if old not in src:
            raise ValueError(f"stale edit, text not found: {old!r}")
        src = src.replace(old, new)
    return src
