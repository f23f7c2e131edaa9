"""How the shapes check's matcher scales with the number of layers.

    python benchmarks/shape_table_speed.py [--json OUT]

A network of one conv and N parameter-free pools (3x3, stride 1: every
layer the same shape, the matcher's worst case), its layer table given
in forward order, judged by `shape_table.judge` for N = 125 ... 2000.
The graph is exported here as the probe exports it, not probed: only the
matcher is timed. Issue 41 measured the old matcher at 0.4 s for 100 pools, 4.2 s
for 200 and 56 s for 400 (about quartic); the target is 2,000 layers in
at most a second, and a slope of about 2 (entries x ops) or less.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch
import torch.nn.functional as F
from torch import nn

from tinycnn.grader import network as nw
from tinycnn.grader import positions, shape_table, sizes


class Pools(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.c = nn.Conv2d(1, 8, 3, padding=1)

    def forward(self, x):
        x = self.c(x)
        for _ in range(self.n):
            x = F.max_pool2d(x, 3, 1, 1)
        return x.mean((2, 3))


def graph(n: int) -> nw.Graph:
    X = torch.randn(4, 1, 28, 28)
    gm = torch.export.export(Pools(n).eval(), (X,), dynamic_shapes=(
        {0: torch.export.Dim.AUTO},)).module()
    sizes.annotate(gm)
    positions.annotate(gm)
    return nw.Graph("eval", gm)


def timed(n: int, repeat: int = 3) -> float:
    g = graph(n)
    table = [("c", (8, 28, 28))] + [(f"p{i}", (8, 28, 28))
                                    for i in range(n)] + [("gap", (8,))]
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        verdict = shape_table.judge(table, g)
        best = min(best, time.perf_counter() - t0)
        assert verdict.ok, verdict.message
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for n in (125, 250, 500, 1000, 2000):
        rows.append({"layers": n + 2, "seconds": round(timed(n), 4)})
        print(f"{n + 2:5d} layers  {rows[-1]['seconds']:.3f} s", flush=True)
    a, b = rows[0], rows[-1]
    slope = math.log(b["seconds"] / a["seconds"]) / math.log(
        b["layers"] / a["layers"])
    print(f"growth: time ~ layers^{slope:.2f} (2,000 layers: "
          f"{b['seconds']:.2f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"cpu": platform.processor() or platform.machine(),
                       "torch": torch.__version__, "rows": rows,
                       "slope": round(slope, 2)}, f, indent=1)


if __name__ == "__main__":
    main()
