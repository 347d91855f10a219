"""The loopback stand-in for GitHub's API that the client and listing tests share (`tests/github_stub.py`)."""

import pytest

from issue_summarizer.github.client import GitHubSettings
from tests.github_stub import FakeGitHub, running_fake_github


@pytest.fixture(scope="module")
def github_server():
    with running_fake_github() as server:
        yield server


@pytest.fixture
def server(github_server: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    # A proxy or a real token in the developer's environment must not change what these tests send where.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    github_server.reset()
    return github_server


@pytest.fixture
def settings(server: FakeGitHub) -> GitHubSettings:
    return GitHubSettings(api_url=server.api_url)
