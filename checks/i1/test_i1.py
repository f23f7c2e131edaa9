"""Grader for step i1: one test per check that tinycnn/course.py
lists for i1, each documented by its rule as the lesson states it.

    pytest checks/i1                  every check; the accuracy check trains
    pytest checks/i1 -m "not slow"    the structure checks: seconds

Each test hands its check to the grader (tinycnn/grade: CONTRIBUTING says
the path a grade walks); your code runs only in a sandboxed process.
Written by `python -m tools derive` from the manifest: edit the manifest.
"""

import pytest

from tinycnn.grader.plugin import judge


def test_builds(graded):
    """Net() builds and runs a forward pass

    model.py and train.py import; Net() builds; a (B, 1, 28, 28) batch
    in channels_last memory (as training feeds it) runs in train and
    eval mode and gives finite numbers; torch.export can trace forward
    (no Python decisions on tensor values), into ATen ops that compute
    (none that reads files), and no op computes more than 262,144 values
    per image. The batch size (x.size(0)) only sizes tensors, never
    enters a computation; a tensor forward changes in place is read only
    by what updates it (BatchNorm's running statistics, a step counter);
    and forward works on the weights the grader draws, not only on
    Net()'s. Your code runs in a separate, sandboxed process; the grader
    reads only the traced network it hands back, and runs it on real
    MNIST training images.
    """
    judge(graded, "builds")


def test_params(graded):
    """at most 21,999 parameters

    Every tensor the network keeps counts: its parameters, its buffers
    other than BatchNorm's running statistics, and tensor constants used
    in forward; a tensor two layers share counts once. A value forward
    builds from numbers alone (torch.linspace(...), a stack of scalars)
    is a constant like a buffer: it counts, and the grader redraws it
    when its values differ. Forward may write at most 256 numbers into
    its ops (an eps, a slope, a scale; sizes, dropout's p and
    BatchNorm's momentum do not count): weights are tensors the network
    keeps, which the grader counts and draws.
    """
    judge(graded, "params")


def test_batchnorm(graded):
    """BatchNorm normalises, using running stats in eval

    At least one BatchNorm (nn.BatchNorm2d or F.batch_norm) runs, the
    logits depend on its output (also in train mode at the recipe's
    batch size), every BatchNorm defined is called, and in eval mode
    every BatchNorm uses its running statistics: one image's prediction
    never depends on the rest of the batch, checked at the evaluation
    batch of 1,000 images.
    """
    judge(graded, "batchnorm")


def test_dropout(graded):
    """Dropout random in train mode, off in eval mode

    In train mode at least one dropout op with p > 0 (nn.Dropout,
    nn.Dropout2d, F.dropout, F.dropout2d, or a Bernoulli mask) runs and
    the logits depend on it, on a small batch and at the recipe's batch
    size; in eval mode no random op runs and the output is
    deterministic. Gaussian noise is not dropout.
    """
    judge(graded, "dropout")


def test_output(graded):
    """output is (B, 10) for any batch size

    In eval mode, batches of 1, 3, 64 and 1,000 images (the evaluation
    batch) give outputs of shape (B, 10); in train mode, a batch of the
    recipe's size gives (B, 10) floating-point scores that carry
    gradients.
    """
    judge(graded, "output")


def test_shapes(graded):
    """layer_shapes() matches the forward pass

    layer_shapes() returns a dict of entries {name: output shape without
    the batch dimension, a tuple of ints} that covers every conv, every
    pool (max, average, global average) and every Linear, and is right
    about every layer it names. An entry named after a module ("conv1",
    "features.3") states that module's output, wherever it stands; the
    other entries are read in forward order, each the output of some op
    (a BatchNorm's, a block's or the flattened map are fine as extra
    entries).
    """
    judge(graded, "shapes")


def test_epochs(graded):
    """recipe() trains at most 10 epochs

    recipe() returns a tinycnn Recipe whose fields are valid (num_epochs
    a whole number from 1 to the cap, every field in its range:
    help(tinycnn.Recipe); OneCycle needs at least 2 optimizer steps to
    warm up and 2 to anneal); it is read once, and that same recipe
    trains.
    """
    judge(graded, "epochs")


@pytest.mark.slow
def test_accuracy(graded):
    """final test accuracy at least 99.3%

    The grader trains the traced network by your recipe (or reuses a run
    it made of this exact code and recipe), starting from weights it
    draws itself under the recipe's seed, as PyTorch's own layers
    initialise them (a custom initialisation, or weights loaded in
    Net(), is not graded), then evaluates the final weights itself on
    the 10,000 test images. Training runs within the grader's memory
    budget (at most 8 GB, less on a smaller machine) and the step's time
    budget; the trained network must still pass the rules it passed
    before training.
    """
    judge(graded, "accuracy")
