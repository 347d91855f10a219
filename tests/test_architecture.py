"""The package's folders follow the flow: imports run one way, down the steps, and never in a circle."""

import ast

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "issue_summarizer"
# Bottom to top; a module may import its own step and the steps before it.
STEPS = ["text", "data", "models", "training", "inference", "evaluation", "github", "scale", "service", "app", "cli"]
GROUND_FLOOR = {"config", "atomic_files", "quiet_imports"}


def module_name(path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path) -> set[str]:
    """Every issue_summarizer module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("issue_summarizer."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("issue_summarizer"):
            for alias in node.names:
                # `from issue_summarizer.cli import train` imports a module; `from x.y import name` a name.
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").is_file()
                found.add(candidate if is_module else node.module)
    return found


def step(module: str) -> int:
    """Where `module` stands: -1 for the ground floor, its step's index, or on top (`__main__`)."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__main__"
    if name in GROUND_FLOOR:
        return -1
    return STEPS.index(name) if name in STEPS else len(STEPS)


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in PACKAGE.rglob("*.py")}


def test_every_module_belongs_to_a_step_or_the_ground_floor():
    for module in import_graph():
        parts = module.split(".")
        if len(parts) > 1:
            assert parts[1] in GROUND_FLOOR | {"__main__", *STEPS}, f"{module}: put it in the folder of its step"


def test_imports_run_down_the_steps():
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if step(target) > step(module)
    ]
    assert upward == []


def test_no_two_modules_import_each_other():
    graph = import_graph()
    circles = sorted(
        f"{a} <-> {b}" for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, set())
    )
    assert circles == []
