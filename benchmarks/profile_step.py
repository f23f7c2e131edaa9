"""Where a training step's time goes: torch.profiler over the engine's step.

    python -m benchmarks.profile_step [--dropout element|channel]

Prints the operators that take the most CPU time over 30 steps of the seed
README's net at batch 128 (after 5 warm-up steps).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from benchmarks.train_speed import baseline_net
from tinycnn.train.data import load_mnist
from tinycnn.train.precision import choose
from tinycnn.train.recipe import Recipe
from tinycnn.train.step import prepare, train_batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dropout", choices=["element", "channel"],
                   default="channel")
    p.add_argument("--rows", type=int, default=12)
    args = p.parse_args()
    precision = choose(torch.device("cpu"))[0]
    X_train, y_train, _, _ = load_mnist()
    drop = nn.Dropout if args.dropout == "element" else nn.Dropout2d
    model = baseline_net(drop).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    recipe = Recipe(rotation=7)

    def step() -> None:  # the engine's own step
        idx = torch.randint(0, len(X_train), (128,))
        train_batch(model, opt, prepare(X_train[idx], recipe), y_train[idx],
                    precision)

    for _ in range(5):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(30):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total",
                                    row_limit=args.rows))


if __name__ == "__main__":
    main()
