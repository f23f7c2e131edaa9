"""The library's layout, as CONTRIBUTING draws it: packages by role, each
importing only the layers below it, no import cycle (imports inside
functions count: they hide the real graph, not remove it), and no module
of the package or of tools/ over 450 lines."""

import ast
from pathlib import Path

import pytest

from tinycnn.paths import ROOT

# each package, and what it may import from the course's own code
LAYERS = {
    "base": ("tinycnn.course", "tinycnn.paths", "tinycnn.posix",
             "tinycnn.evidence", "tinycnn.figure"),
    "train": ("base",),
    "sandbox": ("base", "train"),
    "grader": ("base", "train", "sandbox"),
    "learner": ("base", "train", "sandbox", "grader"),
}
ENTRIES = ("tinycnn", "tinycnn.__main__", "tinycnn.autograde")
MAX_LINES = 450


def modules(top: str) -> dict[str, Path]:
    """{dotted name: file} of every module under ROOT/top."""
    out = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The course modules `name` imports, anywhere in the file."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) -
                                        node.level + 1]
                base = ".".join([*up, base] if base else up)
            # a submodule where it is one, else a name of module `base`
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known
                       else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = {**modules("tinycnn"), **modules("tools")}
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def layer(name: str) -> str | None:
    if name in LAYERS["base"]:
        return "base"
    parts = name.split(".")
    if parts[0] == "tinycnn" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module
    (Tarjan's algorithm, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in g:
        if start in index:
            continue
        work = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in g:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_cycle_test_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", [p for p in LAYERS if p != "base"])
def test_each_package_imports_only_the_layers_below(package):
    g = graph()
    allowed = set(LAYERS[package])
    bad = {name: sorted(t for t in targets if layer(t) not in allowed
                        and layer(t) != package and t.startswith("tinycnn")
                        and t not in ENTRIES)
           for name, targets in g.items() if layer(name) == package}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_base_modules_import_only_each_other():
    g = graph()
    for name in LAYERS["base"]:
        assert g[name] <= set(LAYERS["base"]), (name, g[name])


def test_the_course_code_never_imports_the_authors_tools():
    for name, targets in graph().items():
        if name.startswith("tinycnn"):
            assert not [t for t in targets if t.startswith("tools")], name


def test_every_package_says_what_it_owns_and_may_import():
    for package in [p for p in LAYERS if p != "base"]:
        doc = ast.get_docstring(ast.parse(
            (ROOT / "tinycnn" / package / "__init__.py").read_text()))
        assert doc and "May import" in doc, package


@pytest.mark.parametrize("top", ["tinycnn", "tools"])
def test_no_module_over_450_lines(top):
    long = {str(p.relative_to(ROOT)): n for p in modules(top).values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long
