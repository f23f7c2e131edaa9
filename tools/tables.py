"""The lessons' results tables and their pictures, from the seed runs
committed in benchmarks/results: one-change ablations against the
reference, the "Try this" experiments, a search as a chain of changes,
seeds tables with the margin bar, and how often each reference passes.
Each judges by tools/evidence.py's rules; tools/docs.py puts them in the
pages."""

from __future__ import annotations

import functools
import json
import math
import re

from tinycnn import course
from tools import content
from tools.evidence import (
    RESULTS,
    at_the_bar,
    compare,
    is_reference,
    reference_runs,
    seed_runs,
)
from tools.pictures import png


def spans(lines: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3 7"."""
    out, start = [], None
    for i, n in enumerate(lines):
        if start is None:
            start = n
        if i + 1 == len(lines) or lines[i + 1] != n + 1:
            out.append(f"{start}-{n}" if n > start else f"{n}")
            start = None
    return " ".join(out)


def paired(step: str, name: str, table: str, ref_table: str | None = None,
           ref_folder: str | None = None) -> dict:
    """Variant `name`'s runs in `table` against the reference's (from
    `ref_table`, default the same; `ref_folder` names another baseline) on
    the seeds both have, and the course's verdict on them."""
    ref = seed_runs((ref_table or table).removesuffix(".json"),
                    ref_folder or f"solutions/{step}")
    got = seed_runs(table.removesuffix(".json"), name)
    seeds = sorted(set(got) & set(ref))
    # a diverged run (no accuracy) ranks below every finished one
    done = [s for s in seeds if got[s]["final_test_acc"] is not None]
    accs = [got[s]["final_test_acc"] for s in done]
    base = [ref[s]["final_test_acc"] for s in seeds]
    low = min(accs) if len(done) == len(seeds) else -math.inf
    rule = compare([got[s]["final_test_acc"] for s in seeds], base)
    return {"seeds": seeds, "got": got, "done": done, "accs": accs,
            "base": base, "low": low, "verdict": rule.verdict,
            "paired": rule}


def ablation_md(step: str, names: list[str], table: str,
                ref_table: str | None = None, ref_folder: str | None = None,
                against: str = "reference") -> str:
    """One-change ablations of `step`'s reference, each against the
    reference's runs on the seeds both have (`paired`): how many seeds,
    the mean, the spread (each seed is in `ablation_png`), the paired
    count per seed and its sign test, and the verdict by the course's rule
    (tinycnn/evidence.py)."""
    from benchmarks.variants import VARIANTS

    rows = ["| variant | params | seeds | mean | spread | "
            f"{against}, same seeds: mean, spread | difference | "
            "seed by seed | verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for name in names:
        p = paired(step, name, table, ref_table, ref_folder)
        seeds, got, done, accs, base = (p[k] for k in
                                        ("seeds", "got", "done", "accs",
                                         "base"))
        mean, bmean = sum(accs) / len(accs), sum(base) / len(base)
        diff = round(mean - bmean, 2) or 0.0  # no "-0.00"
        # every seed's accuracy is in the strip plot under the table
        per = (f"{len(seeds)}" if len(done) == len(seeds)
               else f"{len(seeds)} ({len(seeds) - len(done)} diverged)")
        spread = (f"{max(accs) - min(accs):.2f}" if p["low"] > -math.inf
                  else "diverged")
        of = "" if len(done) == len(seeds) else f" ({len(done)} finished)"
        rows.append(
            f"| {VARIANTS[name].what} (`{name}`) | "
            f"{got[done[0]]['params']:,} | {per} | {mean:.2f}{of} | "
            f"{spread} | {bmean:.2f}, "
            f"{max(base) - min(base):.2f} | {diff:+.2f} | "
            f"{p['paired'].statistic} | {p['verdict']} |")
    return "\n".join(rows) + "\n"


def ablation_png(step: str, names: list[str], table: str,
                 ref_table: str | None = None, ref_folder: str | None = None,
                 against: str = "reference") -> bytes:
    """The seeds behind an ablation table: for each variant, its final
    accuracy per seed (a dot each) over the baseline's on the same seeds
    (grey), the means as bars, the pass mark as a red line."""
    rows = []
    for name in names:
        p = paired(step, name, table, ref_table, ref_folder)
        rows.append((f"{name}\n({p['verdict']})", p["accs"], p["base"]))
    return strip_png(rows, course.STEPS[step].pass_acc,
                     f"blue: the variant's seeds; grey: the baseline "
                     f"({against}) on the same seeds;\nbars: means; red: the "
                     "pass mark")


def strip_png(rows: list[tuple[str, list[float], list[float] | None]],
              mark: float, title: str) -> bytes:
    """Rows of (label, accuracies, baseline accuracies or None), top to
    bottom: a dot per seed, a bar per mean, the pass mark in red. A seed
    far under the rest (a diverged run) would squash every row into a
    corner: the axis shows the rows' bulk, and such a seed is an arrow at
    the left edge with its accuracy beside it."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.1 + 0.8 * len(rows)))
    every = sorted(v for _, accs, base in rows for v in accs + (base or []))
    # the bulk: within 0.6 points of the median run and of the pass mark
    left = min(v for v in every
               if v >= min(statistics.median(every), mark) - 0.6) - 0.05
    right = max(every) + 0.05
    for i, (_, accs, base) in enumerate(rows):
        y = len(rows) - 1 - i
        pairs = ((accs, 0.15, "C0"), (base, -0.15, "0.55")) if base \
            else ((accs, 0.0, "C0"),)
        for vals, dy, color in pairs:
            shown = [v for v in vals if v >= left]
            ax.scatter(shown, [y + dy] * len(shown), s=26, alpha=0.8,
                       color=color)
            off = sorted((v for v in vals if v < left), reverse=True)
            if off:
                ax.annotate(", ".join(f"{v:.2f}" for v in off), (left, y + dy),
                            xytext=(16, 0), textcoords="offset points",
                            va="center", fontsize=10, color=color,
                            arrowprops={"arrowstyle": "->", "color": color})
            mean = statistics.mean(vals)
            if mean >= left:
                ax.plot([mean] * 2, [y + dy - 0.12, y + dy + 0.12],
                        color=color, lw=2)
    ax.axvline(mark, color="C3", lw=1)
    ax.set_yticks([len(rows) - 1 - i for i in range(len(rows))],
                  [label for label, _, _ in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(left, right)
    ax.set_xlabel("final test accuracy, %")
    if every[0] < left:
        ax.set_xlabel("final test accuracy, % (an arrow: seeds off the "
                      "left edge)")
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return png(fig)


# i4's ablations ran on its first reference (nets.py's i4-v1), whose runs
# are the solutions/i4 rows of ablations-i4-cpu
def try_md(step: str) -> str:
    """The step's experiments: a question to answer before running, the
    command, and what the recorded runs gave, folded."""
    from benchmarks.variants import VARIANTS

    out, mark = [], course.STEPS[step].pass_acc
    for t in content.tries(step):
        question, name, against = t.question, t.variant, t.against
        p = paired(step, name, t.table, t.ref_table, t.ref_folder)
        accs, base = p["accs"], p["base"]
        diverged = len(p["seeds"]) - len(p["done"])
        runs = f"{min(accs):.2f}-{max(accs):.2f} %"
        if diverged:
            runs += f" ({diverged} of {len(p['seeds'])} diverged)"
        out += [f'??? question "{question}"',
                "    Write down your guess. Then try it on your own network: "
                "copy your step folder, make the change in the copy, and "
                "train both on the same seeds, as the lessons do:",
                "",
                "    ```bash",
                f"    cp -r steps/{step} try/{step}",
                f"    # in try/{step}: {t.how}",
                f"    python -m tinycnn compare steps/{step} try/{step} "
                "--seeds 5",
                "    ```",
                "",
                "    It prints each seed, the spreads, the wins and losses "
                "seed by seed and the verdict by the rule these pages use "
                "(one seed of each says little: see the spread below). "
                # the student edition has no benchmarks/ (tools/edition.py)
                "<!-- course-only -->In the course's own repository, "
                f"`python benchmarks/seeds.py --steps {name} --seeds 1 2 3` "
                "runs this change on the reference.<!-- /course-only -->",
                "",
                f'    ??? note "What we measured: {VARIANTS[name].what}"',
                f"        Seeds {spans(p['seeds']).replace(' ', ', ')} on "
                f"this course's CPU: {runs}, against {against}'s "
                f"{min(base):.2f}-{max(base):.2f} % on the same seeds; "
                f"seed by seed, {p['paired'].statistic}; by this course's "
                f"rule, {p['verdict']}. At the "
                f"{mark:g} % mark: {sum(a >= mark for a in accs)} of "
                f"{len(p['seeds'])} passed, against "
                f"{sum(b >= mark for b in base)} of {len(base)}.",
                ""]
    return "\n".join(out)


def variants_md() -> str:
    """Every named variant and the one line of what it changes."""
    from benchmarks.variants import VARIANTS

    rows = ["| variant | step | what it changes (against the step's "
            "reference) |", "|---|---|---|"]
    rows += [f"| `{name}` | {v.step} | {v.what} |"
             for name, v in sorted(VARIANTS.items())]
    return "\n".join(rows) + "\n"


def chain_md(rows: list[tuple[str, str, str, str]], mark: float
             ) -> tuple[str, bytes]:
    """A search as a chain of changes, each row (label, results log,
    folder, receptive field) against the row above on the seeds both have:
    paired seed by seed, with the verdict by the course's rule
    (tinycnn/evidence.py). The table, and its seeds as a strip plot."""
    out = ["| variant | receptive field before GAP | params | seeds | "
           "min / mean / max | passed | against the row above, seed by seed "
           "| verdict |",
           "|---|---:|---:|---:|---:|---:|---|---|"]
    strips = []
    prev: dict[int, dict] = {}
    for i, (label, name, folder, rf) in enumerate(rows):
        got = seed_runs(name, folder)
        accs = [got[k]["final_test_acc"] for k in sorted(got)]
        both = sorted(set(got) & set(prev))
        a = [got[k]["final_test_acc"] for k in both]
        b = [prev[k]["final_test_acc"] for k in both]
        rule = compare(a, b) if prev else None
        verdict = rule.verdict if rule else ""
        out.append(
            f"| {i + 1}. {label} (`{folder}`) | {rf} | "
            f"{next(iter(got.values()))['params']:,} | "
            f"{len(accs)} | {min(accs):.2f} / "
            f"{sum(accs) / len(accs):.2f} / {max(accs):.2f} | "
            f"{sum(x >= mark for x in accs)} of {len(accs)} | "
            f"{rule.statistic if rule else ''} | {verdict} |")
        strips.append((f"{i + 1}. {folder}" + (f"\n({verdict})" if verdict
                                               else ""), accs, None))
        prev = got
    return "\n".join(out) + "\n", strip_png(
        strips, mark, "each row of the table above, top to bottom, by its "
        "variant's name: a dot per seed,\na bar at the mean; red: the "
        "pass mark; in brackets: against the row above")


def margin_md(name: str, order: list[str] | None = None) -> str:
    """A seeds table (benchmarks/seeds.py's JSON) with what each row
    changed (the registry's words), its spread (min, mean, max), pass rate
    and whether it meets the margin bar (evidence.at_the_bar). Rows in
    `order` (default: as they first appear)."""
    import statistics

    from benchmarks.variants import VARIANTS

    runs = json.loads((RESULTS / f"{name}.json").read_text())["runs"]
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["folder"], []).append(r)
    rows = ["| variant | what it changes | epochs | seeds | min | mean | max "
            "| passed | at the bar |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for folder in order or list(by):
        rs = by[folder]
        accs = [r["final_test_acc"] for r in rs]
        mark = course.STEPS[rs[0]["step"]].pass_acc
        what = (VARIANTS[folder].what if folder in VARIANTS
                else rs[0].get("what")
                or ("the reference" if is_reference(rs[0]["step"], rs[0])
                    else "the reference as it was then"))
        machines = {r.get("platform") for r in rs}
        if len(machines) > 1:  # pooled: each machine's seeds are new seeds
            what += f" (on {len(machines)} machines, pooled)"
        mean = statistics.mean(accs)
        bar = at_the_bar(accs, mark)
        rows.append(
            f"| `{folder}` | {what} | {rs[0]['epochs']} | {len(accs)} | "
            f"{min(accs):.2f} | {mean:.2f} | {max(accs):.2f} | "
            f"{sum(a >= mark for a in accs)} of {len(accs)} | {bar} |")
    return "\n".join(rows) + "\n"


@functools.cache  # its table and its picture are asked for apart
def odds(step: str) -> tuple[str, str, bytes]:
    """How often the reference passes: the table per machine and precision
    (for Results), the sentence over all of them (for the step's page) and
    a strip plot of every seed's final accuracy against the pass mark."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mark = course.STEPS[step].pass_acc
    runs = reference_runs(step)
    rows = ["| where, precision | runs | min | mean | max | passed |",
            "|---|---:|---:|---:|---:|---:|"]
    fig, ax = plt.subplots(figsize=(7, 1.3 + 0.5 * max(len(runs), 1)))
    total = below = 0
    for i, (platform, rs) in enumerate(runs.items()):
        accs = [r["final_test_acc"] for r in rs]
        total, below = total + len(accs), below + sum(a < mark for a in accs)
        rows.append(
            f"| {platform} | {len(accs)} | "  # each seed: in the plot
            f"{min(accs):.2f} | {statistics.mean(accs):.2f} | "
            f"{max(accs):.2f} | {sum(a >= mark for a in accs)} of "
            f"{len(accs)} |")
        ax.scatter(accs, [i] * len(accs), s=22, alpha=0.7, color="C0")
        ax.plot([statistics.mean(accs)] * 2, [i - 0.3, i + 0.3], color="C1")
    ax.axvline(mark, color="C3", lw=1)
    # the machine and the precision, which tell rows apart, without the
    # CPU's feature list; "Intel(R) Xeon(R) Processor" says only "Xeon"
    short = [re.sub(r" \([^()]*\)(?=,)", "", p).replace(
        "Intel(R) Xeon(R) Processor", "Intel Xeon") for p in runs]
    ax.set_yticks(range(len(runs)), short)
    ax.set_ylim(-0.6, len(runs) - 0.4)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(6))
    ax.set_xlabel("final test accuracy, %")
    ax.set_title("dot: a seed; bar: the mean; red line: the pass mark",
                 fontsize=10, loc="left")
    if not runs:
        rows.append("| (no runs of this reference recorded yet) | | | | | |")
    verdict = (f"Of the {total} recorded runs of this reference, "
               f"{below} ended below {mark} %"
               + (f" ({100 * below / total:.0f} %). " if below else ". "))
    verdict += ("A correct solution of yours is another seed of the same "
                "kind: if it ends just under the mark, look at your design "
                "first (the hints), not at the seed." if below else
                "A correct solution that ends under the mark is therefore "
                "rare: look at your design and recipe before you suspect "
                "luck.")
    return "\n".join(rows) + "\n", verdict + "\n", png(fig)


# The lessons' one-change comparisons: (name of the table and its
# picture, ablation_md's arguments, what the baseline is). i4's ran on its
# first reference (nets.py's i4-v1), whose runs are the solutions/i4 rows
# of ablations-i4-cpu.
def search_md(page: str) -> tuple[str, bytes]:
    """A search of docs/lessons.yml as a chain of changes."""
    search = content.searches()[page]
    return chain_md([(r["label"], r["log"], r["folder"], r["rf"])
                     for r in search["rows"]],
                    course.STEPS[search["step"]].pass_acc)


def copy_md(name: str) -> str:
    """A committed benchmark table, as it is."""
    return (RESULTS / name).read_text()


# The experiments the lessons cite, by the file a lesson links (see
# tools/docs.py's MAKERS): each names the runs it was made of, and so the
# steps they ran on; the only place outside the manifest that names steps
def evidence() -> dict:
    """{docs file: its maker} for every results table and picture
    docs/lessons.yml asks for."""
    out = {}
    for page, m in content.margins().items():
        out[f"generated/{page}.md"] = functools.partial(
            margin_md, m["log"], m.get("order"))
    for page, name in content.copies().items():
        out[f"generated/{page}.md"] = functools.partial(copy_md, name)
    for page in content.searches():
        out[f"generated/{page}.md"] = functools.partial(
            lambda p: search_md(p)[0], page)
        out[f"assets/{page}.png"] = functools.partial(
            lambda p: search_md(p)[1], page)
    for a in content.ablations():
        args = (a.step, list(a.variants), a.table, a.ref_table)
        out[f"generated/{a.page}.md"] = functools.partial(
            ablation_md, *args, against=a.against)
        out[f"assets/{a.page}.png"] = functools.partial(
            ablation_png, *args, against=a.against)
    return out
