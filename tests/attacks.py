"""Submissions that attack the grader, one or more per route, each graded
through the real autograder (tests/test_attacks.py).

Every attack rides on a network that fails when graded honestly (over the
parameter cap and without a GAP head, or untrained), so a grade that does
not lose marks means the attack worked. An attack that probes what it can
reach ends by raising what it found: the builds check then fails with that
message, which the test reads ("DENIED" or the leak).

{root}, {results}, {data}, {key} and {marker} in the sources are the
autograder's paths (and a file the grader would make if it ran the
attack's code), filled in by the test: a real attacker can find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mutants import BIG as _BIG
from mutants import HEAD, SHAPES_BIG, edit

# 500K parameters, no GAP head: fails params and gap when graded honestly
BIG = _BIG + SHAPES_BIG
DROP = "        x = F.dropout(self.bn(self.c(x)).relu(), 0.1, self.training)\n"
RETURN = "        return self.fc(x.flatten(1))\n"


def big(ret: str, init: str = "") -> str:
    """That network (without its table) with the last line of forward
    replaced by `ret`, and `init` added to __init__."""
    out = edit(_BIG, (RETURN, ret))
    anchor = "        self.fc = nn.Linear(64 * 28 * 28, 10)\n"
    return edit(out, (anchor, anchor + init)) if init else out

TRAIN = '''from tinycnn import Recipe


def recipe():
    return Recipe(num_epochs=1, lr=0.05)
'''

# what a probe of the sandbox reports: "label: OK <what>" or "DENIED"
TRY = '''
import os as _os


def _try(label, f):
    try:
        return f"{label}: OK {str(f())[:80]!r}"
    except BaseException as e:
        return f"{label}: DENIED {type(e).__name__}"
'''


@dataclass
class Attack:
    name: str
    route: str
    model: str                       # model.py (before {..} are filled)
    train: str = TRAIN
    step: str = "i3"
    slow: bool = False               # needs the accuracy check
    says: tuple[str, ...] = ()       # in the results' builds output
    not_says: tuple[str, ...] = ()   # must not be anywhere in results.json
    lose: tuple[str, ...] = ("params",)  # checks that must fail
    extra: dict = field(default_factory=dict)


def probe(*tries: str) -> str:
    """A model.py that tries each `label`, `expression` at import and
    raises what happened."""
    body = ", ".join(f"_try({label!r}, lambda: {expr})"
                     for label, expr in tries)
    return HEAD + TRY + f"\nraise RuntimeError(' | '.join([{body}]))\n"


ATTACKS = [
    # --------------------------------------------------------- archive
    Attack("a pickle payload in a .pt2 archive beside the graphs", "archive",
           HEAD + '''
import os, pickle, sys, zipfile


class Boom:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))


for mode in ("train", "eval"):
    with zipfile.ZipFile(os.path.join(sys.argv[2], mode + ".pt2"), "w") as z:
        for name in ("archive/data.pkl", "archive/models/model.json",
                     "archive/data/sample_inputs/model.pt"):
            z.writestr(name, pickle.dumps(Boom()))
''' + BIG, lose=("params", "gap"), extra={"marker": True}),
    Attack("the graph files rewritten: an op that reads a file", "archive",
           HEAD + '''
import json, os
import tinycnn.sandbox.graphfile as gf

_write = gf.write


def write(graphs, out):
    _write(graphs, out)
    for mode in ("train", "eval"):
        path = os.path.join(out, f"graph-{mode}.json")
        g = json.load(open(path))
        for n in g["nodes"]:
            if n["op"] == "call_function":
                n["target"] = "aten.from_file.default"
                n["args"] = {"tuple": ["{data}/t10k-labels-idx1-ubyte"]}
                break
        json.dump(g, open(path, "w"))


gf.write = write
''' + BIG, lose=("builds",), says=("grader does not run",)),
    Attack("the graph files rewritten: a Python call and pickled tensors",
           "archive", HEAD + '''
import json, os, pickle
import tinycnn.sandbox.graphfile as gf

_write = gf.write


class Boom:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))


def write(graphs, out):
    _write(graphs, out)
    open(os.path.join(out, "tensors.bin"), "ab").write(pickle.dumps(Boom()))
    path = os.path.join(out, "graph-eval.json")
    g = json.load(open(path))
    g["nodes"][-2]["target"] = "python.system"
    json.dump(g, open(path, "w"))


gf.write = write
''' + BIG, lose=("builds",), extra={"marker": True}),
    Attack("facts.json a symbolic link to the reference's model.py",
           "archive", HEAD + '''
import os, sys
out = sys.argv[2]
os.remove(os.path.join(out, "facts.json"))
os.symlink("{root}/solutions/i3/model.py", os.path.join(out, "facts.json"))
os._exit(1)
''', lose=("builds",), not_says=("p_drop",)),
    # ------------------------------------------ files on the grader's path
    Attack("a module written beside the graders' test file", "grader path",
           HEAD + '''
import os
for d in ("{root}/checks/i3", "{root}", "{root}/tinycnn"):
    try:
        open(os.path.join(d, "matplotlib.py"), "w").write(
            "raise SystemExit('hijacked')\\n")
    except OSError:
        pass
''' + BIG, lose=("params", "gap"), extra={"planted": True}),
    # ---------------------------------------------------- the course tree
    Attack("the engine and the grader edited on disk", "course tree",
           HEAD + '''
for f in ("{root}/tinycnn/train/engine.py", "{root}/tinycnn/grader/checks/gap.py",
          "{root}/tinycnn/grader/run.py"):
    try:
        open(f, "a").write("\\nraise SystemExit('edited')\\n")
    except OSError:
        pass
''' + BIG, lose=("params", "gap"), extra={"tree": True}),
    Attack("what of the course tree it can see", "course tree",
           probe(("list course", "sorted(_os.listdir('{root}'))"),
                 ("write package", "open('{root}/tinycnn/x.py', 'w')")),
           lose=("builds",), not_says=("'solutions'", "'checks'",
                                       "write package: OK")),
    # ------------------------------------------------ key, data, solutions
    Attack("reads the record-signing key", "key",
           probe(("key", "open('{key}').read()")),
           lose=("builds",), says=("key: DENIED",)),
    Attack("reads the MNIST test set", "test set",
           probe(("test images", "open('{data}/t10k-images-idx3-ubyte', "
                  "'rb').read(16)"),
                 ("test labels", "open('{data}/t10k-labels-idx1-ubyte', "
                  "'rb').read(16)")),
           lose=("builds",), says=("test images: DENIED",
                                   "test labels: DENIED")),
    Attack("reads the reference solutions", "solutions",
           probe(("solution", "open('{root}/solutions/i3/model.py').read()"),
                 ("git history", "_os.listdir('{root}/.git')")),
           lose=("builds",), says=("solution: DENIED",),
           not_says=("p_drop",)),
    Attack("reaches the network", "network",
           probe(("connect", "__import__('socket').create_connection("
                  "('127.0.0.1', 22), timeout=2)"),
                 ("dns", "__import__('socket').getaddrinfo('pypi.org', "
                  "443)")),
           lose=("builds",), says=("connect: DENIED", "dns: DENIED")),
    # ------------------------------------------ daemons, forks, results
    Attack("a detached daemon rewrites results.json after the grade",
           "daemons", HEAD + '''
import json, os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(200):
            time.sleep(0.1)
            try:
                json.dump({"score": 99.0, "tests": []},
                          open("{results}", "w"))
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
''' + BIG, lose=("params", "gap"), extra={"watch": 12}),
    Attack("writes results.json at once", "results rewrite", HEAD + '''
import json
try:
    json.dump({"score": 99.0, "tests": []}, open("{results}", "w"))
except OSError:
    pass
''' + BIG, lose=("params", "gap")),
    Attack("signals every process it can see, and its parent", "signals",
           HEAD + '''
import os, signal
for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
        os.kill(os.getppid(), sig)
    except OSError:
        pass
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
''' + BIG, lose=("params", "gap")),
    Attack("looks for the grader's processes", "signals",
           probe(("grader processes", "[open(f'/proc/{p}/cmdline').read() "
                  "for p in _os.listdir('/proc') if p.isdigit() and "
                  "'pytest' in open(f'/proc/{p}/cmdline').read()]")),
           lose=("builds",), not_says=("pytest checks",)),
    # ------------------------------------------------- pre-trained weights
    Attack("weights trained elsewhere, and an lr of 1e-8", "weights",
           "{pretrained}", train='''from tinycnn import Recipe


def recipe():
    return Recipe(num_epochs=1, lr=1e-8)
''', step="i0", slow=True, lose=("accuracy",)),
    Attack("weights trained elsewhere, as 8-bit codes in op arguments",
           "weights", "{in_arguments}", train='''from tinycnn import Recipe


def recipe():
    return Recipe(num_epochs=1, lr=1e-12)
''', step="i0", slow=True, lose=("params", "accuracy"),
           says=("numbers into its ops",)),
    # ----------------------------------------- what the checks see (41)
    Attack("a 0/1 factor from the batch size switches dropout and GAP",
           "batch size", HEAD + edit(big(
               "        return f * self.head(x.mean((2, 3))) + (1 - f) * "
               "self.fc(x.flatten(1))\n",
               "        self.head = nn.Linear(64, 10)\n"),
               (DROP, "        x = self.bn(self.c(x)).relu()\n"
                      "        f = torch.tensor(1.0) * (x.shape[0] <= 100)\n"
                      "        x = f * F.dropout(x, 0.1, self.training) + "
                      "(1 - f) * x\n")) + SHAPES_BIG.replace(
               '"fc": (10,)', '"g": (64,), "head": (10,), "fc": (10,)'),
           lose=("builds",), says=("batch size as a value",)),
    Attack("a fake global average: a mean over an axis made by expand",
           "fake average", HEAD + big(
               "        z = x.flatten(1).unsqueeze(-1).expand(-1, -1, 2)"
               ".mean(-1)\n        return self.fc(z)\n") + SHAPES_BIG,
           lose=("params", "gap"), says=("not a map's positions",)),
    Attack("layer_shapes() holds a 5,000-digit int and a raising repr",
           "layer table", BIG.join([HEAD, '''

class R:
    def __repr__(self):
        raise ValueError("no")


def layer_shapes():
    return {"c": (64, 28, 28), "fc": (10,), "x": (10 ** 5000,), "r": R()}
''']), lose=("params", "gap", "shapes"), says=("5000 digits",),
           not_says=("ended the grading process",)),
    Attack("forward fails on the grader's own starting weights",
           "starting weights", HEAD + big(
               "        x = x.index_select(1, (self.sel.abs() * 1000).long())"
               "\n" + RETURN,
               "        self.sel = nn.Parameter(torch.linspace(0, 0.06, 64))"
               "\n") + SHAPES_BIG, lose=("builds",),
           says=("weights the grader starts from",)),
    Attack("the reference at batch_size 60000: 70 GB of activations",
           "memory", "{reference}", train='''from tinycnn import Recipe


def recipe():
    return Recipe(num_epochs=20, batch_size=60000, schedule="constant")
''', slow=True, lose=("accuracy",), says=("memory budget",)),
    Attack("an eval-mode (B, B, 3136) tensor: 12 GB at the evaluation "
           "batch", "memory", HEAD + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.head = nn.Conv2d(16, 10, 1)

    def forward(self, x):
        x = F.dropout(self.bn(self.c(x)).relu(), 0.1, self.training)
        z = F.max_pool2d(x, 2).flatten(1)
        a = (z @ z.t()).unsqueeze(-1).expand(-1, -1, 3136).sum(-1)
        x = self.head(x.mean((2, 3), keepdim=True)).flatten(1)
        return x + 0 * a.sum(1, keepdim=True)


def layer_shapes():
    return {"c": (16, 28, 28), "p": (16, 14, 14), "a": (1000,),
            "g": (16, 1, 1), "head": (10, 1, 1)}
''', slow=True, lose=("accuracy",), says=("evaluating a batch of 1000",
                                              "memory budget")),
    Attack("a network far too slow for its step's time budget", "time",
           HEAD + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 320, 3, padding=1)
        self.c2 = nn.Conv2d(320, 320, 3, padding=1)
        self.c3 = nn.Conv2d(320, 10, 3, padding=1)

    def forward(self, x):
        x = self.c2(self.c1(x).relu()).relu()
        return self.c3(x).mean((2, 3))


def layer_shapes():
    return {"c1": (320, 28, 28), "c2": (320, 28, 28), "c3": (10, 28, 28),
            "g": (10,)}
''', train='''from tinycnn import Recipe


def recipe():
    return Recipe(num_epochs=1, batch_size=8)
''', step="i0", slow=True, lose=("params", "accuracy"),
           says=("time budget",)),
    # ------------------------------------------------ memory and processes
    Attack("a 40 GB allocation", "memory",
           HEAD + "_ = bytearray(40 << 30)\n" + BIG, lose=("builds",),
           says=("MemoryError",)),
    Attack("a huge tensor only in the traced graph", "memory", HEAD + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 10, 3, padding=1)
        self.bn = nn.BatchNorm2d(10)

    def forward(self, x):
        x = F.dropout(self.bn(self.c(x)), 0.1, self.training)
        if torch.compiler.is_exporting():
            x = x + torch.zeros(x.shape[0], 10, 1 << 14, 1 << 14).sum((2, 3),
                                                                keepdim=True)
        return x.mean((2, 3))


def layer_shapes():
    return {"c": (10, 28, 28), "gap": (10,)}
''', lose=("builds",), says=("values for a batch",)),
    Attack("a fork bomb", "processes", HEAD + '''
import os, time
while True:  # every process forks for ever
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
''' + BIG, lose=("builds",), says=("did not finish",), extra={"watch": 3}),
]
