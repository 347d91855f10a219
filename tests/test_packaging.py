"""The package installs as pyproject.toml says: the same pins as requirements.txt, one console command."""

import tomllib

from tests.conftest import REPO_ROOT


def requirement_lines(name: str) -> list[str]:
    lines = (REPO_ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))]


def test_the_package_pins_what_requirements_txt_pins():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["dependencies"] == requirement_lines("requirements.txt")
    assert project["optional-dependencies"]["ray"] == requirement_lines("requirements-ray.txt")
    assert project["requires-python"] == ">=3.11"


def test_the_console_command_is_the_command_line():
    from issue_summarizer.cli.main import run

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, function = project["scripts"]["issue-summarizer"].split(":")
    assert (module, function) == (run.__module__, run.__name__)
