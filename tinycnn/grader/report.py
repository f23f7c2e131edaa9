"""The grade table, one way everywhere: pytest's summary (plugin.py),
`python -m tinycnn watch` and a notebook's grade() print the same lines."""

from __future__ import annotations

import textwrap

MARKS = {"passed": "PASS", "failed": "FAIL", "blocked": "----",
         "interrupted": "STOP"}


def lines(rows: list[dict], width: int | None = None,
          what: str = "checks passed") -> list[str]:
    """Rows ({name, status, output, hint?}) as the table's lines: a mark
    and the check's title, what it measured and its hint under it
    (wrapped to `width`), and how many passed."""
    out = []
    for r in rows:
        out.append(f"{MARKS[r['status']]}  {r['name']}")
        said = [r["output"]] if r.get("output") else []
        if r.get("hint"):
            said.append(f"hint: {r['hint']}")
        for text in said:
            out += [_indent(line, width) for line in text.splitlines()]
    ok = sum(r["status"] == "passed" for r in rows)
    out.append(f"{ok}/{len(rows)} {what}")
    return out


def _indent(line: str, width: int | None) -> str:
    if width is None:
        return f"      {line}"
    return "\n".join(textwrap.wrap(line, max(40, width - 6),
                                   initial_indent="      ",
                                   subsequent_indent="      ")) or "      "


def titled(rows: dict[str, dict], spec) -> list[dict]:
    """{check: row} of a grade (run.run_checks) as rows named by the
    checks' titles in `spec`'s step."""
    from tinycnn.course import title

    return [{**r, "name": title(check, spec)} for check, r in rows.items()]
