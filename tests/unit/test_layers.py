"""No module imports a layer above its own (docs/architecture.md, "Layers")."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "embedding_server"

#: Each layer and the layers it must never import, top of the stack first.
FORBIDDEN = {
    "worker": {"cli", "migrate"},
    "app": {"cli", "worker", "migrate"},
    # Operator tools beside the server: they use models, never serve them.
    "migrate": {"cli", "app", "worker", "api"},
    "api": {"cli", "app", "worker", "migrate"},
    "serving": {"cli", "app", "worker", "api", "migrate"},
    "observability": {"cli", "app", "worker", "api", "serving", "migrate"},
    "settings": {"cli", "app", "worker", "api", "serving", "observability", "migrate"},
}


def _layer(module: str) -> str:
    return module.split(".", 1)[0]


def _imports(path: Path) -> list[str]:
    """The package's modules `path` imports, relative to the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [f"{target}.{alias.name}" if target else alias.name
                         for alias in node.names]
                found.extend([target] if node.module else names)
            elif node.module and node.module.startswith("embedding_server."):
                found.append(node.module.removeprefix("embedding_server."))
        elif isinstance(node, ast.Import):
            found.extend(alias.name.removeprefix("embedding_server.")
                         for alias in node.names if alias.name.startswith("embedding_server."))
    return [name for name in found if name]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_the_layers(path):
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    forbidden = FORBIDDEN.get(_layer(module), set())
    upward = [name for name in _imports(path)
              if any(name == bad or name.startswith(bad + ".") for bad in forbidden)]
    assert not upward, f"{module} imports {upward}"


def test_the_reader_sees_relative_imports():
    # The check above is only as good as the import reader: it must see these.
    imports = _imports(PACKAGE / "serving" / "registry.py")
    assert "serving.scheduling" in imports and "settings" in imports
    assert "api.common" in _imports(PACKAGE / "api" / "native" / "models.py")
    assert "app" in _imports(PACKAGE / "worker" / "gunicorn.py")
