"""A sample class for the instructors' class view: i0 submissions written
as learners write them (the fairness suite's generator, tests/designs.py:
five styles, three heads, six ways to average), two of them breaking a
rule, each graded by the real autograder (tinycnn.autograde, the
Gradescope path: learner code sandboxed, trained by the grader).

    python benchmarks/sample_class.py            # all, one after another
    python benchmarks/sample_class.py --only s03 # one of them again

Results go to benchmarks/results/sample-class/<name>/results.json (the
code graded is CLASS below, written by the generator: the same every
time), which
`python -m tinycnn class benchmarks/results/sample-class` reads and the
instructors' page shows (tools/docs.py). i0 is the step whose grade
trains one epoch: a class of fourteen grades in about ten minutes on a
laptop CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from designs import Design, build  # noqa: E402 - the tests' generator

OUT = ROOT / "benchmarks" / "results" / "sample-class"

# (name, design): widths per stage, then how it is written
CLASS = [
    ("s01", Design("i0", ((16, 24), (24, 32), (32,)), style="attributes")),
    ("s02", Design("i0", ((8, 8), (12, 12), (16,)), style="sequential",
                   gap="adaptive")),
    ("s03", Design("i0", ((16, 24), (24, 32), (32,)), style="modulelist",
                   gap="avgpool", head="linear after")),
    ("s04", Design("i0", ((6, 10), (12, 16), (16,)), style="functional",
                   head="1x1 before", table="order")),
    ("s05", Design("i0", ((16, 24), (24, 32), (32,)), style="nested",
                   residual=True, table="names extra")),
    ("s06", Design("i0", ((16, 16), (32, 32), (32,)), style="attributes",
                   depthwise=True, gap="flatten mean")),
    ("s07", Design("i0", ((4, 8), (8, 8), (12,)), style="sequential",
                   order="conv relu bn drop")),
    ("s08", Design("i0", ((12, 24), (24, 32), (40,)), style="modulelist",
                   depthwise=True, gap="sum")),
    ("s09", Design("i0", ((8, 12), (12, 16), (16,)), padded=False,
                   style="functional", gap="mean keepdim")),
    ("s10", Design("i0", ((6, 8), (10, 12), (14,)), style="nested",
                   order="conv bn relu", drop="Dropout")),
    ("s11", Design("i0", ((8, 12), (16, 16), (16,)), style="sequential",
                   pool="function", log_softmax=True)),
    ("s12", Design("i0", ((10, 12), (16, 20), (20,)), style="attributes",
                   transition="none", head="linear after")),
    ("s13", Design("i0", ((8, 12), (16, 16), (16,)), style="modulelist",
                   mutation="over budget")),
    ("s14", Design("i0", ((8, 12), (16, 16), (16,)), style="attributes",
                   mutation="extra epoch")),
]


# the recipe the i0 lesson teaches (a learner copies it); the generator's
# own (lr 0.1, batch 128) is for structure checks, and trains these small
# networks to about 95 % in one epoch
RECIPE = ("from tinycnn import Recipe\n\n\ndef recipe():\n    return Recipe("
          "num_epochs={epochs}, batch_size=32, lr=0.05, momentum=0.9, "
          "schedule=\"onecycle\")\n")


def grade(name: str, design: Design, threads: int) -> dict:
    built = build(design)
    train = RECIPE.format(epochs=1 + (design.mutation == "extra epoch"))
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "submission"
        sub.mkdir()
        (sub / "model.py").write_text(built.model)
        (sub / "train.py").write_text(train)
        out = OUT / name
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, "-m", "tinycnn.autograde",
                        "--step", design.step, "--submission", str(sub),
                        "--results", str(out / "results.json")],
                       cwd=ROOT, env=env, check=True)
    return json.loads((out / "results.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", help="these names only")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    for name, design in CLASS:
        if a.only and name not in a.only:
            continue
        body = grade(name, design, a.threads)
        print(f"{name}: {body['score']:g} of {len(body['tests'])}; "
              f"{body.get('leaderboard')}", flush=True)


if __name__ == "__main__":
    main()
