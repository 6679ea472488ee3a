"""Imports inside `dcpt` only point down the layers of docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import dcpt

LAYERS = [
    {"errors"},
    {"fileio", "device", "registry"},
    {"config"},
    {"degrade", "metrics", "models"},
    {"data", "objectives"},
    {"engine"},
    {"recipes", "infer", "analysis"},
    {"demo", "app"},
    {"cli", "api"},
    {"__init__", "__main__"},
]
"""Bottom first. A package may import packages of lower rows only (its own modules aside)."""
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
ROOT = Path(dcpt.__file__).parent


def _imported(path: Path):
    """Top-level dcpt packages that `path` imports (relative or absolute)."""
    package = path.relative_to(ROOT).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts[0]] if parts else [alias.name for alias in node.names]
            elif node.module and node.module.split(".")[0] == "dcpt":
                names = node.module.split(".")[1:2] or [alias.name for alias in node.names]
            else:
                continue
            yield from names
        elif isinstance(node, ast.Import):
            yield from (a.name.split(".")[1] for a in node.names if a.name.startswith("dcpt."))


def test_every_module_has_a_layer_and_imports_only_from_lower_ones():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        own = path.relative_to(ROOT).parts[0].removesuffix(".py")
        assert own in RANK, f"{path}: {own} has no layer in docs/architecture.md"
        for name in _imported(path):
            if name != own and name in RANK and RANK[name] >= RANK[own]:
                upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not upward, upward
