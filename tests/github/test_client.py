"""Tests for fetching issues from GitHub, against a small local server that answers like the GitHub API.

Nothing here reaches the internet: every request goes to 127.0.0.1. The issue texts below are written for the tests.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from issue_summarizer.data.input_checks import MAX_BODY_CHARS
from issue_summarizer.github.client import (
    DEFAULT_API_URL,
    DEFAULT_TIMEOUT,
    FetchedIssue,
    GitHubError,
    GitHubSettings,
    IssueReference,
    fetch_issue,
    fetch_issue_by_url,
    fetch_many,
    looks_like_issue_url,
    parse_issue_url,
)
from tests.github_stub import FIXED_RESET, ISSUE, MARKUP, PULL, FakeGitHub

TOKEN = "ghp_testtoken1234567890"


@pytest.fixture
def token_settings(server: FakeGitHub) -> GitHubSettings:
    return GitHubSettings(api_url=server.api_url, token=TOKEN)


def ref(repo: str, number: int = 1, kind: str = "issues") -> IssueReference:
    return IssueReference("octo", repo, number, kind)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- parsing ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/octo/demo/issues/12", ("octo", "demo", 12, "issues")),
        ("http://github.com/octo/demo/issues/12", ("octo", "demo", 12, "issues")),
        ("https://www.github.com/octo/demo/issues/12", ("octo", "demo", 12, "issues")),
        ("github.com/octo/demo/issues/5", ("octo", "demo", 5, "issues")),
        ("  https://github.com/octo/demo/issues/12/ \n", ("octo", "demo", 12, "issues")),
        ("https://github.com/octo/demo/issues/12?q=is%3Aopen", ("octo", "demo", 12, "issues")),
        ("https://github.com/octo/demo/issues/12#issuecomment-123", ("octo", "demo", 12, "issues")),
        ("HTTPS://GitHub.com/Octo-Cat/my_repo.js/issues/7", ("Octo-Cat", "my_repo.js", 7, "issues")),
        ("https://github.com/octo/demo/pull/3", ("octo", "demo", 3, "pull")),
        ("https://github.com/octo/demo/pull/3/files", ("octo", "demo", 3, "pull")),
        ("https://api.github.com/repos/octo/demo/issues/9", ("octo", "demo", 9, "issues")),
        ("https://api.github.com/repos/octo/demo/pulls/9", ("octo", "demo", 9, "pull")),
        ("https://github.com/octo/demo/issues/1000000000", ("octo", "demo", 10**9, "issues")),
    ],
)
def test_parse_accepts_issue_and_pull_request_urls(text, expected):
    reference = parse_issue_url(text, GitHubSettings())
    assert (reference.owner, reference.repo, reference.number, reference.kind) == expected
    assert reference.host == "github.com"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "No issue URL was given"),
        ("   ", "No issue URL was given"),
        ("the parser crashes on empty input", "is not a GitHub issue URL; paste one like https://github.com/"),
        ("https://gitlab.com/octo/demo/issues/1", "is not a GitHub issue URL"),
        ("https://gist.github.com/octo/abc", "is not a GitHub issue URL"),
        ("ftp://github.com/octo/demo/issues/1", "is not a GitHub issue URL"),
        ("https://github.com/octo/demo/issues/1 and more", "is not a GitHub issue URL"),
        ("https://[bad/octo/demo/issues/1", "is not a GitHub issue URL"),
        ("https://github.com", "GitHub's home page"),
        ("https://github.com/octo", "user or organization"),
        ("https://github.com/octo/demo", "the repository page of octo/demo"),
        ("https://github.com/octo/demo/issues", "the list of octo/demo's issues"),
        ("https://github.com/octo/demo/pulls", "the list of octo/demo's pull requests"),
        ("https://github.com/octo/demo/discussions/5", "a discussion in octo/demo"),
        ("https://github.com/octo/demo/commit/0123abc", "a commit in octo/demo"),
        ("https://github.com/octo/demo/blob/main/README.md", "a file in octo/demo"),
        ("https://github.com/octo/demo/security", 'the "security" page of octo/demo'),
        ("https://github.com/octo/demo/issues/new", '"new" where the issue number should be'),
        ("https://github.com/octo/demo/issues/0", "which cannot exist"),
        ("https://github.com/octo/demo/issues/-3", "where the issue number should be"),
        ("https://github.com/octo/demo/issues/99999999999999999999", "which cannot exist"),
        ("https://github.com/-octo/demo/issues/1", "does not name a valid GitHub repository"),
        ("https://github.com/octo/de%20mo/issues/1", "does not name a valid GitHub repository"),
        ("https://github.com/" + "o" * 40 + "/demo/issues/1", "does not name a valid GitHub repository"),
        ("https://github.com/octo/" + "r" * 101 + "/issues/1", "does not name a valid GitHub repository"),
        ("https://api.github.com/repos/octo/demo", "a GitHub API address"),
    ],
)
def test_parse_refuses_other_text_with_a_clear_message(text, fragment):
    with pytest.raises(GitHubError) as error:
        parse_issue_url(text, GitHubSettings())
    message = str(error.value)
    assert fragment in message
    assert message.endswith(".") and "Traceback" not in message and error.value.reset_at is None


def test_parse_refuses_non_text_and_shortens_long_input():
    with pytest.raises(GitHubError, match="not NoneType"):
        parse_issue_url(None, GitHubSettings())  # type: ignore[arg-type]
    with pytest.raises(GitHubError) as error:
        parse_issue_url("x" * 5000, GitHubSettings())
    assert len(str(error.value)) < 200


def test_parse_accepts_the_enterprise_host_only_when_the_api_points_there():
    enterprise = GitHubSettings(api_url="https://ghe.example.com/api/v3/")
    reference = parse_issue_url("https://ghe.example.com/team/tool/issues/4", enterprise)
    assert reference == IssueReference("team", "tool", 4, "issues", "ghe.example.com")
    assert reference.web_url == "https://ghe.example.com/team/tool/issues/4"
    api_form = parse_issue_url("https://ghe.example.com/api/v3/repos/team/tool/issues/4", enterprise)
    assert api_form == reference
    with pytest.raises(GitHubError, match="is on github.com, but GITHUB_API_URL points at ghe.example.com"):
        parse_issue_url("https://github.com/team/tool/issues/4", enterprise)
    with pytest.raises(GitHubError, match="is not a GitHub issue URL"):
        parse_issue_url("https://ghe.example.com/team/tool/issues/4", GitHubSettings())


def test_parse_reads_settings_from_the_environment_when_none_are_given(monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    assert parse_issue_url("ghe.example.com/team/tool/pull/8").web_url == "https://ghe.example.com/team/tool/pull/8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/octo/demo/issues/12", True),
        ("  github.com/octo/demo/pull/3\n", True),
        ("www.github.com/octo/demo/issues/3#issuecomment-1", True),
        ("https://api.github.com/repos/octo/demo/issues/9", True),
        ("https://github.com/octo/demo", True),
        ("https://ghe.example.com/team/tool/issues/4", True),
        ("ghe.example.com/team/tool/pull/4", True),
        ("The parser crashes on empty input", False),
        ("See https://github.com/octo/demo/issues/12 for details", False),
        ("fix/parser/issues/12", False),
        ("https://example.com/docs/parser", False),
        ("", False),
        ("https://[bad", False),
        (None, False),
    ],
)
def test_looks_like_issue_url(text, expected):
    assert looks_like_issue_url(text) is expected


def test_issue_reference_properties_and_validation():
    reference = IssueReference("octo", "demo", 3, "pull")
    assert reference.repository == "octo/demo"
    assert reference.web_url == "https://github.com/octo/demo/pull/3"
    assert IssueReference("octo", "demo", 3, "issues").web_url == "https://github.com/octo/demo/issues/3"
    for bad in [("octo", "../x", 1, "issues"), ("octo", "demo", 0, "issues"), ("octo", "demo", 1, "wiki")]:
        with pytest.raises(GitHubError):
            IssueReference(*bad)


# --- settings --------------------------------------------------------------------------------------------------------


def test_settings_from_environment():
    assert GitHubSettings.from_environment({}) == GitHubSettings(DEFAULT_API_URL, None, DEFAULT_TIMEOUT)
    blank = GitHubSettings.from_environment({"GITHUB_API_URL": "  ", "GITHUB_TOKEN": "\n"})
    assert (blank.api_url, blank.token) == (DEFAULT_API_URL, None)
    configured = GitHubSettings.from_environment(
        {"GITHUB_API_URL": " https://ghe.example.com/api/v3/ \n", "GITHUB_TOKEN": f" {TOKEN}\n"}
    )
    assert (configured.api_url, configured.token) == ("https://ghe.example.com/api/v3", TOKEN)
    assert TOKEN not in repr(configured)
    with pytest.raises(GitHubError, match="GITHUB_API_URL must be an http or https URL"):
        GitHubSettings.from_environment({"GITHUB_API_URL": "api.github.com"})
    with pytest.raises(GitHubError, match="positive number of seconds"):
        GitHubSettings(timeout=0)


def test_settings_from_environment_reads_os_environ(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert GitHubSettings.from_environment().token == TOKEN


# --- fetching --------------------------------------------------------------------------------------------------------


def test_fetch_returns_title_and_body_and_sends_the_api_headers(server, settings):
    issue = fetch_issue(ref("demo", 1), settings)
    assert isinstance(issue, FetchedIssue)
    assert (issue.title, issue.body) == (ISSUE["title"], ISSUE["body"])
    assert issue.is_pull_request is False and issue.html_url == ISSUE["html_url"]
    assert issue.rate_limit_remaining == 59
    assert issue.rate_limit_reset == datetime.fromtimestamp(FIXED_RESET, UTC)
    [request] = server.requests
    assert request.path == "/repos/octo/demo/issues/1"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"] == "issue-summarizer"
    assert "authorization" not in request.headers


def test_fetch_sends_the_token_as_a_bearer_header(server, token_settings):
    fetch_issue(ref("demo", 1), token_settings)
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_fetch_uses_a_given_session(server, settings):
    calls = []

    class CountingSession(requests.Session):
        def get(self, *args, **kwargs):
            calls.append(args[0])
            return super().get(*args, **kwargs)

    with CountingSession() as session:
        assert fetch_issue(ref("demo", 1), settings, session).title == ISSUE["title"]
    assert calls == [f"{settings.api_url}/repos/octo/demo/issues/1"]


def test_pull_requests_are_fetched_through_the_issues_endpoint(server, settings):
    pull = fetch_issue_by_url("https://github.com/octo/demo/pull/2", settings)
    assert pull.is_pull_request and pull.title == PULL["title"] and pull.body == PULL["body"]
    assert pull.reference.kind == "pull" and server.requests[-1].path == "/repos/octo/demo/issues/2"


def test_fetch_by_api_url_of_the_configured_server(server, settings):
    issue = fetch_issue_by_url(f"{settings.api_url}/repos/octo/demo/issues/1", settings)
    assert issue.title == ISSUE["title"] and issue.reference.web_url == "https://github.com/octo/demo/issues/1"


def test_title_and_body_are_returned_as_plain_text_and_the_body_is_capped(server, settings):
    markup = fetch_issue(ref("demo", 6), settings)
    assert (markup.title, markup.body) == (MARKUP["title"], MARKUP["body"])
    assert markup.html_url == "https://github.com/octo/demo/issues/6"  # a javascript: link is not passed on
    assert len(fetch_issue(ref("demo", 5), settings).body) == MAX_BODY_CHARS


@pytest.mark.parametrize(("number", "noun"), [(3, "Issue"), (4, "Issue"), (7, "Pull request")])
def test_an_empty_body_is_an_error_that_keeps_the_title(server, settings, number, noun):
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref("demo", number), settings)
    title = PULL["title"] if noun == "Pull request" else ISSUE["title"]
    assert str(error.value) == (
        f'{noun} octo/demo#{number} ("{title}") has an empty body, so there is nothing to summarize.'
    )
    assert error.value.title == title


@pytest.mark.parametrize(
    ("repo", "number", "with_token", "fragments"),
    [
        ("demo", 99, False, ["could not find issue octo/demo#99 (HTTP 404)", "set GITHUB_TOKEN to a token that can"]),
        ("demo", 99, True, ["could not find issue octo/demo#99 (HTTP 404)", "GITHUB_TOKEN may lack access"]),
        ("gone", 1, False, ["Issue octo/gone#1 was deleted, or issues are disabled on octo/gone (HTTP 410)."]),
        ("auth", 1, True, ["GitHub refused the token in GITHUB_TOKEN (HTTP 401)"]),
        ("auth", 1, False, ["set GITHUB_TOKEN to a token that can read octo/auth"]),
        (
            "forbidden",
            1,
            False,
            ["refused access to issue octo/forbidden#1 (HTTP 403): Resource not accessible by integration."],
        ),
        ("broken", 1, False, ["GitHub answered HTTP 500 for issue octo/broken#1; try again later."]),
        ("html", 1, False, ["is not JSON", "GITHUB_API_URL"]),
        ("odd", 1, False, ["does not look like an issue", "GITHUB_API_URL"]),
    ],
)
def test_each_failure_gets_one_clear_message(server, settings, token_settings, repo, number, with_token, fragments):
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref(repo, number), token_settings if with_token else settings)
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message
    assert TOKEN not in message and error.value.reset_at is None and error.value.title is None


def test_github_message_is_truncated(server, settings):
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref("forbidden", 2), settings)
    assert len(str(error.value)) < 300 and str(error.value).endswith("…")


def test_rate_limit_403_says_when_it_resets(server, settings, token_settings):
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref("limited"), settings)
    reset_at = error.value.reset_at
    assert reset_at is not None and reset_at.tzinfo is not None
    assert timedelta(minutes=59) < reset_at - datetime.now(UTC) <= timedelta(minutes=60)
    assert str(error.value) == (
        f"GitHub's rate limit is used up; it resets at {reset_at:%H:%M} UTC (in 60 minutes). "
        "Set GITHUB_TOKEN to raise the limit from 60 to 5,000 requests an hour."
    )
    with pytest.raises(GitHubError) as with_token:
        fetch_issue(ref("limited"), token_settings)
    assert "rate limit is used up" in str(with_token.value) and "Set GITHUB_TOKEN" not in str(with_token.value)


@pytest.fixture
def tokenless_settings(server: FakeGitHub) -> GitHubSettings:
    """A shared demo server's settings: no token may be used, so none is sent even when one is given."""
    return GitHubSettings(api_url=server.api_url, token=TOKEN, token_allowed=False)


def test_a_server_without_tokens_sends_none_and_never_advises_setting_one(server, tokenless_settings):
    assert tokenless_settings.token is None
    messages = {}
    for repo, number in (("demo", 99), ("auth", 1), ("limited", 1)):
        with pytest.raises(GitHubError) as error:
            fetch_issue(ref(repo, number), tokenless_settings)
        messages[repo] = str(error.value)
    assert all("authorization" not in request.headers for request in server.requests)
    assert messages["demo"] == (
        "GitHub could not find issue octo/demo#99 (HTTP 404). Check the URL; this demo server fetches public issues "
        "only, without a token, so it cannot fetch from a private repository."
    )
    assert messages["auth"] == (
        "GitHub asks for a login to read octo/auth (HTTP 401); this demo server fetches public issues only, without "
        "a token."
    )
    assert messages["limited"].startswith("GitHub's rate limit is used up; it resets at ")
    assert messages["limited"].endswith(
        "This demo server fetches public issues only, without a token, at GitHub's unauthenticated rate limit of "
        "60 requests an hour."
    )
    assert not any("GITHUB_TOKEN" in message for message in messages.values())


def test_token_allowed_must_be_a_boolean():
    with pytest.raises(GitHubError, match="True or False"):
        GitHubSettings(token_allowed="no")


def test_rate_limit_429_honours_retry_after(server, settings):
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref("throttled"), settings)
    assert "rate limit is used up" in str(error.value) and "(in 2 minutes)" in str(error.value)
    assert error.value.reset_at == pytest.approx(datetime.now(UTC) + timedelta(seconds=120), abs=timedelta(seconds=5))


def test_slow_answer_times_out(server):
    started = time.monotonic()
    with pytest.raises(GitHubError, match=r"^GitHub did not answer within 0.3 s; try again later\.$"):
        fetch_issue(ref("slow"), GitHubSettings(api_url=server.api_url, timeout=0.3))
    assert time.monotonic() - started < 0.9


def test_connection_error_says_where_and_why(server):
    api_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GitHubError) as error:
        fetch_issue(ref("demo"), GitHubSettings(api_url=api_url, token=TOKEN))
    message = str(error.value)
    assert message.startswith(f"Could not reach GitHub at {api_url}: ") and "refused" in message.lower()
    assert TOKEN not in message and "HTTPConnectionPool" not in message


# --- fetching many ---------------------------------------------------------------------------------------------------


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_fetch_many_returns_one_result_per_url_in_order(server, settings):
    progress: list[int] = []
    sleep = FakeSleep()
    urls = ["https://github.com/octo/demo/issues/1", "not a url", "https://github.com/octo/gone/issues/1"]
    results = fetch_many(urls, settings, progress=progress.append, sleep=sleep)
    assert isinstance(results[0], FetchedIssue) and results[0].title == ISSUE["title"]
    assert isinstance(results[1], GitHubError) and "is not a GitHub issue URL" in str(results[1])
    assert isinstance(results[2], GitHubError) and "HTTP 410" in str(results[2])
    assert progress == [1, 1, 1] and sleep.calls == []
    assert [request.path for request in server.requests] == ["/repos/octo/demo/issues/1", "/repos/octo/gone/issues/1"]


def test_fetch_many_waits_for_a_reset_that_is_seconds_away(server, settings):
    sleep = FakeSleep()
    urls = [f"https://github.com/octo/nearly/issues/{number}" for number in (1, 2)]
    results = fetch_many([*urls, "https://github.com/octo/demo/issues/1"], settings, sleep=sleep)
    assert all(isinstance(result, FetchedIssue) for result in results)
    assert len(sleep.calls) == 2 and all(4 <= seconds <= 7 for seconds in sleep.calls)
    assert len(server.requests) == 3


def test_fetch_many_stops_when_the_reset_is_an_hour_away(server, settings):
    sleep = FakeSleep()
    urls = [
        "https://github.com/octo/exhausted/issues/1",
        "https://github.com/octo/demo/issues/1",
        "nonsense",
        "https://github.com/octo/demo/pull/2",
    ]
    results = fetch_many(urls, settings, sleep=sleep)
    assert isinstance(results[0], FetchedIssue)
    assert "is not a GitHub issue URL" in str(results[2])
    for skipped in (results[1], results[3]):
        assert isinstance(skipped, GitHubError) and skipped.reset_at is not None
        assert str(skipped).startswith("Not fetched: GitHub's rate limit is used up; it resets at ")
        assert "UTC (in 60 minutes)" in str(skipped) and "Set GITHUB_TOKEN" in str(skipped)
    assert len(server.requests) == 1 and sleep.calls == []


def test_fetch_many_without_tokens_says_why_the_limit_is_low(server, tokenless_settings):
    urls = ["https://github.com/octo/exhausted/issues/1", "https://github.com/octo/demo/issues/1"]
    results = fetch_many(urls, tokenless_settings, sleep=FakeSleep())
    skipped = str(results[1])
    assert skipped.startswith("Not fetched: GitHub's rate limit is used up")
    assert "GitHub's unauthenticated rate limit" in skipped and "GITHUB_TOKEN" not in skipped


def test_fetch_many_stops_after_a_rate_limit_answer_an_hour_away(server, settings):
    sleep = FakeSleep()
    urls = ["https://github.com/octo/limited/issues/1", "https://github.com/octo/demo/issues/1"]
    results = fetch_many(urls, settings, sleep=sleep)
    assert all(isinstance(result, GitHubError) and result.reset_at for result in results)
    assert len(server.requests) == 1 and sleep.calls == []


def test_fetch_many_retries_after_retry_after(server, settings):
    sleep = FakeSleep()
    [result] = fetch_many(["https://github.com/octo/throttled-once/issues/1"], settings, sleep=sleep)
    assert isinstance(result, FetchedIssue) and result.title == ISSUE["title"]
    assert sleep.calls == [pytest.approx(2, abs=0.5)] and len(server.requests) == 2


def test_fetch_many_does_not_wait_after_the_last_request(server, settings):
    sleep = FakeSleep()
    results = fetch_many(["https://github.com/octo/nearly/issues/1", "junk"], settings, sleep=sleep)
    assert isinstance(results[0], FetchedIssue) and isinstance(results[1], GitHubError)
    assert sleep.calls == []
