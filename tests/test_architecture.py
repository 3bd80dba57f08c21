"""The package's imports, read from its source: no import cycle, and report/ (rendering) imported only by the
shells that write reports (issue 26's rule; farm-free: the walk is ast on the files themselves)."""
import ast
from pathlib import Path

import fr_eval

PACKAGE = Path(fr_eval.__file__).resolve().parent
#: the shells that compose stages and write reports: the only modules outside report/ that may import it
SHELLS = {"fr_eval.cli", "fr_eval.api"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports() -> dict:
    """module -> the fr_eval modules it imports (anywhere in the file, functions included)."""
    mods = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    out = {}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("fr_eval")}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("fr_eval"):
                    continue
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}  # "from . import metrics"
        out[name] = {m for m in found if m in mods and m != name}
    return out


def cycles(graph: dict) -> list:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
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

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_imports():
    g = imports()
    assert "fr_eval.metrics" in g["fr_eval.evaluation"] and "fr_eval.report.io" in g["fr_eval.cli"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the finder finds one


def test_no_import_cycle():
    # a package's __init__ importing its own submodules is not a cycle of the code; leave those edges out
    g = {m: {t for t in ts if not (m.endswith(("fr_eval", "__init__")) or t.startswith(m + "."))}
         for m, ts in imports().items()}
    assert cycles(g) == []


def test_report_is_imported_only_by_the_shells():
    upward = sorted((m, t) for m, ts in imports().items() for t in ts
                    if t.startswith("fr_eval.report") and not m.startswith("fr_eval.report") and m not in SHELLS)
    assert upward == []


def test_public_metric_functions_say_their_arrays():
    """Every public function of metrics.py and streaming.py documents its parameters and what it returns
    (numpydoc sections, as scikit-learn's metrics do)."""
    import inspect

    from fr_eval import metrics, streaming

    missing = []
    for mod in (metrics, streaming):
        for name, f in inspect.getmembers(mod, inspect.isfunction):
            if f.__module__ == mod.__name__ and not name.startswith("_"):
                doc = inspect.getdoc(f) or ""
                if "Parameters\n----------" not in doc or "Returns\n-------" not in doc:
                    missing.append(f"{mod.__name__}.{name}")
    assert missing == []
