"""The workspace's packages keep their boundaries: the bus package is the only one that
talks to NATS, so the sandbox (and its image) carries no NATS client."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted([*ROOT.glob("services/*/pyproject.toml"), ROOT / "sandbox" / "pyproject.toml"])


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()


def _dependencies() -> dict[str, set[str]]:
    graph = {}
    for path in PROJECTS:
        project = tomllib.loads(path.read_text())["project"]
        graph[project["name"]] = {_requirement_name(r) for r in project.get("dependencies", [])}
    return graph


def _closure(graph: dict[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dependency in graph.get(todo.pop(), set()):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def _imports_nats(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "nats" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nats":
            return True
    return False


def test_only_the_bus_package_depends_on_or_imports_nats_py() -> None:
    graph = _dependencies()
    direct = sorted(name for name, deps in graph.items() if "nats-py" in deps)
    assert direct == ["deskpilot-bus"]
    importers = sorted(
        str(path.relative_to(ROOT))
        for project in PROJECTS
        for path in project.parent.glob("deskpilot/**/*.py")
        if _imports_nats(path)
    )
    assert importers and all(p.startswith("services/bus/") for p in importers), importers


def test_the_sandbox_carries_no_nats_client_and_no_anthropic_sdk() -> None:
    needs = _closure(_dependencies(), "deskpilot-sandbox")
    assert "deskpilot-common" in needs  # the closure is really walked
    assert not needs & {"nats-py", "deskpilot-bus", "anthropic", "deskpilot-orchestrator"}
