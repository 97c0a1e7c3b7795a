"""Structure figures of the product package, read from its source with ``ast``.

    python scripts/structure.py            # figures
    python scripts/structure.py --check    # exit 1 when a goal of issue 12 is missed

Figures:
- import circles between packages (pairs of packages that import each other,
  and strongly connected groups of packages) and between modules;
- modules over 450 lines (migrations apart) and functions over 60 lines.

Imports under ``if TYPE_CHECKING:`` count: a circle of type names is still a
circle a reader has to walk.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "doorstep"
MODULE_LINES = 450
FUNCTION_LINES = 60


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the product package."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The product modules that ``name`` imports (resolved to known modules)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            for alias in node.names:
                targets.add(f"{base}.{alias.name}")
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name and target.startswith(PACKAGE + "."):
            resolved.add(target)
    return resolved


def package_of(module: str) -> str:
    """``doorstep.footage.service`` -> ``footage``; ``doorstep.db`` -> ``db``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups, key=len, reverse=True)


def long_functions(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                length = (child.end_lineno or child.lineno) - start + 1
                if length > FUNCTION_LINES:
                    yield f"{prefix}{child.name}", length
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    files = module_files()
    known = set(files)
    module_graph = {name: imported_modules(name, path, known) for name, path in files.items()}
    package_graph: dict[str, set[str]] = {}
    for module, targets in module_graph.items():
        source = package_of(module)
        package_graph.setdefault(source, set())
        for target in targets:
            if package_of(target) != source:
                package_graph[source].add(package_of(target))

    mutual = sorted(
        {
            tuple(sorted((a, b)))
            for a, targets in package_graph.items()
            for b in targets
            if a in package_graph.get(b, set())
        }
    )
    package_circles = strongly_connected(package_graph)
    module_circles = strongly_connected(module_graph)

    print(f"packages: {len(package_graph)}, modules: {len(files)}")
    print(f"pairs of packages importing each other: {len(mutual)}")
    for a, b in mutual:
        print(f"  {a} <-> {b}")
    print(f"package circles: {len(package_circles)}")
    for group in package_circles:
        print(f"  {len(group)}: {' '.join(group)}")
    print(f"module circles: {len(module_circles)}")
    for group in module_circles:
        print(f"  {len(group)}: {' '.join(group)}")

    long_modules = []
    for name, path in files.items():
        if ".migrations." in name:
            continue
        lines = len(path.read_text().splitlines())
        if lines > MODULE_LINES:
            long_modules.append((lines, name))
    print(f"modules over {MODULE_LINES} lines (migrations apart): {len(long_modules)}")
    for lines, name in sorted(long_modules, reverse=True):
        print(f"  {lines:5d} {name}")

    functions = []
    for name, path in files.items():
        if ".migrations." in name:
            continue
        for function, length in long_functions(path):
            functions.append((length, f"{name}:{function}"))
    print(f"functions over {FUNCTION_LINES} lines (migrations apart): {len(functions)}")
    for length, name in sorted(functions, reverse=True):
        print(f"  {length:5d} {name}")

    missed = bool(mutual or package_circles or module_circles or long_modules or functions)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
