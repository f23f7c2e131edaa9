"""A grade's training and evaluation, in a process of its own that may
use so much memory and so much time, so that every network ends with a
verdict that says what stopped it.

    python -m tinycnn.grader.bounded JOB.json

The grader (checks.check_accuracy) writes the job: where the probe left
the traced network, the recipe, the run's fingerprint, the device, the
budgets (budget.py). The child runs only the course's own code on that
data (never learner code): it reuses this user's signed run of the same
network or trains one (step.train, which writes the record), evaluates
the final weights on the 10,000 test images, and says so on its stdout,
one line per message:

    \\x1etinycnn {"say": "epoch  1 ..."}      a line for the learner
    \\x1etinycnn {"row": {...}}               an epoch's metrics
    \\x1etinycnn {"done": {...}}              the accuracy and the record
    \\x1etinycnn {"fail": {"why": ..., "message": ...}}

Its memory is limited (RLIMIT_DATA: what it allocates, on Linux, with the
CPU as the device; CUDA's own out-of-memory error says the same on a
GPU). Its time: training stops as soon as the estimate after its first
batches is over the budget, or the budget has passed; the parent kills it
a little after that in any case. A child killed from outside (a
container's out-of-memory killer) is reported with its signal.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinycnn.course import duration

MARK = "\x1etinycnn "
BASELINE = 3 << 29  # 1.5 GB: Python, torch and MNIST before any network
GRACE_S = 120       # loading, evaluation and the record, after the budget


@dataclass
class Job:
    folder: str             # the step folder (its run records' name)
    graphs: str             # the probe's output folder: the traced network
    recipe: dict
    fingerprint: dict
    device: str
    step: str
    pass_acc: float
    budget_s: float
    memory: int             # bytes
    retrain: bool = False


@dataclass
class Outcome:
    acc: float | None = None          # evaluated by the child
    last: list[float] = field(default_factory=list)  # last epochs' test
    reused: bool = False
    why: str = ""           # "" when it finished; else what stopped it
    message: str = ""


# ---------------------------------------------------------- the parent


def run(job: Job, say: Callable[[str], None],
        on_row: Callable[[dict], None] | None = None) -> Outcome:
    """Run `job` in a child; relay its lines; return how it ended."""
    with tempfile.TemporaryDirectory(prefix="tinycnn-train-") as tmp:
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(asdict(job)), encoding="utf-8")
        err = open(Path(tmp) / "stderr.txt", "w+b")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinycnn.grader.bounded", str(path)],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
            env=env, text=True, encoding="utf-8", errors="replace")
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines),
                         daemon=True).start()
        deadline = time.monotonic() + job.budget_s + GRACE_S
        outcome = None
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.1, min(
                        5.0, deadline - time.monotonic())))
                except queue.Empty:
                    if time.monotonic() > deadline:
                        _kill(proc)
                        return Outcome(why="time", message=(
                            f"training was stopped at the time budget "
                            f"({duration(job.budget_s)}, plus "
                            f"{GRACE_S} s to load and evaluate)"))
                    continue
                if line is None:
                    break
                if not line.startswith(MARK):
                    continue  # a warning of a library: not for the grade
                try:
                    kind, value = next(iter(json.loads(
                        line[len(MARK):]).items()))
                except (ValueError, StopIteration, AttributeError):
                    continue
                if kind == "say":
                    say(str(value))
                elif kind == "row" and on_row is not None:
                    on_row(value)
                elif kind == "done":
                    outcome = Outcome(acc=value["acc"], last=value["last"],
                                      reused=value["reused"])
                elif kind == "fail":
                    outcome = Outcome(why=value["why"],
                                      message=value["message"])
        finally:
            _kill(proc)
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
            err.close()
        if outcome is not None:
            return outcome
        return Outcome(why="killed", message=_ended(proc.returncode, tail,
                                                    job))


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _ended(rc: int | None, tail: str, job: Job) -> str:
    """Why a child that said nothing more stopped, in a learner's terms."""
    from tinycnn.grader.sizes import human

    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.valid_signals() \
            else f"signal {-rc}"
        why = (" (most likely out of memory: the machine's or its "
               "container's limit, which can be lower than the grader's "
               f"budget of {human(job.memory)})" if -rc == signal.SIGKILL
               else "")
        return f"the training process was killed by {name}{why}"
    last = [ln for ln in tail.splitlines() if ln.strip()]
    said = f": {last[-1][:300]}" if last else ""
    return f"the training process stopped (exit status {rc}){said}"


# ----------------------------------------------------------- the child


def _emit(kind: str, value) -> None:
    sys.stdout.write(MARK + json.dumps({kind: value}) + "\n")
    sys.stdout.flush()


def _limit_memory(job: Job) -> None:
    """RLIMIT_DATA: allocations past it fail with an error this process
    reports (the CPU only: CUDA reserves address space it never uses)."""
    if not job.device.startswith("cpu"):
        return
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = job.memory + BASELINE
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_DATA, (want, hard))


def _memory_error(e: BaseException) -> bool:
    text = f"{type(e).__name__}: {e}"
    return isinstance(e, MemoryError) or any(s in text for s in (
        "can't allocate memory", "CUDA out of memory", "OutOfMemoryError",
        "Cannot allocate memory", "MPS backend out of memory"))


def child(job: Job) -> None:
    """Reuse or train, then evaluate; every outcome on stdout."""
    _limit_memory(job)
    try:
        from tinycnn.grader.trainer import OverBudget, explain

        acc, last, reused = _work(job)
    except BaseException as e:  # every end becomes a verdict
        if isinstance(e, OverBudget):
            _emit("fail", {"why": "time", "message": str(e)})
        elif _memory_error(e):
            from tinycnn.grader.sizes import human

            _emit("fail", {"why": "memory", "message": (
                f"training ran out of memory (the grader's budget is "
                f"{human(job.memory)}): {str(e).splitlines()[0][:200]}")})
        else:
            why, message = explain(e)
            _emit("fail", {"why": why, "message": message})
    else:
        _emit("done", {"acc": acc, "last": last, "reused": reused})


def _work(job: Job) -> tuple[float, list[float], bool]:
    import torch

    from tinycnn.grader import network
    from tinycnn.grader.trainer import StepError, train
    from tinycnn.paths import run_dir
    from tinycnn.train.data import load_mnist
    from tinycnn.train.recipe import Recipe
    from tinycnn.train.step import evaluate

    device = torch.device(job.device)
    recipe = Recipe(**job.recipe)
    out = run_dir(Path(job.folder))
    graphs = network.load(Path(job.graphs), recipe.seed)
    found = reusable(out, job.fingerprint, job.retrain)
    if found is not None:
        record, state = found
        net = network.GradedNet(graphs)
        try:
            net.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError, ValueError) as e:
            raise StepError(f"the checkpoint of the run it would reuse does "
                            f"not fit your network: {str(e).splitlines()[0]}"
                            "; grade again with --retrain") from None
        _emit("say", f"{job.step}: reusing the run of "
                     f"{record.get('finished', '?')} with the same code: "
                     f"{record.get('final_test_acc', 0):.2f}%; --retrain "
                     "to train again")
        reused = True
    else:
        record, net = train(
            Path(job.folder), device, graphs=graphs, recipe=recipe,
            fingerprint=job.fingerprint,
            on_epoch=lambda line: _emit("say", line), progress=False,
            pass_acc=job.pass_acc, on_row=lambda row: _emit("row", row),
            budget_s=job.budget_s)
        reused = False
    _, _, X_test, y_test = load_mnist()
    net.to(device)
    _, acc = evaluate(net, X_test.to(device), y_test.to(device))
    return acc, [r["test_acc"] for r in record["epochs"][-3:]], reused


def reusable(out: Path, fingerprint: dict, retrain: bool
             ) -> tuple[dict, dict] | None:
    """(record, state_dict) of this user's signed run in `out` of the same
    code, graph, weight count, recipe and start (the grader's own draw):
    the graph hash names the layers but not their widths, which code
    outside model.py and train.py (a config file) could change, so the
    weight count must match too. None with `retrain`, or if there is no
    such run."""
    from tinycnn.train import records

    found = None if retrain else records.load(out, signed=True)
    if found is None or any(found[0].get(k) != v
                            for k, v in fingerprint.items()):
        return None
    return found


def _die_with_parent() -> None:
    """Linux: a grader killed (kill -9, a container's limit) takes its
    trainer with it, instead of leaving it to train for nobody."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def main(argv: list[str]) -> int:
    _die_with_parent()
    job = Job(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    child(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
