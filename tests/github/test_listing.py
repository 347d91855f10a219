"""Listing a repository's open issues, against the local stand-in for GitHub's API in `tests/github_stub.py`.

Nothing here reaches the internet: every request goes to 127.0.0.1, and no test really waits for a rate limit.
"""

from __future__ import annotations

import socket

import pytest

from issue_summarizer.data.input_checks import MAX_BODY_CHARS
from issue_summarizer.github.client import GitHubError, GitHubSettings
from issue_summarizer.github.listing import fetch_open_issues, parse_repository
from tests.github_stub import (
    LISTING_ITEMS,
    LISTING_PULLS,
    OFF_TOPIC_ISSUES,
    VAGUE_ISSUES,
)

TOKEN = "ghp_listingtoken1234567890"
OPEN_ISSUES = LISTING_ITEMS - len(LISTING_PULLS)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the listing waited {seconds} s where it should not wait")


def test_lists_every_open_issue_over_two_pages_and_skips_pull_requests(server, settings):
    counted = []
    listing = fetch_open_issues("octo/triage", settings, progress=counted.append, sleep=no_sleep)
    assert listing.repository == "octo/triage"
    assert (len(listing.issues), listing.pull_requests_skipped, listing.pages) == (OPEN_ISSUES, 8, 2)
    assert listing.stopped is None and listing.reset_at is None and not listing.more
    assert sum(counted) == OPEN_ISSUES and len(counted) == 2
    # Newest first, as GitHub lists them, with no pull request among them.
    numbers = [issue.number for issue in listing.issues]
    assert numbers == sorted(numbers, reverse=True) and numbers[0] == LISTING_ITEMS
    assert not {LISTING_ITEMS - index for index in LISTING_PULLS} & set(numbers)
    titles = {issue.title for issue in listing.issues}
    assert {title for title, _ in VAGUE_ISSUES.values()} | {title for title, _ in OFF_TOPIC_ISSUES.values()} <= titles
    # The first page is asked for as the brief says; the second through the Link header.
    paths = [request.path for request in server.requests]
    assert paths == [
        "/repos/octo/triage/issues?state=open&per_page=100&page=1",
        "/repos/octo/triage/issues?state=open&per_page=100&page=2",
    ]
    headers = server.requests[0].headers
    assert headers["accept"] == "application/vnd.github+json" and "authorization" not in headers


def test_each_issue_has_its_number_title_body_link_and_author(server, settings):
    listing = fetch_open_issues("octo/triage", settings)
    by_number = {issue.number: issue for issue in listing.issues}
    bug_report = by_number[LISTING_ITEMS - 3]
    assert bug_report.title == "Bug report" and bug_report.body == VAGUE_ISSUES[3][1]
    assert bug_report.html_url == f"https://github.com/octo/triage/issues/{LISTING_ITEMS - 3}"
    assert bug_report.user == "user3"
    assert by_number[LISTING_ITEMS - 30].body == ""  # GitHub's null body.
    assert all(len(issue.body) <= MAX_BODY_CHARS for issue in listing.issues)


def test_the_limit_cuts_the_listing_and_says_there_is_more(server, settings):
    listing = fetch_open_issues("octo/triage", settings, limit=50)
    assert len(listing.issues) == 50 and listing.more and listing.stopped is None
    assert len(server.requests) == 1
    listing = fetch_open_issues("octo/triage", settings, limit=100)
    assert len(listing.issues) == 100 and listing.more and listing.pages == 2


def test_the_token_is_sent_as_a_bearer_header_only_where_allowed(server):
    fetch_open_issues("octo/triage", GitHubSettings(api_url=server.api_url, token=TOKEN), limit=10)
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    server.reset()
    shared = GitHubSettings(api_url=server.api_url, token=TOKEN, token_allowed=False)
    fetch_open_issues("octo/triage", shared)
    assert len(server.requests) == 2
    assert all("authorization" not in request.headers for request in server.requests)


def test_a_rate_limit_far_away_stops_the_listing_and_keeps_what_was_fetched(server, settings):
    listing = fetch_open_issues("octo/triage-limited", settings, sleep=no_sleep)
    assert len(listing.issues) == 100 - sum(index < 100 for index in LISTING_PULLS)
    assert listing.more and listing.reset_at is not None
    assert listing.stopped.startswith(f"Stopped after {len(listing.issues)} issues: GitHub's rate limit is used up")
    assert "resets at" in listing.stopped and "in 2 minutes" in listing.stopped
    assert "GITHUB_TOKEN" in listing.stopped  # No token here, so setting one is the advice.


def test_a_used_up_limit_stops_before_the_next_page(server, settings):
    listing = fetch_open_issues("octo/triage-exhausted", settings, sleep=no_sleep)
    assert len(server.requests) == 1 and listing.pages == 1 and listing.more
    assert "rate limit is used up" in listing.stopped and "in 60 minutes" in listing.stopped


def test_a_short_rate_limit_is_waited_for_and_the_page_asked_again(server, settings):
    waits = []
    listing = fetch_open_issues("octo/triage-throttled-once", settings, sleep=waits.append)
    assert len(listing.issues) == OPEN_ISSUES and listing.stopped is None
    assert len(waits) == 1 and 1.0 <= waits[0] <= 2.0
    assert [request.path.rsplit("=", 1)[1] for request in server.requests] == ["1", "2", "2"]


def test_a_shared_server_says_why_its_rate_limit_is_low(server):
    shared = GitHubSettings(api_url=server.api_url, token=TOKEN, token_allowed=False)
    listing = fetch_open_issues("octo/triage-limited", shared, sleep=no_sleep)
    assert "fetches public issues only, without a token" in listing.stopped
    assert "GITHUB_TOKEN" not in listing.stopped


def test_a_next_link_that_leaves_the_api_is_not_followed(server, settings):
    listing = fetch_open_issues("octo/triage-astray", settings)
    assert len(server.requests) == 1 and listing.more
    assert "does not lead on" in listing.stopped


@pytest.mark.parametrize(
    ("repository", "with_token", "fragments"),
    [
        ("octo/missing", False, ["could not find the repository octo/missing (HTTP 404)", "set GITHUB_TOKEN"]),
        ("octo/missing", True, ["(HTTP 404)", "token in GITHUB_TOKEN may lack access"]),
        ("octo/auth", True, ["refused the token in GITHUB_TOKEN (HTTP 401)"]),
        ("octo/auth", False, ["asks for a login (HTTP 401)", "octo/auth"]),
        ("octo/broken", False, ["GitHub answered HTTP 500 for the open issues of octo/broken; try again later."]),
        ("octo/odd", False, ["is not a list of issues", "GITHUB_API_URL"]),
    ],
)
def test_each_failure_gets_one_clear_message(server, repository, with_token, fragments):
    settings = GitHubSettings(api_url=server.api_url, token=TOKEN if with_token else None)
    with pytest.raises(GitHubError) as raised:
        fetch_open_issues(repository, settings)
    for fragment in fragments:
        assert fragment in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_a_rate_limit_on_the_first_page_raises_with_when_it_resets(server, settings):
    with pytest.raises(GitHubError, match="rate limit is used up; it resets at") as raised:
        fetch_open_issues("octo/limited", settings, sleep=no_sleep)
    assert raised.value.reset_at is not None


def test_network_errors_say_where_and_why():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        api_url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # Bound, never listening: refused.
        with pytest.raises(GitHubError) as raised:
            fetch_open_issues("octo/triage", GitHubSettings(api_url=api_url, token=TOKEN))
    message = str(raised.value)
    assert message.startswith(f"Could not reach GitHub at {api_url}: ") and "refused" in message.lower()
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("octo/triage", ("octo", "triage")),
        ("  octo/triage/  ", ("octo", "triage")),
        ("https://github.com/octo/triage", ("octo", "triage")),
        ("github.com/octo/triage/issues", ("octo", "triage")),
        ("https://github.com/octo/triage.git", ("octo", "triage")),
    ],
)
def test_parse_repository_accepts_names_and_repository_urls(text, expected):
    assert parse_repository(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "No repository was given"),
        ("octo", "is not a repository; type it as owner/repo"),
        ("octo/triage/issues", "is not a repository"),
        ("https://example.com/octo/triage", "is not a repository"),
        ("-octo/triage", "does not name a valid GitHub repository"),
        ("octo/..", "does not name a valid GitHub repository"),
        ("octo/tri age", "does not name a valid GitHub repository"),
        ("octo/triage?state=all", "does not name a valid GitHub repository"),
    ],
)
def test_a_malformed_repository_is_refused_before_any_request(server, settings, text, fragment):
    with pytest.raises(GitHubError, match=fragment):
        fetch_open_issues(text, settings)
    assert server.requests == []


def test_the_limit_must_be_a_positive_whole_number(server, settings):
    for limit in (0, -1, 1.5, True):
        with pytest.raises(GitHubError, match="at least 1"):
            fetch_open_issues("octo/triage", settings, limit=limit)
    assert server.requests == []
