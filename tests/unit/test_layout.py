"""The code's layout holds: no import cycles, the render path free of tools and test fixtures,
the parts' boundaries kept, and no one machine's paths in the tree."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "spooler", "webui", "measure", "api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    found["dashboard"] = REPO / "dashboard.py"
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(graph.get(v, ()))
    return seen


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_round_a_cycle() -> None:
    """Package __init__ files that re-export their submodules are not cycles; module cycles are."""
    graph = _graph()
    assert "engine.media.probe" in graph["engine.cli"] or "engine.media.probe" in _reachable(graph, "engine.cli")
    assert _cycles(graph) == []


@pytest.mark.parametrize("start", ["engine.rendering", "engine.backends.rewrite.backend",
                                   "engine.backends.wav2lip.backend"])
def test_the_render_path_imports_no_tool_and_no_test_fixture(start: str) -> None:
    reached = _reachable(_graph(), start)
    assert len(reached) > 10  # the walk really follows the imports
    assert not {m for m in reached if m.startswith(("measure", "engine.testing", "spooler", "webui", "dashboard"))}


def test_the_engine_never_imports_the_spooler_the_dashboard_or_the_tools() -> None:
    graph = _graph()
    engine = [m for m in graph if m.startswith("engine") and not m.startswith("engine.testing")]
    bad = {(m, t) for m in engine for t in graph[m] if t.startswith(("spooler", "webui", "dashboard", "measure"))}
    assert bad == set()


HEAVY_LIBRARIES = ("cv2", "av", "torch", "dlib", "parselmouth", "pocketsphinx", "librosa", "face_alignment")
RENDER_PATH = ("engine.faces.", "engine.composite", "engine.rendering", "engine.media.",
               "engine.backends.rewrite.backend", "engine.backends.wav2lip.backend", "measure")


def _loaded_by(modules: list[str], libraries: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    """What importing `modules` loads (in a fresh process) among `libraries` (top-level names) and `prefixes`."""
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {libraries!r} "
            f"or m.startswith({prefixes!r}))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_heavy_import_check_sees_a_heavy_import() -> None:
    assert "cv2" in _loaded_by(["engine.composite"], HEAVY_LIBRARIES, RENDER_PATH)


def test_the_dashboard_loads_no_heavy_engine_part() -> None:
    """The dashboard's imports (the option declarations among them) load no media, vision or learning
    library and no part of the render path; the backends' code loads only when a render starts."""
    tree = ast.parse((REPO / "dashboard.py").read_text())
    modules = sorted({n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module
                      and n.module.split(".")[0] in ("engine", "spooler", "webui")})
    assert "engine.backends" in modules  # the check below really covers the declarations
    assert _loaded_by(modules, HEAVY_LIBRARIES, (*RENDER_PATH, "engine.speech.frontend")) == []


def test_the_api_loads_no_heavy_engine_part() -> None:
    """The HTTP API's modules (the app, its uploads and media checks among them) load no media, vision or
    learning library and no part of the render path when imported; a file's probe loads PyAV when used."""
    modules = sorted(m for m in _modules() if m.split(".")[0] == "api" and m != "api.__main__")
    assert {"api.app", "api.cli", "api.jobs", "api.uploads"} <= set(modules)
    assert _loaded_by(modules, (*HEAVY_LIBRARIES, "numpy"),
                      (*RENDER_PATH, "engine.speech.", "webui", "dashboard", "streamlit")) == []


def test_no_machine_paths_in_the_tree() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    needles = ("/work/", "/home/", "/root/", "/Users/")
    hits = []
    for name in files:
        path = REPO / name
        if path.suffix not in {".py", ".sh", ".toml", ".ini", ".cfg", ".txt", ".service", ".md"}:
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {n}" for n in needles if n in text and not name.endswith("test_layout.py")]
    assert hits == []
