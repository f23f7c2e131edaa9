"""What the committed runs measured, for the lessons: the training speed
table, the reference's confusion matrix and its misclassified digits,
and the reference's traced graph (the hash its record must carry)."""

from __future__ import annotations

import functools
import json

import torch

from tinycnn.paths import ROOT
from tools import pictures
from tools.evidence import REF, RESULTS
from tools.pictures import png


def speed_md() -> str:
    rows = ["| machine | seed pipeline s/epoch | engine fp32 | engine bf16 | "
            "engine picks | speed-up |", "|---|---:|---:|---:|---|---:|"]
    for f in sorted(RESULTS.glob("train_speed-*.json")):
        d = json.loads(f.read_text())
        machine = (f"{d['cpu']} ({d['capability']})" if "cpu" in d else
                   "x86 CPU with AMX (model not recorded)")
        picks = d.get("engine_picks", "bf16 (always, then)")
        rows.append(
            f"| {machine}, {d['device']}, {d['threads']} threads | "
            f"{d['seed_s_per_epoch']} | "
            f"{d.get('engine_fp32_s_per_epoch', '-')} | "
            f"{d.get('engine_bf16_s_per_epoch', d['engine_s_per_epoch'])} | "
            f"{picks} | **{d['speedup']}x** |")
    refs = []  # whole epochs of the references (train_speed.py --steps)
    for f in sorted(RESULTS.glob("train_speed-*.json")):
        d = json.loads(f.read_text())
        for step, r in d.get("references", {}).items():
            refs.append(
                f"| {d['cpu']} ({d['capability']}), {d['threads']} threads "
                f"| {step} | {r['batch_size']} | {r['fp32_s_per_epoch']} | "
                f"{r['bf16_s_per_epoch']} | {r['test_pass_s']} s | "
                f"{r['fp32_s_per_epoch'] / r['bf16_s_per_epoch']:.2f}x |")
    if refs:
        rows += ["", "Whole epochs of the references as they train (their "
                 "net, batch and augmentation, and the test pass, which is "
                 "fp32 in every run):", "",
                 "| machine | reference | batch | fp32 s/epoch | bf16 s/epoch "
                 "| of which the test pass | fp32 / bf16 |",
                 "|---|---|---:|---:|---:|---:|---:|", *refs]
    return "\n".join(rows) + "\n"


@functools.cache  # its table and its two pictures are asked for apart
def confusion(step: str) -> tuple[str, bytes, bytes]:
    """Confusion matrix and misclassified digits of the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinycnn.grader.network import GradedNet
    from tinycnn.train.step import prepare

    # the checkpoint is the traced network's, as the grader loads it
    net = GradedNet(reference_graphs(step))
    net.load_state_dict(torch.load(REF / f"{step}.pt", weights_only=True))
    net.eval()
    X, y = pictures.test_set()  # read once for every picture
    with torch.no_grad():
        pred = torch.cat([net(prepare(X[i:i + 1000])).argmax(1)
                          for i in range(0, len(X), 1000)])
    cm = torch.zeros(10, 10, dtype=torch.long)
    cm.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    wrong = (pred != y).nonzero().flatten()

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow((cm.float() + 1).log().numpy(), cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if i == j else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10),
           yticks=range(10), title=f"{step}: {len(wrong)} of {len(y)} wrong")
    cm_png = png(fig)

    # 8 columns at 8 in: the picture shows at about its own size in the
    # 720 px column, so the labels read at 12 pt
    n = min(len(wrong), 40)
    fig, axes = plt.subplots(5, 8, figsize=(7, 6.4))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            i = int(wrong[k])
            ax.imshow(X[i, 0].numpy(), cmap="gray_r")
            ax.set_title(f"{int(y[i])}→{int(pred[i])}", fontsize=12)
    fig.suptitle("first misclassified test digits (true → predicted)",
                 fontsize=13)
    grid_png = png(fig)

    pairs = sorted(((int(cm[i, j]), i, j) for i in range(10)
                    for j in range(10) if i != j), reverse=True)[:5]
    md = (f"{len(wrong)} of {len(y):,} test digits are wrong "
          f"({100 * len(wrong) / len(y):.2f} %). The most frequent "
          "confusions (true → predicted): "
          + ", ".join(f"{i}→{j} ({c})" for c, i, j in pairs) + ".\n")
    return md, cm_png, grid_png


@functools.cache
def reference_graphs(step: str) -> dict:
    """The reference's network as the grader traces it (probed once)."""
    from tinycnn.grader import network
    from tinycnn.sandbox import probe

    result = probe.run(ROOT / "solutions" / step, seed=1)
    try:
        return network.load(result.out, 1)
    finally:
        result.remove()


def reference_hash(step: str) -> str:
    """The graph hash of the reference's code as it is now (its record
    must carry the same)."""
    from tinycnn.grader import network

    return network.graph_hash(reference_graphs(step))


