"""Shared fixtures. The issue texts here are written for the tests, not taken from any dataset."""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
# The corpus beside the checkout, which a clone from the repository's host does not have.
# `ISSUE_SUMMARIZER_TEST_DATA` names another data directory; set empty, it hides the corpus,
# so that CI also runs the tests as a bare clone would (see `.ci/run`).
_TEST_DATA = os.environ.get("ISSUE_SUMMARIZER_TEST_DATA", str(REPO_ROOT.parent / "shared" / "data")).strip()
SHARED_DATA = Path(_TEST_DATA) if _TEST_DATA else None
SHARED_CORPUS = SHARED_DATA / "github_issues.jsonl.gz" if SHARED_DATA else None


def has_shared_corpus() -> bool:
    return SHARED_CORPUS is not None and SHARED_CORPUS.is_file()


COMPONENTS = ["parser", "installer", "renderer", "scheduler", "network", "cache", "logger", "editor"]
SYMPTOMS = {
    "crash": "crashes with a segmentation fault",
    "slow": "is very slow on large inputs",
    "leak": "leaks memory after many requests",
    "hang": "hangs forever when the queue is empty",
}
PLATFORMS = ["windows", "linux", "macos"]


def make_issue(rng: random.Random, repo: str) -> dict:
    """One synthetic issue whose title is predictable from its body."""
    component = rng.choice(COMPONENTS)
    symptom = rng.choice(sorted(SYMPTOMS))
    platform = rng.choice(PLATFORMS)
    body = (
        f"**Describe the bug**\nThe {component} {SYMPTOMS[symptom]} on {platform}. "
        f"I tried version {rng.randint(1, 9)}.{rng.randint(0, 20)} and it still happens.\n\n"
        f"```\ntraceback: {component}_error at line {rng.randint(1, 500)}\n```\n"
        f"See https://example.com/docs/{component} for details. Thanks!"
    )
    return {"repo": repo, "title": f"{component} {symptom} on {platform}", "body": body, "source": "tests"}


def make_rows(count: int = 240, repositories: int = 12, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [make_issue(rng, f"owner{index % repositories}/project{index % repositories}") for index in range(count)]


def write_jsonl_gz(path: Path, rows: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows())


@pytest.fixture(scope="session")
def trained_tiny_model(tmp_path_factory) -> Path:
    """A tiny model trained once per test session on the synthetic fixture (a few seconds)."""
    from issue_summarizer.cli.main import main

    directory = tmp_path_factory.mktemp("tiny_model")
    data = write_jsonl_gz(directory.parent / "tiny_train.jsonl.gz", make_rows(count=400, repositories=16))
    status = main(
        ["train", "--data", str(data), "--out", str(directory / "model"), "--config", "tiny", "--workers", "1"]
    )
    assert status == 0
    return directory / "model"


def make_copy_rows(count: int = 400, repositories: int = 16, seed: int = 0) -> list[dict]:
    """Issues whose titles name an identifier that appears once in the body and nowhere else,
    so no vocabulary can hold it: only copying can put it in the title."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        identifier = f"func{rng.randint(10_000, 99_999)}"
        component = rng.choice(COMPONENTS)
        body = f"Calling {identifier} in the {component} raises an error. It worked yesterday."
        repo = f"owner{index % repositories}/project{index % repositories}"
        rows.append({"repo": repo, "title": f"{identifier} raises error", "body": body, "source": "tests"})
    return rows


def assert_copies_unseen_identifiers(summarizer, minimum: int = 16) -> list[dict]:
    """Title 20 copying-fixture issues whose identifiers no training row held, and require that
    at least `minimum` titles contain their identifier, which only copying can produce."""
    rows = make_copy_rows(count=20, seed=99)
    titles = [title for title, _ in summarizer.summarize([row["body"] for row in rows])]
    copied = sum(row["title"].split()[0] in title.split() for title, row in zip(titles, rows, strict=True))
    assert copied >= minimum, list(zip(titles, [row["title"] for row in rows], strict=True))
    return rows


@pytest.fixture(scope="session")
def trained_copy_model(tmp_path_factory) -> Path:
    """A tiny attention model trained once on titles that must copy an unseen identifier."""
    from issue_summarizer.cli.main import main

    directory = tmp_path_factory.mktemp("copy_model")
    data = write_jsonl_gz(directory.parent / "copy_train.jsonl.gz", make_copy_rows())
    argv = ["train", "--data", str(data), "--out", str(directory / "model"), "--config", "tiny-attention"]
    assert main([*argv, "--workers", "1"]) == 0
    return directory / "model"


@pytest.fixture(autouse=True)
def app_cache_directory(tmp_path: Path, monkeypatch) -> Path:
    """Every test gets its own app cache, so no test reads or fills the user's cache directory."""
    cache = tmp_path / "app_cache"
    monkeypatch.setenv("ISSUE_SUMMARIZER_CACHE", str(cache))
    return cache


def directory_digest(directory: Path) -> dict[str, str]:
    """Each file under `directory` with the SHA-256 of its bytes, to check that nothing changed."""
    import hashlib

    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }
