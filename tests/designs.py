"""Networks a learner could legitimately write, generated: the fairness
suite's designs (tests/test_fairness.py).

A `Design` is a plan (stages of 3x3 blocks and the order of their parts,
pools, 1x1 transitions, a residual add, a depthwise conv, the global
average, the head) and `build()` writes it as a learner would, in one of
several styles: named attributes, one nn.Sequential, blocks in an
nn.ModuleList run in a loop, a functional forward over the modules'
tensors, nested blocks of a class of its own. With it comes the truth the
grader must find: every layer the shapes check needs, with its output
shape and receptive field, the parameter count, and a layer_shapes()
table in the form the plan asks for (entries named after modules, in
forward order under other names, with extra correct entries). A
`mutation` breaks one rule and names the check that must fail. Nothing
here is a submission: it is the course's own code, trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEAD = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
STYLES = ("attributes", "sequential", "modulelist", "functional", "nested")
ORDERS = ("conv bn relu drop", "conv relu bn drop", "conv bn relu")
GAPS = ("mean", "adaptive", "avgpool", "flatten mean", "sum", "mean keepdim")
HEADS = ("1x1 after", "1x1 before", "linear after")
TABLES = ("names", "order", "names extra", "order extra")
# a mutation: the check that must fail, alone
MUTATIONS = {"no batchnorm": "batchnorm", "dropout p 0": "dropout",
             "dropout in eval": "dropout", "flattened path": "gap",
             "entry off by one": "shapes", "over budget": "params",
             "extra epoch": "epochs"}


@dataclass(frozen=True)
class Design:
    """A plan for a network: widths per stage, and how it is made."""
    step: str = "i3"
    widths: tuple[tuple[int, ...], ...] = ((8, 12), (16, 16), (16,))
    padded: bool = True          # 3x3 convs with padding=1 (else none)
    order: str = ORDERS[0]       # the parts of a block, in order
    drop: str = "Dropout2d"      # Dropout2d, Dropout or F.dropout
    pool: str = "module"         # module or function
    transition: str = "after"    # a 1x1 conv after each pool, before, none
    residual: bool = False       # stage 2's last block adds its input
    depthwise: bool = False      # stage 2's first conv depthwise, then 1x1
    gap: str = GAPS[0]
    head: str = HEADS[0]
    log_softmax: bool = False
    style: str = STYLES[0]
    table: str = TABLES[0]
    mutation: str | None = None  # a key of MUTATIONS


@dataclass
class Layer:
    """One op of the plan."""
    kind: str            # conv, bn, relu, drop, pool, gap, head, ...
    module: str | None   # its nn constructor; None: a function in forward
    call: str            # forward's expression; {m} is the module
    shape: tuple[int, ...]
    rf: int | None       # receptive field; None: the whole image
    params: int = 0
    entry: bool = False  # the shapes check needs an entry for it
    name: str = ""       # its module path once written ("" : by order)


@dataclass
class Built:
    """A design written out, and what the grader must find in it."""
    design: Design
    model: str
    train: str
    layers: list[Layer]  # the layers the table must cover, in order
    params: int
    expect: dict[str, str] = field(default_factory=dict)  # check: status


# ------------------------------------------------------------ the plan


class _Plan:
    """The layers, with C, H x W, the receptive field and its jump."""

    def __init__(self, d: Design) -> None:
        self.d, self.c, self.hw, self.rf, self.jump = d, 1, 28, 1, 1

    def conv(self, c_out: int, k: int = 3, groups: int = 1) -> Layer:
        p = (1 if self.d.padded else 0) if k == 3 else 0
        self.hw += 2 * p - (k - 1)
        self.rf += (k - 1) * self.jump
        params = c_out * (self.c // groups) * k * k
        ctor = (f"nn.Conv2d({self.c}, {c_out}, {k}, padding={p}, bias=False"
                + (f", groups={groups}" if groups > 1 else "") + ")")
        self.c = c_out
        return Layer("conv", ctor, "{m}(x)", self.map(), self.rf, params,
                     entry=True)

    def map(self) -> tuple[int, int, int]:
        return (self.c, self.hw, self.hw)

    def bn(self) -> Layer:
        return Layer("bn", f"nn.BatchNorm2d({self.c})", "{m}(x)", self.map(),
                     self.rf, 2 * self.c)

    def relu(self) -> Layer:
        return Layer("relu", None, "F.relu(x)", self.map(), self.rf)

    def drop(self) -> Layer:
        d = self.d
        p = 0.0 if d.mutation == "dropout p 0" else 0.05
        if d.mutation == "dropout in eval":
            return Layer("drop", None, f"F.dropout(x, {p})", self.map(),
                         self.rf)
        if d.drop == "F.dropout":
            return Layer("drop", None, f"F.dropout(x, {p}, self.training)",
                         self.map(), self.rf)
        return Layer("drop", f"nn.{d.drop}({p})", "{m}(x)", self.map(),
                     self.rf)

    def block(self, c_out: int, groups: int = 1) -> list[Layer]:
        made = []
        for part in self.d.order.split():
            if part == "conv":
                made.append(self.conv(c_out, 3, groups))
            else:
                made.append(getattr(self, part)())
        return made

    def pool(self) -> Layer:
        self.hw //= 2
        self.rf += self.jump
        self.jump *= 2
        if self.d.pool == "module":
            return Layer("pool", "nn.MaxPool2d(2)", "{m}(x)", self.map(),
                         self.rf, entry=True)
        return Layer("pool", None, "F.max_pool2d(x, 2)", self.map(), self.rf,
                     entry=True)

    def transition(self, c_out: int) -> list[Layer]:
        return [self.conv(c_out, 1), self.bn(), self.relu()]


def plan(d: Design) -> tuple[list[list[Layer]], set[int]]:
    """The network as blocks of layers (the last one the head), and the
    blocks that add their input to their output."""
    p = _Plan(d)
    blocks: list[list[Layer]] = []
    residual: set[int] = set()
    for s, widths in enumerate(d.widths):
        if s:
            half = max(4, widths[0] // 2)
            if d.transition == "before":
                blocks.append(p.transition(half))
            blocks.append([p.pool()])
            if d.transition == "after":
                blocks.append(p.transition(half))
        for i, w in enumerate(widths):
            if s == 1 and i == 0 and d.depthwise:
                blocks.append(p.block(p.c, groups=p.c) + [p.conv(w, 1)])
            else:
                if s == 1 and i == len(widths) - 1 and d.residual and \
                        p.c == w:
                    residual.add(len(blocks))
                blocks.append(p.block(w))
    if "drop" not in d.order.split():  # dropout once, before the head
        blocks.append([p.drop()])
    blocks.append(_head(d, p.c, p.hw, p.rf, p.jump))
    return blocks, residual


def _head(d: Design, c: int, hw: int, rf: int, jump: int) -> list[Layer]:
    """The global average and the classifier, in the plan's order. An
    average without a window sees the whole image (receptive field None);
    avg_pool2d over the whole map is a pool: its window adds to the field
    as any pool's does (learner/summary.py)."""
    seen = rf + (hw - 1) * jump if d.gap == "avgpool" else None

    def avg(channels: int) -> Layer:
        flat = d.gap in ("mean", "flatten mean", "sum")
        call = {"mean": "x.mean((2, 3))", "sum": "x.sum((2, 3))",
                "flatten mean": "x.flatten(2).mean(-1)",
                "mean keepdim": "x.mean((2, 3), keepdim=True)",
                "avgpool": f"F.avg_pool2d(x, {hw})",
                "adaptive": "{m}(x)"}[d.gap]
        return Layer("gap", "nn.AdaptiveAvgPool2d(1)" if d.gap == "adaptive"
                     else None, call, (channels,) if flat else
                     (channels, 1, 1), seen, entry=True)

    conv = Layer("head", f"nn.Conv2d({c}, 10, 1)", "{m}(x)", (10, 1, 1), seen,
                 10 * c + 10, entry=True)
    if d.head == "1x1 before":
        conv.shape, conv.rf = (10, hw, hw), rf
        out = [conv, avg(10)]
        if len(out[-1].shape) == 3:
            out.append(Layer("flatten", None, "x.flatten(1)", (10,), None))
    elif d.head == "1x1 after":
        out = [avg(c)]
        if len(out[-1].shape) == 1:
            out.append(Layer("unflatten", None, "x[:, :, None, None]",
                             (c, 1, 1), None))
        out += [conv, Layer("flatten", None, "x.flatten(1)", (10,), None)]
    else:
        out = [avg(c)]
        if len(out[-1].shape) == 3:
            out.append(Layer("flatten", None, "x.flatten(1)", (c,), None))
        out.append(Layer("head", f"nn.Linear({c}, 10)", "{m}(x)", (10,), None,
                         10 * c + 10, entry=True))
    if d.log_softmax:
        out.append(Layer("logsoftmax", None, "F.log_softmax(x, dim=1)", (10,),
                         None))
    return out


# ----------------------------------------------------- written as code


def _module_of(layer: Layer) -> str:
    """The nn module that does what `layer` does (for nn.Sequential)."""
    if layer.module:
        return layer.module
    if layer.kind == "relu":
        return "nn.ReLU()"
    if layer.kind == "pool":
        return "nn.MaxPool2d(2)"
    if layer.kind == "drop" and "self.training" in layer.call:
        return f"nn.Dropout({layer.call.split(', ')[1]})"  # F.dropout's p
    raise ValueError(f"no module does {layer.call}")


def _attribute_lines(layers, prefix: str, init: list[str],
                     functional: bool = False) -> list[str]:
    """forward's lines for `layers`, each module an attribute."""
    lines = []
    for layer in layers:
        if not layer.module:
            lines.append(f"x = {layer.call}")
            continue
        name = f"{prefix}{len(init)}"
        init.append(f"self.{name} = {layer.module}")
        layer.name = name
        m = f"self.{name}"
        call = layer.call.replace("{m}", m)
        if functional and layer.kind in ("conv", "head"):
            layer.name = ""  # a functional call: named by order
            if "Conv2d" in layer.module:
                args = layer.module[len("nn.Conv2d("):-1].split(", ")
                extra = "".join(f", {a}" for a in args
                                if a.startswith(("padding", "groups")))
                call = f"F.conv2d(x, {m}.weight, {m}.bias{extra})"
            else:
                call = f"F.linear(x, {m}.weight, {m}.bias)"
        elif functional and layer.kind == "bn":
            call = (f"F.batch_norm(x, {m}.running_mean, {m}.running_var, "
                    f"{m}.weight, {m}.bias, self.training)")
        lines.append(f"x = {call}")
    return lines


def _write(d: Design, blocks, residual) -> tuple[list[str], list[str]]:
    """(__init__'s lines, forward's lines) in the design's style. "MAP"
    marks where the last map is, before the head."""
    init: list[str] = []
    body: list[str] = []
    head = blocks[-1]
    if d.style in ("attributes", "functional"):
        for k, b in enumerate(blocks[:-1]):
            lines = _attribute_lines(b, "l", init, d.style == "functional")
            body += (["r = x", *lines, "x = x + r"] if k in residual
                     else lines)
    elif d.style == "sequential" and not residual:
        mods = []
        for b in blocks[:-1]:
            for layer in b:
                layer.name = f"features.{len(mods)}"
                mods.append(_module_of(layer))
        init += ["self.features = nn.Sequential(",
                 *(f"    {m}," for m in mods), ")"]
        body.append("x = self.features(x)")
    else:  # modulelist, nested (and a Sequential with a residual add)
        rows = []
        for k, b in enumerate(blocks[:-1]):
            if d.style == "nested":
                for j, layer in enumerate(b):
                    layer.name = f"blocks.{k}.part{j}"
                rows.append("    Block(" + ", ".join(
                    _module_of(layer) for layer in b) + "),")
            else:
                for j, layer in enumerate(b):
                    layer.name = f"blocks.{k}.{j}"
                rows.append("    nn.Sequential(" + ", ".join(
                    _module_of(layer) for layer in b) + "),")
        init += ["self.blocks = nn.ModuleList([", *rows, "])"]
        body += ["for k, block in enumerate(self.blocks):",
                 f"    x = x + block(x) if k in {sorted(residual)!r} "
                 "else block(x)"]
    body.append("MAP")
    body += _attribute_lines(head, "head", init, d.style == "functional")
    return init, body


BLOCK = '''

class Block(nn.Module):
    """Its parts in order, each an attribute of its own."""

    def __init__(self, *parts):
        super().__init__()
        for j, part in enumerate(parts):
            setattr(self, f"part{j}", part)
        self.n = len(parts)

    def forward(self, x):
        for j in range(self.n):
            x = getattr(self, f"part{j}")(x)
        return x
'''


def build(d: Design) -> Built:
    """The design as model.py and train.py, and the truth about them."""
    from tinycnn.course import STEPS

    blocks, residual = plan(d)
    if d.mutation == "no batchnorm":
        blocks = [[layer for layer in b if layer.kind != "bn"]
                  for b in blocks]
    init, body = _write(d, blocks, residual)
    params = sum(layer.params for b in blocks for layer in b)
    ret = "x"
    if d.mutation == "flattened path":  # the head also sees a map
        c, hw = _last_map(blocks)
        init.append(f"self.peek = nn.Linear({hw * hw}, 10)")
        body[body.index("MAP")] = "m = x"
        ret = "x + self.peek(m[:, 0].flatten(1))"
        params += hw * hw * 10 + 10
    body = [b for b in body if b != "MAP"]
    if d.mutation == "over budget":
        over = STEPS[d.step].max_params - params + 1
        init.append(f"self.spare = nn.Parameter(torch.zeros({over}))")
        ret = f"{ret} + 0 * self.spare.sum()"
        params += over
    model = (HEAD + (BLOCK if d.style == "nested" else "")
             + "\n\nclass Net(nn.Module):\n    def __init__(self):\n"
             + "        super().__init__()\n"
             + "".join(f"        {line}\n" for line in init)
             + "\n    def forward(self, x):\n"
             + "".join(f"        {line}\n" for line in body)
             + f"        return {ret}\n\n\n" + _table(d, blocks))
    epochs = STEPS[d.step].max_epochs + (d.mutation == "extra epoch")
    train = ("from tinycnn import Recipe\n\n\ndef recipe():\n"
             f"    return Recipe(num_epochs={epochs}, lr=0.1)\n")
    layers = [layer for b in blocks for layer in b if layer.entry]
    expect = {MUTATIONS[d.mutation]: "failed"} if d.mutation else {}
    return Built(d, model, train, layers, params, expect)


def _last_map(blocks) -> tuple[int, int]:
    maps = [layer.shape for b in blocks[:-1] for layer in b]
    return maps[-1][0], maps[-1][1]


def _table(d: Design, blocks) -> str:
    """layer_shapes() in the form the design asks for."""
    rows, k = [], 0
    for b in blocks:
        for layer in b:
            if layer.entry:
                k += 1
                shape = layer.shape
                if d.mutation == "entry off by one" and k == 2:
                    shape = (shape[0] + 1, *shape[1:])
                named = d.table.startswith("names") and layer.name
                rows.append((layer.name if named else f"layer {k}", shape))
            elif d.table.endswith("extra") and layer.kind == "bn":
                rows.append((f"its BatchNorm {k}", layer.shape))
    if d.mutation == "flattened path":  # the Linear that peeks has one too
        rows.append(("peek", (10,)))
    body = "".join(f"        {name!r}: {shape!r},\n" for name, shape in rows)
    return f"def layer_shapes():\n    return {{\n{body}    }}\n"


def fits(d: Design) -> bool:
    """A plan the step allows: under its budget, every map at least 2x2
    before the average, a residual add where the widths allow it."""
    from tinycnn.course import STEPS

    try:
        blocks, _ = plan(d)
    except (ValueError, ZeroDivisionError):
        return False
    maps = [layer.shape for b in blocks[:-1] for layer in b]
    return (all(s[1] >= 2 for s in maps)
            and sum(layer.params for b in blocks for layer in b)
            <= STEPS[d.step].max_params)
