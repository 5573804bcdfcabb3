"""Imports flow one way through the package: each layer imports only from the layers below it
(function-level imports included). The layering is the one README's Layout section states."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tfgrpo_agents"
# bottom to top; the root modules named here are shared helpers every layer may use
LAYERS = [
    {"_text", "_process", "_extras", "_atomic", "_async", "_objects", "_cache", "errors", "prompts", "testing"},
    {"tools"},
    {"models"},
    {"experience"},
    {"agents"},
    {"core"},
    {"learning"},
    {"evaluation"},
    {"datasets"},
    {"session"},
    {"sharding", "serving"},
    {"demo"},
    {"cli", "__init__"},
]


def layer_of(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfgrpo_agents."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("tfgrpo_agents.")}
    return found


def test_every_import_points_down_or_sideways():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for target in imports_of(path):
            if layer_of(target) > layer_of(part):
                upward.append(f"{path.relative_to(PACKAGE)} imports tfgrpo_agents.{target}")
    assert upward == []


def test_tools_depend_on_nothing_of_ours_but_the_shared_helpers():
    for path in (PACKAGE / "tools").rglob("*.py"):
        assert imports_of(path) <= LAYERS[0] | {"tools"}, path
