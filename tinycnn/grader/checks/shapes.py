"""The shapes check: layer_shapes() matches the forward pass."""

from __future__ import annotations

from tinycnn.grader import shape_table
from tinycnn.grader.hints import cause_hint, hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail

TABLE_FORM = ("layer_shapes() returns a dict {name: shape}, each shape a "
              "tuple of ints without the batch: (C, H, W) for a map, (N,) "
              "for a vector, e.sub. {\"conv1\": (16, 28, 28), \"fc\": (10,)}.")


def _declared(raw) -> list[tuple[str, tuple[int, ...]]]:
    if isinstance(raw, dict) and "unreadable" in raw:
        raise Fail(f"layer_shapes() returned something the grader cannot "
                   f"read: {raw['unreadable']}", TABLE_FORM)
    if not isinstance(raw, dict) or "dict" not in raw or not raw["dict"]:
        got = raw.get("repr") if isinstance(raw, dict) else raw
        if isinstance(raw, dict) and "seq" in raw:
            got = f"a list or tuple of {len(raw['seq'])} items"
        raise Fail(f"layer_shapes() must return a non-empty dict "
                   f"{{name: (C, H, W)}}; it returned {got}", TABLE_FORM)
    rows = []
    for name, v in raw["dict"]:
        items = v.get("seq") if isinstance(v, dict) else None
        if items is None or not items or not all(
                isinstance(i, int) for i in items):
            shown = v.get("repr", v) if isinstance(v, dict) else v
            raise Fail(f"entry {name!r}: expected a tuple of ints like "
                       f"(16, 28, 28), got {shown}", TABLE_FORM)
        rows.append((name, tuple(items)))
    return rows


def check_shapes(sub: Submission) -> str:
    ev = sub.graphs["eval"]
    e = sub.result.error("layer_shapes()")
    if e is not None:
        msg = (f"not implemented yet: {e['message']}" if e["kind"] == "todo"
               else f"layer_shapes() raised {e['type']}: {e['message']}"
               f"{e['where']}")
        raise Fail(msg, cause_hint(msg, "shapes"))
    declared = _declared(sub.result.facts.get("layer_shapes"))
    verdict = shape_table.judge(declared, ev)
    if not verdict.ok:
        raise Fail(verdict.message, hint("shapes", verdict.tier))
    n = len(shape_table.layers(ev))
    told = "" if len(declared) == n else f"{len(declared)} entries for "
    return f"{told}{n} layers, all as declared"
