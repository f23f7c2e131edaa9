"""Grade one submission as an autograder does.

    python -m tinycnn.autograde --step i3 --submission DIR --results FILE
                                [--structure]

DIR holds the student's `model.py` and `train.py` (a file that is missing
is the step's skeleton). This copy of the course grades them with its own
checks/ and tinycnn/, never with anything the submission brings: the two
files are copied into a private folder, graded with `--retrain` (no run
record reused) on the CPU, the learner's code in the sandbox (sandbox.py),
run records in a fresh folder. FILE (Gradescope's results.json format) is
written only after the grader has exited and every process the submission
started is gone, and nothing else writes it. `--structure` skips training;
`--strict` exits 1 unless every check passed (a CI job's verdict), else
the exit status is 0 (the score is in FILE).

Gradescope's `run_autograder` and the GitHub Classroom workflow call this.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tinycnn.course import LEARNER_FILES, STEPS
from tinycnn.paths import ROOT, write_atomic
from tinycnn.sandbox import child

MAX_FILE = 5 << 20  # bytes of model.py or train.py


def submission(src: Path, dest: Path, step: str) -> list[str]:
    """Copy the two files (plain files only) into `dest`; the skeleton
    stands in for a missing one. Returns what was substituted."""
    from tinycnn.learner.workspace import skeleton

    dest.mkdir(parents=True)
    missing = []
    for name in LEARNER_FILES:
        path = src / name
        if path.is_file() and not path.is_symlink() and \
                path.stat().st_size <= MAX_FILE:
            shutil.copyfile(path, dest / name)
        else:
            (dest / name).write_text(skeleton(step)[name], encoding="utf-8")
            missing.append(name)
    return missing


def stopped(rc: int) -> str:
    """'exit status 2', or 'killed by SIGKILL: most likely ...'."""
    import signal

    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.valid_signals() \
            else f"signal {-rc}"
        why = (": most likely out of memory (the machine's or its "
               "container's limit)" if -rc == signal.SIGKILL else "")
        return f"killed by {name}{why}"
    return f"exit status {rc}"


def _bounded(env: dict):
    """The grader's own memory limit (RLIMIT_DATA), as a preexec_fn: its
    checks stay within the budget (sizes.py), and an allocation past it
    fails inside a check, which reports it, instead of waking a
    container's out-of-memory killer. POSIX only."""
    if os.name != "posix":
        return None
    import resource

    from tinycnn.grader.budget import memory_bytes

    limit = memory_bytes(env) + (2 << 30)  # Python, torch and MNIST

    def limit_data() -> None:
        hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))

    return limit_data


def failed_results(why: str, step: str) -> dict:
    return {"score": 0.0, "output": why, "tests": [{
        "name": "grading", "status": "failed", "score": 0.0,
        "max_score": 1.0, "output": why}],
        "leaderboard": [], "extra_data": {"tinycnn": {step: {}}}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinycnn.autograde")
    p.add_argument("--step", required=True, choices=list(STEPS))
    p.add_argument("--submission", required=True, type=Path)
    p.add_argument("--results", required=True, type=Path)
    p.add_argument("--structure", action="store_true",
                   help="structure checks only (no training)")
    p.add_argument("--strict", action="store_true",
                   help="exit status 1 unless every check passed (CI)")
    p.add_argument("--time-budget", type=float, metavar="MIN",
                   help="minutes training may take (default: the step's; "
                        "TINYCNN_TIME_BUDGET_MIN)")
    p.add_argument("--memory-gb", type=float, metavar="GB",
                   help="memory a network's checks and training may use "
                        "(default: 3/4 of the machine's, at most 8; "
                        "TINYCNN_MEMORY_GB)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tinycnn-autograde-"))  # 0700
    try:
        impl = work / "impl"
        missing = submission(args.submission, impl / args.step, args.step)
        if missing:
            print(f"not submitted, graded as the skeleton: {missing}")
        private = work / "results.json"
        cmd = [sys.executable, "-m", "pytest", f"checks/{args.step}",
               f"--impl={impl}", "--retrain", "--device=cpu",
               "-p", "no:cacheprovider", f"--results={private}",
               *(["-m", "not slow"] if args.structure else [])]
        hide = [str(args.results.resolve().parent), str(
            args.submission.resolve())]
        env = {**os.environ, "TINYCNN_RUNS": str(work / "runs"),
               "TINYCNN_MAP_PICTURE": "0",  # the runs folder goes with work
               "TINYCNN_HIDE": os.pathsep.join(hide)}
        if args.time_budget:
            env["TINYCNN_TIME_BUDGET_MIN"] = str(args.time_budget)
        if args.memory_gb:
            env["TINYCNN_MEMORY_GB"] = str(args.memory_gb)
        rc = subprocess.run(cmd, cwd=ROOT, env=env,
                            preexec_fn=_bounded(env)).returncode
        if child.sweep():
            print("killed processes the submission left behind")
        try:
            body = json.loads(private.read_text(encoding="utf-8"))
            if not isinstance(body, dict) or "tests" not in body:
                raise ValueError
        except (OSError, ValueError):
            body = failed_results(f"The grader stopped ({stopped(rc)}) "
                                  "before it wrote a score; see its log.",
                                  args.step)
        else:
            if rc not in (0, 1):  # pytest's own: all passed, some failed
                body["output"] = (f"{body.get('output', '')}\nThe grader "
                                  f"stopped ({stopped(rc)}); the checks it "
                                  "had not finished are marked so.").strip()
        write_atomic(args.results, json.dumps(body, indent=1).encode())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    full = all(t.get("status") == "passed" for t in body["tests"])
    return 1 if args.strict and not full else 0


if __name__ == "__main__":
    sys.exit(main())
