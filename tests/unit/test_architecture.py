"""The package's imports, read from its source: no import cycle, and report/ (rendering) imported only by the
shells that write reports (issue 26's rule; farm-free: the walk is ast on the files themselves)."""
import ast
from pathlib import Path

import fr_eval

PACKAGE = Path(fr_eval.__file__).resolve().parent
#: the shells that compose stages and write reports: the only modules outside report/ that may import it
SHELLS = {"fr_eval.cli", "fr_eval.api", "fr_eval.comparing"}


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


#: the parsing layer: the only modules that read the configuration as plain containers (Hydra's and
#: OmegaConf's output, a saved config.yaml) before it becomes fr_eval.settings.Config
PARSING = {"settings.py", "config.py", "compose.py"}
#: what may be imported inside a function: the optional heavy dependencies (extras), onnx (0.6 s to import,
#: read only when a recogniser graph is loaded), and fr-eval's own modules that import them at their top
OPTIONAL = {"torch", "tensorflow", "ray", "dlib", "playwright", "onnx"}
OPTIONAL_OWN = {"deoldify", "kelley", "kelley_net", "deoldify_net", "dlib"}
#: the command line loads the pipeline (stages, numba, matplotlib, the report: about 1 s) only when a run starts,
#: so that --help, --keys, --cfg and a one-line error stay fast: these deferred imports, and only in cli.py
DEFERRED_IN_CLI = ("report", "runner", "auditing", "stages", "comparing")


def test_the_configuration_is_read_as_a_dict_only_in_the_parsing_layer():
    import re

    pattern = re.compile(r"cfg\[|cfg\.get\(|config\[|config\.get\(")
    found = [f"{p.relative_to(PACKAGE)}:{n + 1}: {line.strip()}" for p in sorted(PACKAGE.rglob("*.py"))
             if p.name not in PARSING for n, line in enumerate(p.read_text(encoding="utf-8").splitlines())
             if pattern.search(line)]
    assert found == []


def _in_try_for_import_error(tree, node) -> bool:
    for t in ast.walk(tree):
        if isinstance(t, ast.Try) and any(node is x for s in t.body for x in ast.walk(s)):
            return any(isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                       or isinstance(h.type, ast.Tuple) for h in t.handlers)
    return False


def test_imports_inside_functions_are_only_for_optional_heavy_dependencies():
    """An import inside a function only for an extra (torch, tensorflow, ray, dlib, playwright), or one
    guarded by ``except ImportError``; everything else at the top, where a cycle would show."""
    found = []
    for p in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                if isinstance(node, ast.Import):
                    ok = node.names[0].name.split(".")[0] in OPTIONAL
                else:
                    ok = (node.level == 0 and (node.module or "").split(".")[0] in OPTIONAL) or \
                         (node.level > 0 and (node.module or "").split(".")[-1] in OPTIONAL_OWN)
                if p == PACKAGE / "__init__.py" and f.name == "__getattr__":  # the lazy public API (PEP 562)
                    ok = ok or (isinstance(node, ast.ImportFrom) and [a.name for a in node.names] == ["api"])
                if p.name == "cli.py" and isinstance(node, ast.ImportFrom) and node.level == 1:
                    ok = ok or (node.module or "").split(".")[0] in DEFERRED_IN_CLI
                if not ok and not _in_try_for_import_error(tree, node):
                    found.append(f"{p.relative_to(PACKAGE)}:{node.lineno} in {f.name}")
    assert found == []


def code_lines(node) -> int:
    """A function's lines, its docstring left out (a numpydoc docstring is long by design)."""
    n = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        n -= first.end_lineno - first.lineno + 1
    return n


def test_shells_are_small_and_functions_short():
    """The shells compose stages (about 250 lines at most); no function's code runs over 60 lines."""
    sizes = {n: len((PACKAGE / n).read_text(encoding="utf-8").splitlines())
             for n in ("cli.py", "runner.py", "auditing.py", "api.py", "comparing.py")}
    assert all(v <= 260 for v in sizes.values()), sizes
    long = sorted((code_lines(node), f"{p.relative_to(PACKAGE)}:{node.name}")
                  for p in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(node) > 60)
    assert long == []


def test_readme_tables_of_members_are_the_registrys():
    """The README's tables of built-in members are printed from the registry: a member added, removed or
    given other keys in the code without the README following fails here."""
    from fr_eval.registry import FAMILIES, markdown

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- registry:begin -->\n", 1)[1].split("<!-- registry:end -->", 1)[0]
    assert block == markdown()
    for fam in FAMILIES.values():  # every built-in member has a row and a line saying what it is
        for member in fam.builtin():
            row = next(r for r in block.splitlines() if r.startswith(f"| `{member}` |"))
            assert len(row.split(" | ")[1]) > 20, row
    assert "| `dlib` |" in block and "`upsample`, `jitters`" in block  # a member's own keys, from its settings


# -- the tests' own layers: tests/unit, tests/integration, tests/e2e (issue 41) ----------------------------
TESTS = PACKAGE.parent / "tests"
TIERS = ("unit", "integration", "e2e")
#: what reaches face data or models from a test: conftest's paths and fixtures
SHARED_NAMES = {"SHARED", "LFW_SMALL", "DET_500M", "MOBILEFACENET", "need", "build_manifest", "build_corpus"}
SHARED_FIXTURES = {"lfw_small", "shared_arcface_files"}
SHARED_PATH = "/".join(["..", "shared", ""])  # a path into ../shared (built, so this file holds none)


def reaches_shared(path: Path) -> list:
    """Where a test file names face data or models: conftest's names, its fixtures, a path into ../shared,
    or an import of a test module of another tier (or of the builders of face data)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name) and node.id in SHARED_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if names & SHARED_NAMES or node.module.split(".")[0] in {"integration", "e2e", "generated_faces",
                                                                    "robustness_corpus"}:
                found.append(f"{node.lineno}: from {node.module} import {', '.join(sorted(names))}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [f"{node.lineno}: fixture {a.arg}" for a in node.args.args if a.arg in SHARED_FIXTURES]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SHARED_PATH in node.value:
            found.append(f"{node.lineno}: {node.value[:40]!r}")
    return found


def test_every_test_lives_in_a_tier():
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []
    counts = {t: len(list((TESTS / t).glob("test_*.py"))) for t in TIERS}
    assert all(n >= 5 for n in counts.values()), counts
    assert not (TESTS / "unit" / "conftest.py").exists()  # one conftest (tests/), where the tier rule lives


def test_the_unit_tier_names_no_face_data_and_no_model():
    found = {p.name: reaches_shared(p) for p in sorted((TESTS / "unit").glob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}
    # the reader sees what it looks for: an integration file that reads ../shared is caught
    assert reaches_shared(TESTS / "integration" / "test_lfw.py")


def test_a_unit_test_that_opens_shared_fails(tmp_path):
    """tests/tiers.py's guard, run on two probe tests in a folder named as the unit tier: one that opens a
    file under ../shared fails naming it (whatever it asserts), one that does not passes."""
    import os
    import subprocess
    import sys

    shared = (PACKAGE.parent.parent / "shared").resolve()
    (tmp_path / "test_probe.py").write_text(
        "def test_reads_shared():\n"
        "    try:\n"
        f"        open({str(shared / 'README.md')!r}).close()\n"
        "    except OSError:\n"
        "        pass\n"
        "    assert True\n\n"
        "def test_reads_its_own(tmp_path):\n"
        "    (tmp_path / 'x').write_text('1')\n"
        "    assert open(tmp_path / 'x').read() == '1'\n")
    env = {**os.environ, "PYTHONPATH": str(TESTS), "FR_EVAL_UNIT_TIER": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tiers", "-p", "no:cacheprovider",
                          "-rA", str(tmp_path / "test_probe.py")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout
    assert f"test_probe.py::test_reads_shared opened {shared / 'README.md'}" in run.stdout
    assert "move it to tests/integration" in run.stdout and "test_reads_its_own opened" not in run.stdout


def test_architecture_md_places_every_module():
    """ARCHITECTURE.md names every module of the package (``name.py``), the stages' and the report's included."""
    doc = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [p for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"}]
    modules += [p for sub in ("stages", "report") for p in (PACKAGE / sub).glob("*.py") if p.stem != "__init__"]
    assert len(modules) > 50
    assert sorted(p.relative_to(PACKAGE).as_posix() for p in modules if f"{p.name}" not in doc) == []


def test_no_single_letter_aliases_of_fr_evals_modules():
    """A module of fr-eval is imported under its own name (``from .. import metrics``), never as ``M``, in the
    package, the tests and the benchmarks (a third-party convention such as ``torch.nn.functional as F`` stays)."""
    found = []
    for root in ("fr_eval", "tests", "benchmarks"):
        for path in (PACKAGE.parent / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    ours = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("fr_eval"))
                    for a in node.names:
                        if a.asname and len(a.asname) == 1 and (ours or a.name.startswith("fr_eval")):
                            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {a.name} as {a.asname}")
    assert found == []
