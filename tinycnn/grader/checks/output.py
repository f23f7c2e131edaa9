"""The output check: (B, 10) scores for any batch size."""

from __future__ import annotations

import torch

from tinycnn.grader.batches import images
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def check_output(sub: Submission) -> str:
    big = sub.big_batches()
    tried = [(1, "eval"), (3, "eval"), (64, "eval")]
    if "eval" in big:
        tried.append((big["eval"], "eval"))
    if "train" in big:
        tried.append((big["train"], "train"))
    for batch, mode in tried:
        at = f"a batch of {batch}" + (" in train mode (your recipe's batch "
                                      "size)" if mode == "train" else "")
        try:
            if mode == "train":
                with torch.enable_grad():
                    out = sub.graphs["train"].run(images(batch))[0]
            else:
                out = sub.logits("eval", images(batch))
        except Exception as e:  # the graph refuses the batch
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise Fail(f"{at} fails: {type(e).__name__}: {first}",
                       hint("output", 1)) from None
        if not torch.is_tensor(out):
            raise Fail(f"{at} gave a {type(out).__name__}, not a tensor",
                       hint("output", 1))
        if tuple(out.shape) != (batch, 10):
            raise Fail(f"{at} gave output shape {tuple(out.shape)}, "
                       f"expected ({batch}, 10)",
                       _output_hint(tuple(out.shape), batch))
        if not out.is_floating_point():
            raise Fail(f"{at} gave {str(out.dtype).removeprefix('torch.')} "
                       "values: the output must be floating-point scores "
                       "(logits), not class indices", hint("output", 2))
        if mode == "train" and not out.requires_grad:
            raise Fail("in train mode the output carries no gradient, so "
                       "training cannot learn from it: forward detaches it "
                       "(.detach(), .data, torch.no_grad()) or makes it with "
                       "an op that has none (argmax, round, a comparison)",
                       hint("output", 2))
    sizes_seen = ", ".join(str(b) for b in dict.fromkeys(b for b, _ in tried))
    return f"(B, 10) for B = {sizes_seen}"


def _output_hint(shape: tuple[int, ...], batch: int) -> str:
    """The fix for the shape forward gave, not a generic one."""
    if len(shape) == 2 and shape[0] == batch:
        return (f"{shape[1]} scores per image where there are 10 digits: "
                "the last layer's out_features (or out_channels) must be 10.")
    return hint("output", 1)
