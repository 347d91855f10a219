"""The images: action.yml's image runs the entry point the action's tests run, and the service's runs `serve`.

With a Docker daemon, the image is built (marked slow: it installs the pinned stack). Without
one, every `COPY` source must exist and the image's command must be `python -m issue_summarizer
action`, the entry point `tests/github/test_action.py` drives.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from issue_summarizer.github.action import DEFAULT_MIN_CONFIDENCE, MODES

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
DOCKERFILE = ROOT / ACTION["runs"]["image"]


def instructions(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    lines, current = [], ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


def test_action_yml_declares_the_inputs_and_outputs_the_command_reads():
    assert ACTION["runs"]["using"] == "docker" and DOCKERFILE.is_file()
    assert set(ACTION["inputs"]) == {"mode", "min-confidence", "skip-label", "exempt-users", "token"}
    assert ACTION["inputs"]["mode"]["default"] == "comment" and all(
        mode in ACTION["inputs"]["mode"]["description"] for mode in MODES
    )
    assert float(ACTION["inputs"]["min-confidence"]["default"]) == DEFAULT_MIN_CONFIDENCE
    assert set(ACTION["outputs"]) == {"verdict", "suggested_title", "confidence"}


def test_every_copy_source_exists_and_the_image_runs_the_tested_entry_point():
    steps = instructions()
    copies = [shlex.split(rest) for keyword, rest in steps if keyword == "COPY"]
    assert copies, "the image copies the package and the model"
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    entrypoint = [json.loads(rest) for keyword, rest in steps if keyword == "ENTRYPOINT"][-1]
    command = [json.loads(rest) for keyword, rest in steps if keyword == "CMD"][-1]
    # GitHub passes action.yml's args in place of CMD.
    assert entrypoint + ACTION["runs"]["args"] == ["python", "-m", "issue_summarizer", "action"]
    assert entrypoint + command == ["python", "-m", "issue_summarizer", "action"]
    environment = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "ISSUE_SUMMARIZER_MODEL=/app/model" in environment and ["model", "/app/model"] in copies


def test_the_service_image_copies_what_exists_and_serves_the_baked_model():
    steps = instructions(ROOT / "docker" / "service.Dockerfile")
    for *sources, _ in (shlex.split(rest) for keyword, rest in steps if keyword == "COPY"):
        assert all((ROOT / source).exists() for source in sources), sources
    entrypoint = [json.loads(rest) for keyword, rest in steps if keyword == "ENTRYPOINT"][-1]
    command = [json.loads(rest) for keyword, rest in steps if keyword == "CMD"][-1]
    assert entrypoint + command[:3] == ["python", "-m", "issue_summarizer", "serve", "--model", "/app/model"]
    assert any(keyword == "USER" for keyword, _ in steps) and any("/healthz" in rest for _, rest in steps)


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not docker_works(), reason="no Docker daemon here")
def test_the_image_builds_and_answers_a_dry_run(tmp_path):
    tag = "issue-summarizer-action:test"
    subprocess.run(["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)], check=True, timeout=3600)
    event = {
        "action": "opened",
        "issue": {
            "number": 1,
            "title": "Bug report",
            "body": "The app crashes on start when the config file is empty.",
            "user": {"login": "someone", "type": "User"},
            "state": "open",
            "labels": [],
        },
        "repository": {"full_name": "octo/demo"},
        "sender": {"login": "someone", "type": "User"},
    }
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    (tmp_path / "output.txt").write_text("", encoding="utf-8")
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{tmp_path}:/github/workflow",
            "-e",
            "GITHUB_EVENT_NAME=issues",
            "-e",
            "GITHUB_EVENT_PATH=/github/workflow/event.json",
            "-e",
            "GITHUB_OUTPUT=/github/workflow/output.txt",
            "-e",
            "INPUT_MODE=dry-run",
            tag,
            "action",
        ],
        check=True,
        timeout=600,
    )
    assert "verdict<<" in (tmp_path / "output.txt").read_text(encoding="utf-8")
