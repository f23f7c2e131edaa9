"""Train each step's reference on several seeds: is its pass mark robust?

    python benchmarks/seeds.py                      # every step, seeds 1-5
    python benchmarks/seeds.py --steps solutions/i3 --seeds 1 2 --jobs 2
    python benchmarks/seeds.py --steps i3-ep20     # a variant by its name

Runs go to runs/seeds/. Each result is appended to <out>.jsonl as the run
ends, so a cut-short sweep keeps them; the table (JSON and Markdown, at
--out) covers every run in that log, the last run of a (folder, seed) pair
winning, so sweeps of different steps can share one table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import signal
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tinycnn.course import STEPS as SPECS
from tinycnn.paths import ROOT

if str(ROOT) not in sys.path:  # run as a script: make benchmarks.* importable
    sys.path.insert(0, str(ROOT))


def one_run(folder: str, seed: int, device: str, threads: int) -> dict:
    """Train `folder` (a path, or a variant's name) on one seed."""
    import torch

    from benchmarks.variants import VARIANTS
    from benchmarks.variants import folder as variant_folder
    from tinycnn.grader.trainer import train_step
    from tinycnn.train.device import pick_device
    from tinycnn.train.recipe import Diverged

    torch.set_num_threads(threads)
    variant = VARIANTS.get(folder)
    path = variant_folder(folder) if variant else ROOT / folder
    name = Path(folder).name
    out = ROOT / "runs" / "seeds" / f"{path.parent.name}-{name}"
    row = {"folder": folder, "step": variant.step if variant else name,
           "what": variant.what if variant else "", "seed": seed,
           "platform": platform_label(device), "threads": threads}
    try:
        rec = train_step(path, pick_device(device), seed=seed,
                         out=out / f"s{seed}", progress=False)
    except Diverged as e:  # a result too: the grader fails such a run
        return {**row, "final_test_acc": None, "diverged": str(e)}
    accs = [e["test_acc"] for e in rec["epochs"]]
    if rec.get("path") == "cuda graph":  # other random streams: its own odds
        row["platform"] += ", cuda graph"
    # a result traces to the exact network and recipe that made it
    return {**row,
            "graph_hash": rec["graph_hash"], "recipe": rec["recipe"],
            "params": rec["params"], "epochs": len(accs),
            "final_test_acc": accs[-1], "best_test_acc": max(accs),
            "last3_min": min(accs[-3:]), "wall_s": rec["wall_s"],
            "s_per_epoch": round(rec["wall_s"] / len(accs), 2),
            "device": rec["device"], "precision": rec.get("precision"),
            "path": rec.get("path", "eager")}


def platform_label(device: str) -> str:
    """What the lessons' odds tables group runs by: the machine and the
    precision its runs train in, e.g. "2-core AMD EPYC 9B14 CPU (AVX512,
    no AMX), bf16" or "NVIDIA H200 GPU, fp32"; "fp32 (forced)" where
    TINYCNN_PRECISION overrode the machine's choice."""
    import torch

    from tinycnn.train.device import pick_device
    from tinycnn.train.precision import choose, cpu_flags, cpu_name, forced

    dev = pick_device(device)
    precision = choose(dev)[0]
    if forced():  # not what this machine would pick
        precision += " (forced)"
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} GPU, {precision}"
    if dev.type != "cpu":
        return f"{dev.type}, {precision}"
    amx = "AMX" if "amx_bf16" in cpu_flags() else "no AMX"
    return (f"{os.cpu_count()}-core {cpu_name()} CPU "
            f"({torch.backends.cpu.get_cpu_capability()}, {amx}), {precision}")


def logged(log: Path) -> list[dict]:
    """Every run in the log, one per (folder, seed): the last one wins."""
    rows = {}
    lines = log.read_text().splitlines() if log.exists() else []
    for line in lines:
        r = json.loads(line)
        rows[r["folder"], r["seed"]] = r
    return list(rows.values())


def table(rows: list[dict]) -> str:
    lines = ["| step | params | epochs | seeds | final test acc. per seed | "
             "min | mean | pass mark | passed | s/epoch |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    # a table that grew on two machines keeps each machine's runs apart:
    # the same seed trains differently on another CPU
    mixed = len({r.get("platform") for r in rows}) > 1
    by = {}
    for r in rows:
        key = (f"{r['folder']} on {r.get('platform') or 'an unnamed machine'}"
               if mixed else r["folder"])
        by.setdefault(key, []).append(r)
    for folder, rs in by.items():
        rs.sort(key=lambda r: r["seed"])
        done = [r for r in rs if r["final_test_acc"] is not None]
        accs = [r["final_test_acc"] for r in done]
        # older rows name the variant ("i3g"): its step is the longest
        # step name it starts with (i10's runs are not i1's)
        step = max((s for s in SPECS if rs[0]["step"].startswith(s)), key=len)
        mark = SPECS[step].pass_acc
        ok = sum(a >= mark for a in accs)
        per = ", ".join("diverged" if r["final_test_acc"] is None
                        else f"{r['final_test_acc']:.2f}" for r in rs)
        # a diverged run is the worst of all; the mean is of the others
        low = "diverged" if len(done) < len(rs) else f"{min(accs):.2f}"
        mean = f"{statistics.mean(accs):.2f}" if accs else "-"
        sec = (f"{statistics.mean(r['s_per_epoch'] for r in done):.1f}"
               if done else "-")
        first = done[0] if done else {"params": 0, "epochs": 0}
        lines.append(
            f"| {folder} | {first['params']:,} | {first['epochs']} | "
            f"{len(rs)} | {per} | {low} | {mean} | {mark} | "
            f"{ok}/{len(rs)} | {sec} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", nargs="+",
                   default=[f"solutions/{s}" for s in SPECS])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    p.add_argument("--device", default="cpu")
    p.add_argument("--jobs", type=int, default=1, help="runs at once")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per run (default: cores / jobs)")
    p.add_argument("--out", type=Path,
                   default=ROOT / "benchmarks" / "results" / "seeds-cpu.json")
    args = p.parse_args()
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = args.out.with_suffix(".jsonl")
    jobs = [(f, s) for f in args.steps for s in args.seeds]
    # jobs and threads of this invocation; the log may hold older runs
    meta = {"machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "jobs": args.jobs, "threads": threads}
    ctx = mp.get_context("spawn")  # CUDA and forked workers do not mix
    # a `timeout` or `kill` (SIGTERM) stops the workers too, not just this
    # process: an orphaned worker would train on and skew every timing
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pool = ProcessPoolExecutor(args.jobs, mp_context=ctx)
    try:
        futures = {pool.submit(one_run, f, s, args.device, threads): (f, s)
                   for f, s in jobs}
        for fut in as_completed(futures):
            try:
                row = fut.result()
            except Exception as e:  # report, keep the rest
                f, s = futures[fut]
                print(f"FAILED {f} seed {s}: {type(e).__name__}: {e}")
                continue
            with open(log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            write_table(args.out, meta)  # current even if cut short
            print(f"{row['folder']} seed {row['seed']}: " + (
                f"diverged: {row['diverged']}" if "diverged" in row else
                f"{row['final_test_acc']:.2f}% in {row['wall_s']:.0f}s"),
                flush=True)
    except BaseException:  # Ctrl-C, SIGTERM: the logged runs are kept
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    print(write_table(args.out, meta))


def write_table(out: Path, meta: dict) -> str:
    """The JSON and Markdown tables at `out` from every run in its log;
    returns the Markdown."""
    rows = logged(out.with_suffix(".jsonl"))
    out.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1))
    md = table(rows)
    out.with_suffix(".md").write_text(md + "\n")
    return md


if __name__ == "__main__":
    main()
