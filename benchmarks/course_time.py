"""Time `make course` step by step: how long grading a correct solution
takes on this machine, from the command to the grade.

    python benchmarks/course_time.py                # every step
    python benchmarks/course_time.py --steps i0 i4  # some (the file keeps
                                                    #   the other steps' rows)

Runs each step's grader as `make course` does (`pytest checks/iN
--impl=solutions -p no:cacheprovider`, plus `--retrain`: a run record
left by an earlier grade would skip the training a fresh clone does) and
writes benchmarks/results/course-<machine>.json: per step the seconds,
whether every check passed, the accuracy the grader measured and the
precision it trained in. Run it with nothing else on the machine: the
seconds are the point. The lessons and the README print these figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from tinycnn.course import STEPS
from tinycnn.paths import ROOT, run_dir, write_atomic
from tinycnn.train.records import RECORD

if str(ROOT) not in sys.path:  # run as a script: make benchmarks.* importable
    sys.path.insert(0, str(ROOT))


def machine_slug(device) -> str:
    """The file's name part: cpu-amx, cpu-avx512, ..., or the GPU's name."""
    import torch

    from tinycnn.train.precision import cpu_flags

    if device.type == "cuda":
        return torch.cuda.get_device_name(device).split()[-1].lower()
    if device.type != "cpu":
        return device.type
    if "amx_bf16" in cpu_flags():
        return "cpu-amx"
    return f"cpu-{torch.backends.cpu.get_cpu_capability().lower()}"


def grade(step: str) -> dict:
    """One step graded as `make course` grades it, timed."""
    cmd = [sys.executable, "-m", "pytest", f"checks/{step}",
           "--impl=solutions", "-p", "no:cacheprovider", "--retrain"]
    start, wall0 = time.perf_counter(), time.time()
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    seconds = time.perf_counter() - start
    row = {"step": step, "seconds": round(seconds, 1), "passed": rc == 0}
    rec_file = run_dir(ROOT / "solutions" / step) / RECORD
    if rec_file.exists() and rec_file.stat().st_mtime >= wall0:  # this one
        rec = json.loads(rec_file.read_text())
        # what graded, as a seeds-table row has it: the lessons print a
        # time only while the reference is still this network and recipe
        row.update(final_test_acc=rec["final_test_acc"],
                   precision=rec.get("precision"),
                   train_s=rec["wall_s"], epochs=len(rec["epochs"]),
                   graph_hash=rec["graph_hash"], params=rec["params"],
                   recipe=rec["recipe"])
    return row


def main() -> None:
    from benchmarks.seeds import platform_label
    from tinycnn.train.device import pick_device

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", nargs="+", default=list(STEPS))
    p.add_argument("--out", type=Path, default=None,
                   help="default: benchmarks/results/course-<machine>.json")
    args = p.parse_args()
    dev = pick_device()
    out = args.out or ROOT / "benchmarks/results" / \
        f"course-{machine_slug(dev)}.json"
    try:
        rows = json.loads(out.read_text())["steps"] if out.exists() else {}
    except (ValueError, KeyError) as e:
        sys.exit(f"{out} is not a course timing ({e}): move it away or "
                 "pass --out")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    meta = {"platform": platform_label(str(dev))}
    for step in args.steps:
        rows[step] = {**grade(step), "commit": commit,
                      "date": datetime.date.today().isoformat()}
        print(f"{step}: {rows[step]['seconds']:.0f} s, "
              f"{'passed' if rows[step]['passed'] else 'FAILED'}", flush=True)
        # after every step: a run cut short keeps the steps it timed
        write_atomic(out, (json.dumps({"meta": meta, "steps": {
            s: rows[s] for s in STEPS if s in rows}}, indent=1) + "\n"
        ).encode())
    total = sum(r["seconds"] for r in rows.values())
    print(f"{out}: {total / 60:.1f} min in all")


if __name__ == "__main__":
    main()
