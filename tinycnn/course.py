"""The course manifest: every step and every check, declared once.

The graders (checks/iN), the lessons' generated parts, the README table
test (tests/test_docs.py), the Classroom workflow and the Gradescope
script all read this file.
Adding a step: a solutions/iN folder, one `Spec` below, docs/iN.md and
its content in docs/lessons.yml (`python -m tools check` says what is
missing). Adding a check: one `Check` below, and its judge `check_<id>`
in tinycnn/grader/checks/<id>.py, registered in that package's JUDGES
(the grader runs it after the checks its `after` names).
"""

from __future__ import annotations

from dataclasses import dataclass

# what a learner writes in a step folder (and all the grader takes of it)
LEARNER_FILES = ("model.py", "train.py")


@dataclass(frozen=True)
class Check:
    id: str                  # "gap": the key tests, hints and records use
    title: str               # the grade table's line; {fields} of the Spec
    rule: str                # exactly what is judged, as the lesson says it
    hints: tuple[str, ...]   # tiers: a nudge first, then more specific
    # the checks that must pass before this one can judge anything (it is
    # "blocked" otherwise): "builds" gives the traced network, "epochs" a
    # recipe that may train
    after: tuple[str, ...] = ()
    trains: bool = False     # it trains a network: minutes, not seconds


@dataclass(frozen=True)
class Spec:
    step: str                # "i3"
    title: str               # the lesson's title
    about: str               # one line: what the learner adds (README, index)
    max_params: int          # at most this many parameters
    max_epochs: int          # recipe().num_epochs must not exceed it
    pass_acc: float          # final-epoch test accuracy, %, at least
    checks: tuple[str, ...]  # ids of CHECKS graded for this step, in order
    why: str = ""            # the lessons' change log: what changed, why
    gain: str = ""           # one line: what it is for (the index's table)
    # hints for designing the network, in tiers: a nudge, an approach, a
    # layout without widths (`tinycnn hint iN design`, the lesson's folds)
    design: tuple[str, ...] = ()
    # the time budget of a grade's training, in minutes on the grading
    # machine: about eight times the reference's training time on the
    # 2-core CPU its record was made on (tests/test_course.py holds it to
    # that), at least 10; budget.py lets an instructor set another
    minutes: int = 60


NETWORK = ("builds",)  # the checks that judge the traced network
CHECKS = {c.id: c for c in [
    Check("builds", "Net() builds and runs a forward pass",
          "model.py and train.py import; Net() builds; a (B, 1, 28, 28) "
          "batch in channels_last memory (as training feeds it) runs in "
          "train and eval mode and gives finite numbers; torch.export can "
          "trace forward (no Python decisions on tensor values), into ATen "
          "ops that compute (none that reads files), and no op computes "
          "more than 262,144 values per image. The batch size (x.size(0)) "
          "only sizes tensors, never enters a computation; a tensor "
          "forward changes in place is read only by what updates it "
          "(BatchNorm's running statistics, a step counter); and forward "
          "works on the weights the grader draws, not only on Net()'s. "
          "Your code runs in a separate, sandboxed process; the grader "
          "reads only the traced network it hands back, and runs it on "
          "real MNIST training images.",
          ("The message names the line that failed: start there.",
           "The grader runs your code in a separate process, as training "
           "does: a float32 batch of shape (B, 1, 28, 28) in channels_last "
           "memory. Flatten with X.flatten(1) or X.reshape(X.size(0), -1); "
           "X.view(X.size(0), -1) fails on such a batch.",
           "Avoid .item(), numpy and `if` on tensor values inside forward: "
           "the grader traces every op with torch.export.")),
    Check("params", "at most {max_params:,} parameters",
          "Every tensor the network keeps counts: its parameters, its "
          "buffers other than BatchNorm's running statistics, and tensor "
          "constants used in forward; a tensor two layers share counts "
          "once. A value forward builds from numbers alone "
          "(torch.linspace(...), a stack of scalars) is a constant like a "
          "buffer: it counts, and the grader redraws it when its values "
          "differ. Forward may write at most 256 numbers into its ops (an "
          "eps, a slope, a scale; sizes, dropout's p and BatchNorm's "
          "momentum do not count): weights are tensors the network keeps, "
          "which the grader counts and draws.",
          ("Count with python -m tinycnn summary steps/<step>, which "
           "counts what the grader counts; sum(p.numel() for p in "
           "Net().parameters()) misses buffers and tensor constants.",
           "A 3x3 conv costs 9 x C_in x C_out: the widest late convs cost "
           "most. A Linear over a flattened map costs C x H x W x 10.",
           "Thinner late convs, a 1x1 transition that cuts channels, or a "
           "GAP head instead of a Linear over the map."),
          after=NETWORK),
    Check("batchnorm", "BatchNorm normalises, using running stats in eval",
          "At least one BatchNorm (nn.BatchNorm2d or F.batch_norm) runs, "
          "the logits depend on its output (also in train mode at the "
          "recipe's batch size), every BatchNorm defined is called, and "
          "in eval mode every BatchNorm uses its running statistics: one "
          "image's prediction never depends on the rest of the batch, "
          "checked at the evaluation batch of 1,000 images.",
          ("Is there a BatchNorm after your convs, and is it called in "
           "forward?",
           "nn.BatchNorm2d(C) after a conv with C output channels, and "
           "X = self.bn(X) in forward; a layer defined in __init__ and "
           "never called does nothing.",
           "F.batch_norm needs training=self.training and running "
           "statistics, or eval mode uses batch statistics."),
          after=NETWORK),
    Check("dropout", "Dropout random in train mode, off in eval mode",
          "In train mode at least one dropout op with p > 0 (nn.Dropout, "
          "nn.Dropout2d, F.dropout, F.dropout2d, or a Bernoulli mask) "
          "runs and the logits depend on it, on a small batch and at the "
          "recipe's batch size; in eval mode no random op runs and the "
          "output is deterministic. Gaussian noise is not dropout.",
          ("Where do you drop activations, and is p above 0?",
           "nn.Dropout2d(p) after a block's ReLU drops whole channels; "
           "nn.Dropout(p) single values.",
           "F.dropout(X, p, training=self.training): without the training "
           "argument it stays on in eval mode."),
          after=NETWORK),
    Check("transitions", "a 1x1 conv mixes channels next to a pool",
          "A conv with a 1x1 kernel and more than one input channel, on a "
          "map larger than 1x1, takes a pool's output or feeds a pool "
          "(with only BatchNorm, activations and dropout between), and the "
          "logits depend on it.",
          ("Where do you change the number of channels cheaply?",
           "A transition is nn.Conv2d(C_in, C_out, 1): it mixes channels "
           "at each position and costs C_in x C_out.",
           "Put it right after a MaxPool2d (or right before it), between "
           "two stages of 3x3 convs."),
          after=NETWORK),
    Check("gap", "classifier sees one average per channel (GAP)",
          "Every path from the image to the logits passes through a global "
          "average (or sum) over all H x W positions of a map the network "
          "computed, per channel, and over nothing else: not over an axis "
          "made by expand or repeat, a reshape that mixes channels into "
          "the positions, or a map rebuilt from a Linear's output. "
          "Changing that map in any way that keeps each channel's mean "
          "leaves the logits unchanged.",
          ("What does your classifier see: a flattened map, or one number "
           "per channel?",
           "nn.AdaptiveAvgPool2d(1) (or X.mean((2, 3))) over the last map, "
           "then a 1x1 conv or a Linear(C, 10); a 1x1 conv to 10 "
           "channels before the average works too, and log_softmax after "
           "it is fine.",
           "Global max pooling, a partial average, a conv whose kernel "
           "covers the whole map, a classifier that also sees the "
           "flattened map, or a mean over an axis that is not the map's "
           "positions (made by expand or repeat, or by a reshape of a "
           "Linear's output) are not a GAP head."),
          after=NETWORK),
    Check("output", "output is (B, 10) for any batch size",
          "In eval mode, batches of 1, 3, 64 and 1,000 images (the "
          "evaluation batch) give outputs of shape (B, 10); in train "
          "mode, a batch of the recipe's size gives (B, 10) "
          "floating-point scores that carry gradients.",
          ("Does forward return one row of 10 scores per image?",
           "Flatten with X.flatten(1), never a fixed batch size; a 1x1 "
           "conv head gives (B, 10, 1, 1): flatten it too.",
           "Return the scores themselves (logits, or log_softmax of them):"
           " not argmax's class indices, nothing detached, nothing made "
           "under torch.no_grad()."),
          after=NETWORK),
    Check("shapes", "layer_shapes() matches the forward pass",
          "layer_shapes() returns a dict of entries {name: output shape "
          "without the batch dimension, a tuple of ints} that covers every "
          "conv, every pool (max, average, global average) and every "
          "Linear, and is right about every layer it names. An entry named "
          "after a module (\"conv1\", \"features.3\") states that "
          "module's output, wherever it stands; the other entries are read "
          "in forward order, each the output of some op (a BatchNorm's, a "
          "block's or the flattened map are fine as extra entries).",
          ("Work each layer's output shape out by hand, in order.",
           "A 3x3 conv with padding=1 keeps H x W, without padding it "
           "trims 2 (28 -> 26); MaxPool2d(2) halves it; a conv's C is its "
           "out_channels; AdaptiveAvgPool2d(1) gives (C, 1, 1), and "
           "X.mean((2, 3)) is a global average too, entry (C,).",
           "One entry per conv, pool and Linear, also inside an "
           "nn.Sequential (name it after the module, e.g. \"features.3\", "
           "or keep forward's order): check with python -m tinycnn "
           "summary."),
          after=NETWORK),
    Check("epochs", "recipe() trains at most {max_epochs} {epochs_word}",
          "recipe() returns a tinycnn Recipe whose fields are valid "
          "(num_epochs a whole number from 1 to the cap, every field in "
          "its range: help(tinycnn.Recipe); OneCycle needs at least 2 "
          "optimizer steps to warm up and 2 to anneal); it is read once, "
          "and that same recipe trains.",
          ("How many epochs does your recipe() ask for?",
           "Return Recipe(num_epochs=..., ...) from tinycnn; "
           "help(tinycnn.Recipe) lists every field.")),
    Check("accuracy", "final test accuracy at least {pass_acc}%",
          "The grader trains the traced network by your recipe (or reuses "
          "a run it made of this exact code and recipe), starting from "
          "weights it draws itself under the recipe's seed, as PyTorch's "
          "own layers initialise them (a custom initialisation, or weights "
          "loaded in Net(), is not graded), then evaluates the final "
          "weights itself on the 10,000 test images. Training runs within "
          "the grader's memory budget (at most 8 GB, less on a smaller "
          "machine) and the step's time budget; the trained network must "
          "still pass the rules it passed before training.",
          ("Look at your curves (runs/steps/<step>/curves.png): still "
           "rising at the end, or flat?",
           "Within the epoch cap: more epochs, OneCycle with a higher "
           "peak lr, or a little augmentation (rotation, shifts) are "
           "where the references found their last tenths.",
           "If train accuracy is far above test accuracy, regularise "
           "(dropout, augmentation); if both are low, add capacity where "
           "the lesson's worksheet says it is cheap."),
          after=("builds", "epochs"), trains=True),
]}


_CORE = ("builds", "params", "batchnorm", "dropout")
_TAIL = ("output", "shapes", "epochs", "accuracy")
STEPS = {s.step: s for s in [
    Spec("i0", "The baseline", "a plain CNN: 3×3 convs, max-pools and a "
         "linear head, trained for one epoch", 19_999, 1, 98.0,
         ("builds", "params", *_TAIL),
         "baseline: plain convs, one epoch of SGD",
         gain="a baseline to measure everything against", minutes=10),
    # i1 and i2 keep i0's linear head: in every recipe we searched (three
    # rounds, CPU and GPU) some seeds ended under 99.45 (the lowest 99.30),
    # so a mark of 99.4 failed correct code. Their references clear 99.3
    # by 0.05 point or more on every seed run (benchmarks/results/
    # README.md); 99.4 is the assignment's mark, asked from i3 on.
    Spec("i1", "BatchNorm and Dropout", "BatchNorm and Dropout after every "
         "conv, a four times higher peak learning rate",
         21_999, 10, 99.3, (*_CORE, *_TAIL),
         "BatchNorm after every conv (without it, every seed ends lower); "
         "Dropout2d 5 % and small rotations",
         gain="normalise and regularise: without BatchNorm every one of "
         "five seeds ended lower", minutes=20,
         design=("Start from your i0 network: the same convs and pools, each 3×3 "
          "conv now a block (conv without bias, BatchNorm, ReLU, "
          "Dropout2d).",
          "BatchNorm lets wider convs train well: widen the convs, and keep "
          "the last map's channels modest, since each costs 490 weights in "
          "the linear head.",
          "A layout that passes: two blocks at 28×28, a pool, two blocks at "
          "14×14, a pool, then flatten and the Linear head; the widths grow "
          "a little from each block to the next.")),
    Spec("i2", "Transitions", "1×1 \"transition\" convs after the pools, "
         "and a recipe with shifts", 19_999, 12, 99.3,
         (*_CORE, "transitions", *_TAIL),
         "1×1 transitions shrink channels before the linear head: back "
         "under 20K; batch 64, shifts and Dropout2d 2 % (i1's recipe had "
         "a seed at 99.30 % on this network)",
         gain="cut the channels the linear head sees: back under 20K "
         "parameters", minutes=40,
         design=("Start from your i1 network and run `python -m tinycnn summary` "
          "on it: which layers hold most of the parameters?",
          "A 1×1 transition right after a pool narrows the channels before "
          "the expensive layers that follow it; in front of the linear "
          "head, every channel it removes saves 490 weights.",
          "A layout that passes: two blocks at 28×28, a pool, a 1×1 "
          "transition, two blocks at 14×14, a pool, a 1×1 transition, then "
          "flatten and the Linear head.")),
    Spec("i3", "The GAP head", "a global-average-pooling head, and a "
         "receptive field that covers the digit",
         19_999, 20, 99.4, (*_CORE, "gap", *_TAIL),
         "GAP head replaces the 7×7 linear head; a 3×3 conv at 7×7 grows "
         "the receptive field to 24",
         gain="the head costs 10 parameters per channel (and 10) instead "
         "of thousands; the features see more of the digit", minutes=60,
         design=("Start from your i2 network and replace the head: what is left of "
          "the budget once the linear head is gone is yours to spend on "
          "convs. Then compute the receptive field of the last layer before "
          "the average: if it is well under 20×20, fix that first.",
          "A 3×3 conv after two pools adds 8 pixels to the receptive field "
          "(the jump is 4); the same conv before any pool adds 2. At 7×7 it "
          "costs the same weights as at 28×28 and a sixteenth of the "
          "arithmetic. A 1×1 transition adds nothing to the receptive "
          "field.",
          "A layout that passes: two blocks at 28×28, a pool, a 1×1 "
          "transition, two blocks at 14×14, a pool, one block at 7×7, GAP, "
          "then a 1×1 conv to 10 logits; the last block's width also sets "
          "the head's cost, 10 C + 10.")),
    Spec("i4", "At most 8,000 parameters (stretch)",
         "stretch: the same rules in at most 8,000 parameters and 15 "
         "epochs", 8_000, 15, 99.4,
         (*_CORE, "gap", *_TAIL),
         "six unpadded 3×3 convs, 8 to 20 channels wide, and one pool "
         "instead of five up to 28 wide: under 8K; dropout down to 1 %",
         gain="width costs parameters quadratically, depth only linearly",
         minutes=40,
         design=("List your i3 layers with their costs: which single conv holds "
          "the most? With 8,000 to spend you can afford none like it.",
          "Drop the padding: each unpadded 3×3 conv trims the map by 2, so "
          "one pool and a run of convs reach a small map, and more, thinner "
          "convs keep the receptive field growing.",
          "A layout that passes: three unpadded blocks at full size, a "
          "pool, a 1×1 transition, three unpadded blocks down to 5×5, GAP, "
          "a 1×1 conv to 10 logits; the widest block last.")),
]}
# the grade table's order is each Spec's; blocked checks name this one
ROOT_CHECK = "builds"


def structure(spec: Spec) -> tuple[str, ...]:
    """The step's checks that train nothing: seconds, not minutes."""
    return tuple(c for c in spec.checks if not CHECKS[c].trains)


def title(check: str, spec: Spec) -> str:
    """The line the grade table shows for `check` in `spec`'s step."""
    return CHECKS[check].title.format(
        **vars(spec), epochs_word=epochs(spec.max_epochs).split()[1])


def epochs(n: int) -> str:
    """"1 epoch", "20 epochs"."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def duration(seconds: float) -> str:
    """"45 s", "7 min": a time as the training lines, the README and the
    lessons write it."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
