"""The layout as built (docs/architecture.md): every import points down the stages, never back
up, and the command line's help loads neither numpy nor torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Floors of the data flow, lowest first. A module may import its own floor and the ones below.
FLOORS = [
    ("rag.errors", "rag.types", "rag.store_url", "rag.lexical", "rag.sentences", "rag.history",
     "rag.per_process"),
    ("rag.settings",),
    ("rag.ingest", "rag.embedding", "rag.store"),
    ("rag.indexing", "rag.retrieval"),
    ("rag.answering",),
    ("rag.engines",),
    ("rag.answer", "rag.index", "rag.conversations", "rag.render_text"),
    ("rag", "rag.evaluation", "rag.cli", "rag.__main__"),
]


def floor(module: str) -> int:
    best = None
    for i, names in enumerate(FLOORS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and \
                    (best is None or len(n) > len(best[1])):
                best = (i, n)
    assert best is not None, f"{module} is on no floor of docs/architecture.md"
    return best[0]


def modules() -> dict[str, Path]:
    out = {}
    for p in (ROOT / "rag").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imported(path: Path, module: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "rag":
                names.add(node.module)
                continue
            for a in node.names:  # "from rag import x": a module of rag, or the public face
                sub = (ROOT / "rag" / f"{a.name}.py").exists() or (ROOT / "rag" / a.name).is_dir()
                names.add(f"rag.{a.name}" if sub else "rag")
    return {n for n in names if n == "rag" or n.startswith("rag.")}


def test_every_import_points_down_the_stages():
    ups = []
    for mod, path in sorted(modules().items()):
        for dep in imported(path, mod):
            if dep.startswith(mod + ".") or mod.startswith(dep + "."):
                continue  # a package and its own modules
            if floor(dep) > floor(mod):
                ups.append(f"{mod} (floor {floor(mod)}) imports {dep} (floor {floor(dep)})")
    assert not ups, "imports that run back up:\n" + "\n".join(ups)


#: What ui/ may import of rag: the public face (rag/__init__.py, whose _FACE names the rest
#: the page and the API use), its base (settings, types, errors) and the question path's
#: entry points (docs/architecture.md, floor 6).
UI_MAY_IMPORT = ("rag", "rag.settings", "rag.types", "rag.errors", "rag.index", "rag.answer",
                 "rag.conversations")


def test_ui_talks_to_rags_public_face_only():
    inner = []
    for path in sorted((ROOT / "ui").rglob("*.py")):
        for dep in imported(path, ""):
            if dep not in UI_MAY_IMPORT:
                inner.append(f"{path.relative_to(ROOT)} imports {dep}")
    assert not inner, "ui/ reaching inside rag:\n" + "\n".join(inner)


def test_every_name_of_the_face_is_there():
    import rag

    for name in rag._FACE:
        assert getattr(rag, name) is not None, name


def test_the_top_of_rag_stays_small():
    top = sorted(p.stem for p in (ROOT / "rag").glob("*.py"))
    assert len(top) <= 16, top


def test_help_loads_neither_numpy_nor_torch():
    code = ("import sys, runpy; sys.argv = ['docchat', '--help']\n"
            "try:\n    runpy.run_module('rag', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout[-500:]
