"""The only place learner code runs for the grader: the probe's child.

    python -m tinycnn.sandbox.inside STEP_FOLDER OUT_FOLDER [TIMEOUT [SEED]]

It imports the step's train.py and model.py, calls recipe() and
layer_shapes() once, builds Net(), runs it on a channels_last batch (as
training feeds it) and exports the network with torch.export in train and
eval mode. It writes OUT/facts.json after every phase, and the traced
network as plain data (graphfile.py). It runs in the sandbox
(isolation.py, jail.py); the grader reads what it leaves as untrusted
data (probe.py), never importing learner code itself.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import importlib.util
import json
import math
import os
import sys
import traceback
from pathlib import Path

from tinycnn.course import LEARNER_FILES

FACTS, HANG = "facts.json", "hang.txt"


def where(tb) -> str:  # a traceback
    """' (model.py, line 42: X = ...)': the learner's last line in `tb`."""
    frames = [f for f in traceback.extract_tb(tb)
              if Path(f.filename).name in LEARNER_FILES]
    if not frames:
        return ""
    f = frames[-1]
    return f" ({Path(f.filename).name}, line {f.lineno}: {f.line})"


def import_file(path: Path, name: str):
    """Import the Python file at `path` as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


MAX_TABLE = 20_000     # entries of layer_shapes() the grader reads
MAX_TABLE_BYTES = 2 << 20


def _jsonable(value, depth: int = 0):
    """layer_shapes() as JSON, keeping what is wrong visible: anything
    that is not a dict, list, tuple or small int becomes its repr (cut
    short; "unprintable" if repr raises). Deeper than 4 levels or longer
    than MAX_TABLE entries is refused (ValueError)."""
    if depth > 4:
        raise ValueError("it is nested more than 4 levels deep")
    if isinstance(value, dict):
        if len(value) > MAX_TABLE:
            raise ValueError(f"it has {len(value):,} entries (at most "
                             f"{MAX_TABLE:,})")
        return {"dict": [[k if isinstance(k, str) else _repr(k),
                          _jsonable(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_TABLE:
            raise ValueError(f"it has {len(value):,} items (at most "
                             f"{MAX_TABLE:,})")
        return {"seq": [_jsonable(v, depth + 1) for v in value]}
    if type(value) is int and -(1 << 62) < value < 1 << 62:
        return value
    return {"repr": _repr(value)}


def _repr(value) -> str:
    if type(value) is int:  # repr of a huge int may refuse (4,300 digits)
        return f"an int of about {int(value.bit_length() * 0.30103)} digits"
    try:
        return repr(value)[:200]
    except Exception as e:  # a learner's __repr__
        return f"<a {type(value).__name__} whose repr raised " \
               f"{type(e).__name__}>"


def table(value) -> dict:
    """What the facts hold for layer_shapes(): its JSON form, or why the
    grader cannot read it ({"unreadable": ...})."""
    try:
        out = _jsonable(value)
        size = len(json.dumps(out))
    except (ValueError, TypeError, RecursionError) as e:
        return {"unreadable": str(e)[:300]}
    if size > MAX_TABLE_BYTES:
        return {"unreadable": f"it is {size:,} bytes as text (at most "
                              f"{MAX_TABLE_BYTES:,})"}
    return out


class Probe:
    def __init__(self, folder: Path, out: Path, seed: int | None) -> None:
        self.folder, self.out, self.seed = folder, out, seed
        self.facts: dict = {"phase": None, "errors": {}, "done": False}

    def save(self) -> None:
        tmp = self.out / (FACTS + ".tmp")
        tmp.write_text(json.dumps(self.facts), encoding="utf-8")
        os.replace(tmp, self.out / FACTS)

    def phase(self, name: str, fn, *args):
        """Run learner code for `name`; record what went wrong, if anything."""
        self.facts["phase"] = name
        self.save()
        try:
            return fn(*args)
        except BaseException as e:  # SystemExit, Ctrl-C too
            kind = ("todo" if isinstance(e, NotImplementedError) else
                    "error")
            self.facts["errors"][name] = {
                "kind": kind, "type": type(e).__name__,
                "message": str(e)[:2000], "where": where(e.__traceback__)}
            self.save()
            return None

    def run(self) -> None:
        import torch

        from tinycnn.sandbox import graphfile

        torch.set_num_threads(1)
        sys.path.insert(0, str(self.folder))
        train = self.phase("import train.py", import_file,
                           self.folder / "train.py", "tinycnn_learner_train")
        if train is not None:
            recipe = self.phase("recipe()", train.recipe)
            if "recipe()" not in self.facts["errors"]:
                self.facts["recipe"] = self.describe_recipe(recipe)
        if self.seed is None:  # as training would: Net() under the recipe's
            seed = self.facts.get("recipe", {}).get("fields", {}).get("seed")
            # (an out-of-range seed fails the recipe's check, not Net())
            self.seed = seed if type(seed) is int and 0 <= seed < 1 << 63 \
                else 0
        self.facts["init_seed"] = self.seed
        model = self.phase("import model.py", import_file,
                           self.folder / "model.py", "tinycnn_learner_model")
        if model is None:
            return self.finish()
        shapes = self.phase("layer_shapes()", model.layer_shapes)
        if "layer_shapes()" not in self.facts["errors"]:
            self.facts["layer_shapes"] = table(shapes)

        def build():
            torch.manual_seed(self.seed)
            return model.Net()

        net = self.phase("Net()", build)
        if net is None:
            return self.finish()
        if not isinstance(net, torch.nn.Module):
            self.facts["errors"]["Net()"] = {
                "kind": "error", "type": "TypeError", "where": "",
                "message": f"Net() returned a {type(net).__name__}, not an "
                           "nn.Module"}
            return self.finish()
        if any(torch.nn.parameter.is_lazy(p) for p in net.parameters()):
            # lazy layers get their shapes from a first batch
            net.eval()
            self.phase("forward (eval mode)", net, torch.zeros(2, 1, 28, 28))
            if "forward (eval mode)" in self.facts["errors"]:
                return self.finish()
        # the run starts from these: the forward passes below must not move
        # BatchNorm's running statistics in what is exported
        start = {k: v.clone() for k, v in net.state_dict().items()}
        # exactly as training feeds it: channels_last weights and batches
        self.phase("Net().to(channels_last)", lambda: net.to(
            memory_format=torch.channels_last))
        if "Net().to(channels_last)" in self.facts["errors"]:
            return self.finish()
        g = torch.Generator().manual_seed(0)
        X = torch.randn(4, 1, 28, 28, generator=g).contiguous(
            memory_format=torch.channels_last)
        for mode in ("train", "eval"):
            getattr(net, mode)()
            self.phase(f"forward ({mode} mode)", net, X)
            if f"forward ({mode} mode)" in self.facts["errors"]:
                return self.finish()
        graphs = {}
        for mode in ("train", "eval"):
            getattr(net, mode)()
            ep = self.phase(f"torch.export ({mode} mode)", export, net, X,
                            start)
            if ep is None:
                return self.finish()
            graphs[mode] = ep.module()
        self.phase("saving the traced network", graphfile.write, graphs,
                   self.out)
        self.finish()

    def describe_recipe(self, recipe) -> dict:
        from tinycnn.train.recipe import Recipe

        if not dataclasses.is_dataclass(recipe) or not isinstance(
                recipe, Recipe):
            return {"type": type(recipe).__name__, "repr": repr(recipe)[:300]}
        fields = {}
        for f in dataclasses.fields(recipe):
            v = getattr(recipe, f.name)
            ok = (isinstance(v, bool) or (isinstance(v, str) and len(v) < 100)
                  or (type(v) is int and abs(v) < 10 ** 100)
                  or (isinstance(v, float) and math.isfinite(v)))
            fields[f.name] = v if ok else {"repr": _repr(v)[:100]}
        return {"type": "Recipe", "fields": fields}

    def finish(self) -> None:
        self.facts["phase"] = None
        self.facts["done"] = True
        self.save()


def export(net, X, state):
    """`net` in its current mode, with the weights and buffers `state`."""
    import torch
    from torch.export import Dim

    net.load_state_dict(state)
    return torch.export.export(net, (X,), dynamic_shapes=({0: Dim.AUTO},))


def main(argv: list[str]) -> int:
    folder, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    timeout = float(argv[2]) if len(argv) > 2 else 0
    seed = int(argv[3]) if len(argv) > 3 else None
    hang = open(out / HANG, "w", encoding="utf-8")  # noqa: SIM115 - faulthandler keeps it
    if timeout > 1:
        # before the parent kills us (its clock started before our imports):
        # where were we?
        faulthandler.dump_traceback_later(max(timeout - 8, timeout * 0.75),
                                          file=hang)
    Probe(folder, out, seed).run()
    faulthandler.cancel_dump_traceback_later()
    # skip interpreter teardown: learner atexit hooks are not our business
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
