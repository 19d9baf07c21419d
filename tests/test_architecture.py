"""The floors of ARCHITECTURE.md, checked: every import inside xpnn goes down (or stays on its
floor), never up; backend knows nothing of layers, layers nothing of training, training
nothing of scikit-learn."""

import ast
import pathlib

import xpnn

PACKAGE = pathlib.Path(xpnn.__file__).parent
# the floor of each top-level part of the package, bottom to top; the front doors may use the
# package's public API (xpnn/__init__.py); distributed sits beside training, on its floor:
# it drives training's step and loop, and fit imports it only when asked for (distributed=...)
FLOORS = {
    "backend": 0, "utils": 1, "nn": 2, "optim": 3, "training": 4, "distributed": 4,
    "sklearn": 5, "datasets": 5, "plot": 5, "cli": 5, "testing": 5, "__init__": 5, "__main__": 6,
}


def _part(module: str) -> str:
    """'xpnn.nn.layers.dense' -> 'nn'; 'xpnn' (the package itself) -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: pathlib.Path):
    """(line, absolute xpnn module imported) for every import in the file at ``path``."""
    # the package a relative import starts from: the folder of the module (of __init__.py too)
    package = list(path.relative_to(PACKAGE.parent).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # "from . import nn" imports the module xpnn.nn
                yield node.lineno, module if node.module else f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_every_part_of_the_package_has_a_floor():
    parts = {path.stem if path.parent == PACKAGE else path.relative_to(PACKAGE).parts[0]
             for path in PACKAGE.rglob("*.py")}
    assert parts <= set(FLOORS), parts - set(FLOORS)


def test_imports_only_go_down_the_floors():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        own = path.stem if path.parent == PACKAGE else path.relative_to(PACKAGE).parts[0]
        for line, module in _imports(path):
            if module == "xpnn" or module.startswith("xpnn."):
                target = _part(module)
                if FLOORS[target] > FLOORS[own]:
                    upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {module} "
                                  f"(floor {FLOORS[target]} above {FLOORS[own]})")
    assert upward == []


def test_the_check_sees_imports_at_all():
    found = dict(_imports(PACKAGE / "nn" / "layers" / "dense.py"))
    assert "xpnn.backend" in found.values() and "xpnn.nn.activations" in found.values()
