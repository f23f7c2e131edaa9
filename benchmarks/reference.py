"""Copy the reference run records (runs/solutions/iN) into the repo.

    python solutions/iN/train.py      # for each step, on the machine to record
    python benchmarks/reference.py i0 # -> benchmarks/results/reference-<device>/

Copies the named steps' (default: every step's) record.json, curves.png and
checkpoint, then rewrites the table from every record in that folder.
"""

from __future__ import annotations

import json
import shutil
import sys

from tinycnn.paths import ROOT


def main(steps: list[str]) -> None:
    dest = None
    for rec_file in sorted((ROOT / "runs/solutions").glob("i*/record.json")):
        if steps and rec_file.parent.name not in steps:
            continue
        rec = json.loads(rec_file.read_text())
        kind = rec["device"].split(" ")[0].rstrip(",")
        dest = ROOT / "benchmarks/results" / f"reference-{kind}"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(rec_file, dest / f"{rec['step']}.json")
        shutil.copy(rec_file.with_name("curves.png"), dest / f"{rec['step']}.png")
        shutil.copy(rec_file.with_name("model.pt"), dest / f"{rec['step']}.pt")
    if dest is None:
        sys.exit("no record to copy: run python solutions/iN/train.py first")
    rows = []
    for rec_file in sorted(dest.glob("i*.json")):
        rec = json.loads(rec_file.read_text())
        n = len(rec["epochs"])
        rows.append(
            f"| {rec['step']} | {rec['params']:,} | {n} | "
            f"{rec['recipe']['seed']} | {rec['epochs'][-1]['train_acc']:.2f} | "
            f"{rec['final_test_acc']:.2f} | {rec['wall_s']:.0f} | "
            f"{rec['wall_s'] / n:.1f} | {rec['device']}, "
            f"{rec.get('precision', 'bf16')} |")
    head = ("| step | params | epochs | seed | train acc. % | test acc. % | "
            "wall s | s/epoch | device |\n|---|---:|---:|---:|---:|---:|---:|"
            "---:|---|")
    text = head + "\n" + "\n".join(rows) + "\n"
    (dest / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
