"""A step folder (model.py + train.py) as objects, and how to train one."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import torch

from tinycnn import records
from tinycnn.data import load_mnist
from tinycnn.device import describe, pick_device
from tinycnn.engine import Diverged, Recipe, fit

ROOT = Path(__file__).resolve().parent.parent
FILES = ("model.py", "train.py")


@dataclass
class Step:
    path: Path          # the folder, e.g. steps/i3
    model: ModuleType   # its model.py: Net, layer_shapes
    train: ModuleType   # its train.py: recipe, main

    @property
    def name(self) -> str:  # "i3"
        return self.path.name

    @property
    def run_dir(self) -> Path:  # runs/steps/i3, runs/solutions/i3, ...
        return runs_root() / self.path.parent.name / self.path.name

    def code_hash(self) -> str:
        return code_hash(self.path)


def runs_root() -> Path:
    """Where run records go: $TINYCNN_RUNS, else runs/ in the repo."""
    return Path(os.environ.get("TINYCNN_RUNS", ROOT / "runs"))


def code_hash(folder: Path) -> str:
    """sha256 of the files the learner edits: what a record was made from."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return h.hexdigest()


def _import(path: Path, tag: str) -> ModuleType:
    # a unique module name per file, so steps never shadow each other
    name = f"tinycnn_step_{tag}_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_step(folder: str | Path) -> Step:
    folder = Path(folder).resolve()
    missing = [n for n in FILES if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} has no {', '.join(missing)}")
    tag = hashlib.md5(str(folder).encode()).hexdigest()[:8]
    return Step(folder, _import(folder / "model.py", tag),
                _import(folder / "train.py", tag))


def train_step(step: Step, device: torch.device, seed: int | None = None,
               out: Path | None = None, progress: bool = True,
               num_epochs: int | None = None) -> dict:
    """Train the step's Net by its recipe; write and return the run record."""
    recipe: Recipe = step.train.recipe()
    if seed is not None:
        recipe.seed = seed
    if num_epochs is not None:
        recipe.num_epochs = num_epochs
    out = out or step.run_dir
    records.invalidate(out)  # an interrupted run must leave nothing to reuse
    torch.manual_seed(recipe.seed)
    model = step.model.Net()
    params = sum(p.numel() for p in model.parameters())
    print(f"{step.name}: {params:,} parameters, {recipe.num_epochs} epochs "
          f"on {describe(device)}", flush=True)

    def log(row: dict) -> None:
        print(f"epoch {row['epoch']:2d}  train loss {row['train_loss']:.4f}"
              f"  acc {row['train_acc']:.2f}%  |  test loss "
              f"{row['test_loss']:.4f}  acc {row['test_acc']:.2f}%"
              f"  |  {row['seconds']:.1f}s", flush=True)

    t0 = time.perf_counter()
    history = fit(model, recipe, load_mnist(), device, on_epoch=log,
                  progress=progress)
    record = {
        "step": step.name,
        "impl": step.path.parent.name,
        "code_hash": step.code_hash(),
        "params": params,
        "recipe": asdict(recipe),
        "device": describe(device),
        "torch": torch.__version__,
        "wall_s": round(time.perf_counter() - t0, 1),
        "final_test_acc": history[-1]["test_acc"],
        "epochs": history,
    }
    records.save(out, record, model)
    return record


def main(train_file: str, argv: list[str] | None = None) -> None:
    """`python steps/iN/train.py`: train this step, write its run record."""
    p = argparse.ArgumentParser(description=f"train {Path(train_file).parent}")
    p.add_argument("--device", help="cuda, mps or cpu (default: best here)")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--no-progress", action="store_true",
                   help="one line per epoch, no progress bar")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
        step = load_step(Path(train_file).parent)
        record = train_step(step, device, args.seed,
                            progress=not args.no_progress)
    except (ValueError, NotImplementedError, Diverged) as e:
        sys.exit(f"error: {e}")
    print(f"final test accuracy {record['final_test_acc']:.2f}%; "
          f"record in {os.path.relpath(step.run_dir)}/")
