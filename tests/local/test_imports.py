"""The local package's modules depend on each other in one direction only (no import circle)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cryptoconsumer" / "local"


def local_imports(path: Path) -> set[str]:
    """Every cryptoconsumer.local module `path` imports, at any depth (TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("cryptoconsumer.local."):
                module = name.split(".")[2]
                if (PACKAGE / f"{module}.py").exists():
                    found.add(module)
    return found


def test_the_local_package_has_no_import_circle() -> None:
    graph = {path.stem: local_imports(path) - {path.stem} for path in PACKAGE.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, "import circle: " + " -> ".join((*trail, module))
        if module in done:
            return
        for imported in graph.get(module, set()):
            visit(imported, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert "consumer" in graph["poller"]
    assert "poller" not in graph["consumer"]
