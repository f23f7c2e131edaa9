"""The graders are fair to designs nobody wrote down: hypothesis draws
legitimate networks in every style the lessons allow (tests/designs.py)
and each must pass every structure check of its step, with the grader's
parameter count, and `python -m tinycnn summary` must give one row per
conv, pool, global average and Linear with the true shapes and receptive
fields. A drawn mutation of one (a BatchNorm dropped, dropout off or left
on in eval, a flattened path around the average, a table entry off by
one, a parameter over budget, an extra epoch) must fail exactly the check
it breaks, with that check's hint.

Fast lane: a fixed, derandomized draw (FAST designs, MUTATED mutants),
probed in one batch as the mutant library is. The full lane (`-m
mutants`) draws more. A design a draw found unfair is kept as a fixed
case in tests/fairness_cases/ and graded every time.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from designs import (
    GAPS,
    HEADS,
    MUTATIONS,
    ORDERS,
    STYLES,
    TABLES,
    Built,
    Design,
    build,
    fits,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tinycnn.course import CHECKS, STEPS, structure
from tinycnn.grader.run import run_many

FAST, MUTATED = 7, 7
FULL, FULL_MUTATED = 18, 12
CASES = Path(__file__).with_name("fairness_cases")

widths = st.lists(st.lists(st.sampled_from([4, 6, 8, 10, 12, 16]),
                           min_size=1, max_size=3),
                  min_size=2, max_size=3).map(
    lambda ws: tuple(tuple(w) for w in ws))

designs = st.builds(
    Design, step=st.sampled_from(["i3", "i4"]), widths=widths,
    padded=st.booleans(), order=st.sampled_from(ORDERS),
    drop=st.sampled_from(["Dropout2d", "Dropout", "F.dropout"]),
    pool=st.sampled_from(["module", "function"]),
    transition=st.sampled_from(["after", "before", "none"]),
    residual=st.booleans(), depthwise=st.booleans(),
    gap=st.sampled_from(GAPS), head=st.sampled_from(HEADS),
    log_softmax=st.booleans(), style=st.sampled_from(STYLES),
    table=st.sampled_from(TABLES)).filter(fits)


def _mutable(d: Design) -> list[str]:
    """The mutations that make sense for `d`: dropout left on in eval is
    a functional call (a module switches off by itself); a BatchNorm can
    only go where there is one."""
    out = [m for m in MUTATIONS if m != "dropout in eval"]
    if d.style in ("attributes", "functional"):
        out.append("dropout in eval")
    return out


def _one_rule_broken(d: Design) -> bool:
    """The mutant breaks its own rule only (a flattened path must not
    also push it over the budget)."""
    return d.mutation == "over budget" or \
        build(d).params <= STEPS[d.step].max_params


mutants = designs.flatmap(lambda d: st.sampled_from(_mutable(d)).map(
    lambda m: dataclasses.replace(d, mutation=m))).filter(_one_rule_broken)


def draw(strategy, n: int) -> list:
    """`n` examples of `strategy`, the same ones every run."""
    found: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        found.append(x)

    collect()
    return found[:n]


def cover(drawn: list[Design]) -> list[Design]:
    """The drawn designs with their style, average, head and table form
    (and a mutant's mutation) taken in turn, so that even a small draw
    has every one of them; the rest stays as drawn."""
    out = []
    mutations = list(MUTATIONS)
    for k, d in enumerate(drawn):
        d = dataclasses.replace(
            d, style=STYLES[k % len(STYLES)], gap=GAPS[k % len(GAPS)],
            head=HEADS[k % len(HEADS)], table=TABLES[k % len(TABLES)])
        if d.mutation is not None:
            d = dataclasses.replace(d, mutation=mutations[k % len(mutations)])
            if d.mutation == "dropout in eval":  # a functional call only
                d = dataclasses.replace(d, style="functional")
            if not _one_rule_broken(d):
                d = dataclasses.replace(d, mutation="no batchnorm")
        out.append(d)
    return out


def fixed_cases() -> list[Built]:
    """Designs a draw once graded unfairly, kept as written (a first line
    `# step: iN` says for which step)."""
    out = []
    for path in sorted(CASES.glob("*.py")):
        step = re.search(r"# step: (i\d)", path.read_text()).group(1)
        train = build(Design(step=step)).train
        out.append(Built(Design(step=step), path.read_text(), train, [], -1))
    return out


def grade_all(built: list[Built], tmp: Path) -> list[dict]:
    jobs = []
    for k, b in enumerate(built):
        folder = tmp / f"d{k}" / b.design.step
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(b.model)
        (folder / "train.py").write_text(b.train)
        jobs.append((folder, STEPS[b.design.step],
                     list(structure(STEPS[b.design.step]))))
    return run_many(jobs, timeout=60)


def judge(b: Built, rows: dict) -> None:
    """Every check passes but the one the mutation breaks, which fails
    with that check's hint; the grader's count is the design's."""
    got = {c: r["status"] for c, r in rows.items()}
    want = {c: b.expect.get(c, "passed") for c in rows}
    assert got == want, _explain(b, rows)
    for check in b.expect:  # the hint of the check it broke
        assert rows[check].get("hint") in CHECKS[check].hints, rows[check]
    if not b.expect and b.params >= 0:
        n = int(rows["params"]["output"].split()[0].replace(",", ""))
        assert n == b.params, _explain(b, rows)


def _explain(b: Built, rows: dict) -> str:
    return "\n".join([str(b.design), b.model,
                      *(f"{c}: {r['status']}: {r['output']}"
                        for c, r in rows.items())])


def summary_agrees(b: Built) -> None:
    """The learner's table tool reads the design as the grader does."""
    import types

    from tinycnn.learner.summary import summarize

    module = types.ModuleType("design")
    exec(compile(b.model, "model.py", "exec"), module.__dict__)
    rows = [r for r in summarize(module.Net()) if r.kind != "unused weights"]
    assert [r.shape for r in rows] == [layer.shape for layer in b.layers], \
        b.model
    assert [r.rf for r in rows] == [layer.rf for layer in b.layers], b.model
    assert sum(r.params for r in rows) == b.params, b.model


FAST_DESIGNS = [build(d) for d in cover(draw(designs, FAST))]
FAST_MUTANTS = [build(d) for d in cover(draw(mutants, MUTATED))]


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    built = FAST_DESIGNS + FAST_MUTANTS + fixed_cases()
    return built, grade_all(built, tmp_path_factory.mktemp("fair"))


def test_the_fast_draw_covers_the_styles():
    """Every style, average, head and table form, and every mutation, is
    in the fast lane's draw; residual adds and depthwise convs in the
    full one."""
    every = [b.design for b in FAST_DESIGNS]
    for attr, values in (("style", STYLES), ("gap", GAPS),
                         ("head", HEADS), ("table", TABLES)):
        seen = {getattr(d, attr) for d in every}
        assert seen == set(values), (attr, seen)
    assert {b.design.mutation for b in FAST_MUTANTS} == set(MUTATIONS)
    full = draw(designs, FULL)
    assert any(d.residual for d in full) and any(d.depthwise for d in full)


@pytest.mark.parametrize("k", range(len(FAST_DESIGNS) + len(FAST_MUTANTS)))
def test_each_drawn_design_is_graded_fairly(k, fast):
    built, rows = fast
    judge(built[k], rows[k])
    if not built[k].expect:
        summary_agrees(built[k])


def test_the_fixed_cases_pass(fast):
    built, rows = fast
    for b, r in list(zip(built, rows, strict=True))[
            len(FAST_DESIGNS) + len(FAST_MUTANTS):]:
        assert all(x["status"] == "passed" for x in r.values()), \
            _explain(b, r)


@pytest.mark.mutants
def test_a_larger_draw_is_graded_fairly(tmp_path):
    built = [build(d) for d in cover(draw(designs, FULL))[FAST:]] + \
        [build(d) for d in cover(draw(mutants, FULL_MUTATED))[MUTATED:]]
    for b, rows in zip(built, grade_all(built, tmp_path), strict=True):
        judge(b, rows)
        if not b.expect:
            summary_agrees(b)
