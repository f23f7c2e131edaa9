"""Seconds per training epoch: the seed's pipeline vs the tinycnn engine.

Both train the seed's 14K-parameter net (its layer table, batch 128,
rotation up to 7 degrees) in one process on the same machine:

  seed     torchvision MNIST + DataLoader + PIL RandomRotation/ToTensor/
           Normalize, element-wise nn.Dropout, fp32
  engine   whole set in memory as uint8, batched rotation on the device,
           channels_last, channel-wise Dropout2d; on a CPU timed in both
           fp32 and bf16 autocast, and the precision the engine picks on
           this machine (tinycnn.train.precision) is named

Each is timed over --batches steps after a short warm-up and scaled to
the 469 steps of an epoch. The result names the CPU model and its torch
capability (AVX2, AVX512, AMX...): a timing holds for that CPU only.

--steps i2 i3 also times whole epochs of those references as they train
(their net, batch size, augmentation; the test pass after each epoch,
which runs in fp32 whatever the precision): training steps in fp32 and
bf16 in interleaved rounds, so the ratio is what a run would see.

--compile also times those references eager and under torch.compile
(inductor), end to end for their recipe's epochs, compile included.

--graph (CUDA) also trains those references as a grade does (engine.fit)
for --graph-epochs epochs, eager and replayed as a CUDA graph
(tinycnn/train/graphed.py), and gives each path's capture, first epoch, later
epochs and the whole recipe's run they add up to.

    python benchmarks/train_speed.py [--batches 100] [--device cpu]
                                     [--steps i2 i3] [--compile]
                                     [--graph [--graph-epochs 3]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT
from tinycnn.train.data import MEAN, STD, ensure_mnist, load_mnist
from tinycnn.train.device import describe, pick_device
from tinycnn.train.engine import fit
from tinycnn.train.precision import choose, cpu_name
from tinycnn.train.recipe import Recipe, make_optimizer
from tinycnn.train.step import evaluate, prepare, train_batch

BATCHES_PER_EPOCH = math.ceil(60_000 / 128)


def baseline_net(dropout: type[nn.Module]) -> nn.Sequential:
    """The seed README's layer table, 14K parameters."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(), dropout(0.05)]

    return nn.Sequential(
        *block(1, 16), *block(16, 16), nn.MaxPool2d(2),
        nn.Conv2d(16, 12, 1, bias=False),
        *block(12, 28), *block(28, 28), nn.MaxPool2d(2),
        nn.Conv2d(28, 32, 1, bias=False),
        nn.AdaptiveAvgPool2d(1), nn.Conv2d(32, 10, 1), nn.Flatten())


def time_seed(batches: int, device: torch.device, workers: int) -> float:
    from torchvision import datasets, transforms

    root = ensure_mnist().parent.parent
    tf = transforms.Compose([transforms.RandomRotation(7),
                             transforms.ToTensor(),
                             transforms.Normalize((MEAN,), (STD,))])
    ds = datasets.MNIST(root, train=True, download=False, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True,
                                         num_workers=workers)
    model = baseline_net(nn.Dropout).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    t0 = None
    for n, (X, y) in enumerate(loader, 1):
        if n == 6:
            t0 = time.perf_counter()  # five warm-up steps done
        X, y = X.to(device), y.to(device)
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if n == batches + 5:
            break
    _sync(device)
    return (time.perf_counter() - t0) / batches * BATCHES_PER_EPOCH


def time_engine(data: tuple, batches: int, precision: str) -> float:
    X_train, y_train, _, _ = data
    device = X_train.device
    model = baseline_net(nn.Dropout2d).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return step_seconds(model, opt, X_train, y_train, Recipe(rotation=7),
                        precision, batches) * BATCHES_PER_EPOCH


def step_seconds(model: nn.Module, opt: torch.optim.Optimizer,
                 X_train: torch.Tensor, y_train: torch.Tensor, recipe: Recipe,
                 precision: str, batches: int) -> float:
    """Mean seconds of `batches` training steps by `recipe` (its batch
    size, augmentation and label smoothing), after five warm-up steps."""
    model.train()
    B = recipe.batch_size
    perm = torch.randperm(len(X_train), device=X_train.device)
    for i in range(batches + 5):
        if i == 5:
            _sync(X_train.device)
            t0 = time.perf_counter()
        idx = perm[i * B:(i + 1) * B]
        train_batch(model, opt, prepare(X_train[idx], recipe), y_train[idx],
                    precision, recipe.label_smoothing)
    _sync(X_train.device)
    return (time.perf_counter() - t0) / batches


def time_reference(step: str, data: tuple, batches: int,
                   kinds: tuple[str, ...], rounds: int = 2) -> dict:
    """Seconds per epoch of solutions/<step> as it trains, per precision:
    the best of `rounds` interleaved rounds of `batches` training steps,
    scaled to the epoch, plus one test pass (the same in every precision)."""
    ref = load_step(ROOT / "solutions" / step)
    recipe = ref.train.recipe()
    X_train, y_train, X_test, y_test = data
    device = X_train.device
    per_epoch = math.ceil(len(X_train) / recipe.batch_size)
    torch.manual_seed(0)
    model = ref.model.Net().to(device, memory_format=torch.channels_last)
    opt = make_optimizer(model, recipe)
    best = dict.fromkeys(kinds, math.inf)
    for _ in range(rounds):
        for p in kinds:
            best[p] = min(best[p], step_seconds(model, opt, X_train, y_train,
                                                recipe, p, batches))
    t0 = time.perf_counter()
    evaluate(model, X_test, y_test)
    _sync(device)
    test = time.perf_counter() - t0
    return {"batch_size": recipe.batch_size, "epochs": recipe.num_epochs,
            "test_pass_s": round(test, 1),
            **{f"{p}_s_per_epoch": round(best[p] * per_epoch + test, 1)
               for p in kinds}}


def time_compiled(step: str, data: tuple, batches: int,
                  precision: str) -> dict:
    """solutions/<step> trained eager and under torch.compile (inductor),
    end to end for its recipe's epochs: what a compile costs once (the
    training graph, the epoch's last, smaller batch and the test pass's
    graph) against what it saves on every batch."""
    ref = load_step(ROOT / "solutions" / step)
    recipe = ref.train.recipe()
    X_train, y_train, X_test, y_test = data
    device = X_train.device
    B = recipe.batch_size
    per_epoch = math.ceil(len(X_train) / B)
    last = len(X_train) - (per_epoch - 1) * B
    out = {"precision": precision, "epochs": recipe.num_epochs}
    for kind in ("eager", "compiled"):
        torch.manual_seed(0)
        torch._dynamo.reset()
        model = ref.model.Net().to(device, memory_format=torch.channels_last)
        opt = make_optimizer(model, recipe)
        run = torch.compile(model) if kind == "compiled" else model
        t0 = time.perf_counter()
        first = step_seconds(run, opt, X_train, y_train, recipe, precision, 1)
        once = time.perf_counter() - t0 - first  # 5 warm-up steps
        steady = step_seconds(run, opt, X_train, y_train, recipe, precision,
                              batches)
        t0 = time.perf_counter()
        train_batch(run, opt, prepare(X_train[:last], recipe), y_train[:last],
                    precision, recipe.label_smoothing)
        once += time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(run, X_test, y_test)
        t1 = time.perf_counter()
        evaluate(run, X_test, y_test)
        test = time.perf_counter() - t1
        once += t1 - t0 - test
        epoch = steady * per_epoch + test
        out[kind] = {"first_batches_and_compile_s": round(once, 1),
                     "s_per_epoch": round(epoch, 1),
                     "run_s": round(once + recipe.num_epochs * epoch, 1)}
    return out


def time_graphed(step: str, data: tuple, epochs: int) -> dict:
    """solutions/<step> trained by engine.fit for `epochs` epochs of its
    recipe, eager and as a replayed CUDA graph: the setup before the
    first batch (the capture), the first epoch, the later ones (each with
    its test pass), and the recipe's whole run they add up to."""
    ref = load_step(ROOT / "solutions" / step)
    recipe = ref.train.recipe()
    device = data[0].device
    out = {"epochs": recipe.num_epochs, "epochs_timed": epochs}
    for graph in (False, True):
        torch.manual_seed(0)
        model = ref.model.Net()
        paths: list[str] = []
        t0 = time.perf_counter()
        rows = fit(model, dataclasses.replace(recipe, num_epochs=epochs),
                   data, device, progress=False, graph=graph,
                   on_path=paths.append)
        _sync(device)
        total = time.perf_counter() - t0
        later = [r["seconds"] for r in rows[1:]] or [rows[0]["seconds"]]
        steady = sum(later) / len(later)
        setup = total - sum(r["seconds"] for r in rows)
        out["graph" if graph else "eager"] = {
            "path": paths[0], "setup_s": round(setup, 2),
            "first_epoch_s": round(rows[0]["seconds"], 2),
            "s_per_epoch": round(steady, 2),
            "run_s": round(setup + rows[0]["seconds"]
                           + (recipe.num_epochs - 1) * steady, 1),
            "test_acc": rows[-1]["test_acc"]}
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--device", default=None)
    p.add_argument("--workers", type=int, default=2,
                   help="DataLoader workers for the seed pipeline")
    p.add_argument("--steps", nargs="*", default=[],
                   help="references to time whole epochs of (i2 i3 ...)")
    p.add_argument("--compile", action="store_true", help="also time the "
                   "--steps eager vs torch.compile, end to end, in the "
                   "precision the engine picks")
    p.add_argument("--graph", action="store_true", help="also train the "
                   "--steps as a grade does, eager and as a CUDA graph")
    p.add_argument("--graph-epochs", type=int, default=3)
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    device = pick_device(args.device)
    seed = time_seed(args.batches, device, args.workers)
    picked, why = choose(device)
    kinds = ("fp32", "bf16") if device.type == "cpu" else ("fp32",)
    data = tuple(t.to(device) for t in load_mnist())  # read once, for all
    engine = {p: time_engine(data, args.batches, p) for p in kinds}
    result = {"device": describe(device), "cpu": cpu_name(),
              "capability": torch.backends.cpu.get_cpu_capability(),
              "threads": torch.get_num_threads(),
              "batches_timed": args.batches,
              "seed_s_per_epoch": round(seed, 1),
              **{f"engine_{p}_s_per_epoch": round(t, 1)
                 for p, t in engine.items()},
              "engine_picks": picked, "why": why,
              "engine_s_per_epoch": round(engine[picked], 1),
              "speedup": round(seed / engine[picked], 2),
              "references": {s: time_reference(s, data, args.batches, kinds)
                             for s in args.steps}}
    print(f"{result['cpu']} ({result['capability']}), "
          f"{result['threads']} threads")
    print(f"seed pipeline   {seed:6.1f} s/epoch")
    for p, t in engine.items():
        print(f"engine, {p}    {t:6.1f} s/epoch")
    print(f"the engine picks {picked} here ({why})")
    print(f"speed-up        {seed / engine[picked]:6.2f}x on "
          f"{result['device']}")
    for step, r in result["references"].items():
        times = ", ".join(f"{p} {r[f'{p}_s_per_epoch']:.1f}" for p in kinds)
        print(f"{step} reference, s/epoch: {times} (test pass "
              f"{r['test_pass_s']:.1f} s)")
    if args.graph and device.type != "cuda":
        raise SystemExit("--graph needs CUDA: a graph is CUDA's")
    compared = {  # name: (asked, timer, its two kinds, its one-off cost)
        "compile": (args.compile, lambda s: time_compiled(
            s, data, args.batches, picked), ("eager", "compiled"),
            "first_batches_and_compile_s"),
        "graph": (args.graph, lambda s: time_graphed(
            s, data, args.graph_epochs), ("eager", "graph"), "setup_s")}
    for name, (asked, timer, pair, once) in compared.items():
        if not asked:
            continue
        result[name] = {s: timer(s) for s in args.steps}
        for step, r in result[name].items():
            print(f"{step}, {r['epochs']} epochs in {picked}: " + ", ".join(
                f"{r[k].get('path', k)} {r[k]['run_s']:.0f} s "
                f"({r[k]['s_per_epoch']:.2f} s an epoch, {r[k][once]:.1f} s "
                "once)" for k in pair))
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
