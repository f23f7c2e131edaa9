"""Probing the course's own models many at a time: one sandboxed child
that imports torch and runs torch.export once on a network of its own
(the imports a first export makes: about 3 of a probe's 4 s), then forks
a probe per model, `workers` at a time.

For the library the course ships (the mutants the tests grade, the
mistakes the lessons show), never for a submission: the models of one
batch run as one uid in one sandbox and could reach each other. A grade
of learner code probes it alone (probe.run). Each model still gets a
fresh process (a fork of one that ran no model code), its own copy of
its folder, its own output and its own timeout, and ends as probe.run's
would, so that a verdict never depends on which way it was probed (a
test compares the two on every fault). Linux only (fork after importing
torch); elsewhere, and for a single model, it is probe.run per model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tinycnn import posix
from tinycnn.sandbox.inside import main
from tinycnn.sandbox.probe import PREFIX, Result, read_result, run

JOBS, STATUS, OUTPUT = "jobs.json", "status.json", "output.txt"


# ------------------------------------------------- the child's side


def serve(jobs_file: str) -> int:
    """In the sandbox: probe every job of `jobs_file`, `workers` at once;
    each one's wait status (or "timeout") goes to STATUS in its folder."""
    import torch

    cfg = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
    timeout, todo = cfg["timeout"], [Path(p) for p in cfg["jobs"]]
    torch.set_num_threads(1)
    _warm(Path(jobs_file).parent)
    running: dict[int, tuple[Path, float]] = {}  # pid: (job, deadline)
    while todo or running:
        while todo and len(running) < cfg["workers"]:
            job = todo.pop(0)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _probe(job, timeout)  # never returns
            running[pid] = (job, time.monotonic() + timeout)
        time.sleep(0.02)
        for pid, (job, deadline) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0 and time.monotonic() < deadline:
                continue
            # its group, timed out or not: what it started dies with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if done == 0:
                os.waitpid(pid, 0)
            (job / STATUS).write_text(json.dumps(
                "timeout" if done == 0 else status), encoding="utf-8")
            del running[pid]
    return 0


def _warm(scratch: Path) -> None:
    """Trace and save a small network of the course's own, as a probe
    would (both modes, channels_last, a batch of any size): the modules
    a first torch.export imports (sympy, networkx, the tracer's tables,
    about 1.5 s) are then loaded once here, not in every fork. A model's
    graphs do not depend on it (test_mutants compares them byte for
    byte with a probe of its own)."""
    import torch
    from torch import nn

    from tinycnn.sandbox import graphfile
    from tinycnn.sandbox.inside import export

    with torch.random.fork_rng(devices=[]):  # a model's import draws as
        # it would in a process of its own
        net = nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4, 10)).to(memory_format=torch.channels_last)
        X = torch.randn(4, 1, 28, 28).contiguous(
            memory_format=torch.channels_last)
        start = {k: v.clone() for k, v in net.state_dict().items()}
        graphs = {}
        for mode in graphfile.MODES:
            getattr(net, mode)()
            net(X)
            graphs[mode] = export(net, X, start).module()
    out = scratch / "warm-up"
    out.mkdir()
    graphfile.write(graphs, out)
    shutil.rmtree(out)


def _probe(job: Path, timeout: float) -> None:
    """The forked child: inside.main, as probe.run's child would
    run it in the job's copy of its folder, writing to its own output."""
    try:
        os.setpgid(0, 0)
        os.chdir(job / "step")
        fd = os.open(job / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        args = [str(job / "step"), str(job / "out"), str(timeout)]
        sys.argv = ["-c", *args]  # what the model sees, as in probe.run
        main(args)
    finally:
        os._exit(70)


# ------------------------------------------------ the parent's side


@contextlib.contextmanager
def probed(folders: list[Path], timeout: float,
           workers: int = 2) -> Iterator[list[Result]]:
    """The probe results of `folders` (the course's own models), in order;
    their files are removed when the block ends."""
    if not posix.LINUX or len(folders) < 2:
        results = []
        try:
            for f in folders:
                results.append(run(f, timeout))
            yield results
        finally:
            for r in results:
                r.remove()
        return
    from tinycnn.sandbox import child
    from tinycnn.sandbox.isolation import workdir

    base = workdir(f"{PREFIX}{os.getpid()}-")
    try:
        top = child.Child(base)
        for p in (top.out, top.home):
            p.mkdir()
        jobs = [child.prepare(f, top.step / str(k)).base
                for k, f in enumerate(folders)]
        (top.step / JOBS).write_text(json.dumps({
            "timeout": timeout, "workers": workers,
            "jobs": [str(j) for j in jobs]}), encoding="utf-8")
        cmd = [sys.executable, "-c", "import sys; from tinycnn.sandbox.probe_many "
               "import serve; sys.exit(serve(sys.argv[1]))",
               str(top.step / JOBS)]
        rounds = -(-len(jobs) // workers)
        done = child.run(cmd, top, timeout * rounds + 60)
        if done.status != 0:
            raise child.SandboxError(
                f"the library's probes ended early ({done.status}): "
                f"{done.output[-1000:]}")
        yield [read_result(child.Child(j), _outcome(j), timeout)
               for j in jobs]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _outcome(job: Path):
    """The job's end as child.run would have told it."""
    from tinycnn.sandbox.child import Outcome

    try:
        status = json.loads((job / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = None
    output = ""
    with contextlib.suppress(OSError):
        output = (job / OUTPUT).read_bytes()[-3000:].decode(errors="replace")
    if status == "timeout":
        return Outcome(None, True, output)
    if not isinstance(status, int):
        return Outcome(None, False, output)
    # an exit code, or -signal: what child.run reports
    return Outcome(os.waitstatus_to_exitcode(status), False, output)
