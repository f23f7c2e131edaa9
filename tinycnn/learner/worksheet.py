"""The design worksheet: a table the learner fills in by hand before
training (layer | C_in | C_out | H×W | parameters | receptive field), and
its check against the network as the grader traces it.

    python -m tinycnn summary steps/i3 --worksheet plan.md

writes an empty worksheet with one row per layer of the network in
steps/i3 when plan.md does not exist yet, and otherwise says, cell by
cell, where the filled-in table differs from the traced network. Rows are
matched in order (a layer is one row of `summary`: a conv with what
follows it, a pool, the average, a Linear); the names are the learner's.
"""

from __future__ import annotations

import re

from tinycnn.learner.summary import Layer

COLUMNS = ("layer", "C_in", "C_out", "H×W", "parameters", "receptive field")


def blank(rows: list[Layer]) -> str:
    """An empty worksheet with a row per layer, numbered."""
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {i} |  |  |  |  |  |" for i in range(1, len(rows) + 1)]
    return "\n".join(lines) + "\n"


def truth(rows: list[Layer]) -> list[dict[str, str]]:
    """Each layer's cells as the worksheet writes them."""
    out, c_in = [], 1
    for r in rows:
        c = r.shape[0] if r.shape else 0
        hw = (f"{r.shape[1]}×{r.shape[2]}" if len(r.shape) == 3 else "1×1")
        out.append({"C_in": str(c_in), "C_out": str(c), "H×W": hw,
                    "parameters": str(r.params),
                    "receptive field": "all" if r.rf is None else str(r.rf)})
        c_in = c
    return out


def _norm(column: str, cell: str) -> str:
    cell = cell.strip().replace(",", "").replace(" ", "").lower()
    if column == "H×W":
        cell = cell.replace("x", "×").replace("*", "×")
        if re.fullmatch(r"\d+", cell):
            cell = f"{cell}×{cell}"
    if column == "receptive field":
        m = re.fullmatch(r"(\d+)(?:×\1)?(?:px)?", cell.replace("x", "×"))
        cell = m[1] if m else cell
    return cell


def check(text: str, rows: list[Layer]) -> list[str]:
    """Where the worksheet `text` differs from the traced layers: one line
    per wrong cell; empty cells are not yet filled and not judged."""
    table = [[c.strip() for c in line.strip().strip("|").split("|")]
             for line in text.splitlines() if line.strip().startswith("|")]
    if not table or [c.lower() for c in table[0]] != [
            c.lower() for c in COLUMNS]:
        return ["the worksheet's first row must be: | "
                + " | ".join(COLUMNS) + " |"]
    filled = [r for r in table[2:] if len(r) == len(COLUMNS)]
    said = []
    if len(filled) != len(rows):
        said.append(f"{len(filled)} rows written; the network has "
                    f"{len(rows)} layers (one row each, in forward order)")
    for i, (mine, real) in enumerate(zip(filled, truth(rows), strict=False)):
        for col, cell in zip(COLUMNS[1:], mine[1:], strict=True):
            if cell and _norm(col, cell) != _norm(col, real[col]):
                said.append(f"row {i + 1} ({mine[0] or rows[i].name}): "
                            f"{col} {cell}, the network's is {real[col]}")
    return said
