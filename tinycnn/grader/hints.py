"""What the grader tells a learner whose check failed: the check's own
hint tiers (from the manifest, course.CHECKS), or, where an error message
makes the cause clear, a hint for that cause."""

from __future__ import annotations

import re

from tinycnn.course import CHECKS


def hint(check: str, tier: int = 0) -> str:
    hints = CHECKS[check].hints
    return hints[min(tier, len(hints) - 1)]


# Hints for causes that are clear from an error message: (pattern, hint).
CAUSES = [
    (r"NotImplementedError|not implemented yet",
     "Replace the `raise NotImplementedError` at that TODO in your step "
     "folder; the lesson section it names explains what to write."),
    # a Linear works on the last dimension: a map not flattened gives it
    # W values per row (1 after a global average), not C x H x W
    (r"mat1 and mat2 shapes cannot be multiplied \(\d+x1 and (\d+)x",
     "A Linear gets a (B, C, 1, 1) map, the output of a global average "
     "that was not flattened: a Linear works on the last dimension, which "
     "is 1 here. Flatten first (X.flatten(1) gives (B, C)), or make the "
     "head a 1x1 conv and flatten its output."),
    (r"mat1 and mat2 shapes cannot be multiplied \(\d+x([2-9]|1\d|2[0-8]) "
     r"and (\d+)x",
     "A Linear gets {1} values per row where it expects {2}: {1} is the "
     "width of a map that was not flattened (a Linear works on the last "
     "dimension). Flatten first with X.flatten(1); in_features is then "
     "C x H x W of that map."),
    (r"mat1 and mat2 shapes cannot be multiplied \(\d+x(\d+) and (\d+)x",
     "A Linear's in_features ({2}) does not match what reaches it ({1} "
     "values per image): after changing a width or a pool, recompute "
     "C x H x W of the map you flatten."),
    (r"view size is not compatible",
     "Training feeds channels_last batches, and .view() needs contiguous "
     "memory: flatten with X.flatten(1) or X.reshape(X.size(0), -1)."),
    (r"expected input\[.*\] to have (\d+) channels, but got (\d+)",
     "A conv expects {1} input channels but gets {2}: its in_channels must "
     "equal the out_channels of the layer before it."),
    (r"running_mean should contain (\d+) elements not (\d+)",
     "A BatchNorm2d(C) must have C equal to the out_channels of the conv "
     "before it."),
    (r"Output size is too small|Kernel size can't be greater",
     "The map shrank to nothing: too many pools or unpadded convs for "
     "28 x 28; work the shape table out by hand."),
    (r"torch\.export \(\w+ mode\) raised|data-dependent",
     "The grader traces forward with torch.export: avoid .item(), numpy, "
     "and `if` on tensor values inside forward."),
]


def cause_hint(message: str, check: str = "builds") -> str:
    for pattern, text in CAUSES:
        m = re.search(pattern, message)
        if m:
            return text.format(None, *m.groups())
    return hint(check)
