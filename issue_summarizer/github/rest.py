"""Write calls to GitHub's REST API for the title check: comments and titles, with back-off.

`client.py` reads one issue for the app; this module makes the few calls the GitHub Action and
the webhook make on an issue: list its comments, create or update one, change its title. Each
call waits out a rate limit as GitHub asks (`Retry-After`, or `X-RateLimit-Reset` once
`X-RateLimit-Remaining` is 0) when the wait is short, and otherwise ends in one `GitHubError`
whose message says what happened. Errors that the workflow's owner must fix (a token refused,
a token without `issues: write`) are `GitHubConfigurationError`, so the action can fail the job
for them alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from issue_summarizer.github.client import (
    GitHubError,
    GitHubSettings,
    _github_message,
    _now,
    _read_limits,
    _short_reason,
    api_headers,
    is_rate_limit_answer,
)

# A rate limit that resets later than this is not waited for: the job would sit idle and bill minutes.
DEFAULT_MAX_WAIT = 60.0
MAX_ATTEMPTS = 3
COMMENTS_PER_PAGE = 100
# An issue with more comments than this is not searched further for the sticky comment.
MAX_COMMENT_PAGES = 10


def _json(response: requests.Response, what: str) -> object:
    try:
        return response.json()
    except ValueError:
        raise GitHubError(f"GitHub answered {what} with something that is not JSON") from None


class GitHubConfigurationError(GitHubError):
    """A refusal only the workflow's owner can fix: a bad token, or one without write permission."""


@dataclass
class IssueApi:
    """The calls on one repository's issues, through `settings` (its token and API URL)."""

    settings: GitHubSettings
    repository: str  # owner/name
    sleep: Callable[[float], None] = time.sleep
    max_wait: float = DEFAULT_MAX_WAIT
    session: requests.Session = field(default_factory=requests.Session)

    def comments(self, number: int) -> Iterator[dict]:
        """The issue's comments, oldest first, page by page."""
        url = f"{self._base()}/issues/{number}/comments?per_page={COMMENTS_PER_PAGE}"
        for _ in range(MAX_COMMENT_PAGES):
            response = self._request("GET", url)
            listed = _json(response, f"the comments of issue #{number}")
            if not isinstance(listed, list):
                raise GitHubError(f"GitHub answered the comments of issue #{number} with something not a list")
            yield from (item for item in listed if isinstance(item, dict))
            url = response.links.get("next", {}).get("url")
            # The token goes only to the API it was given for, whatever a Link header says.
            if not url or not url.startswith(self.settings.api_url + "/"):
                return

    def issue(self, number: int) -> dict:
        """The issue as it is now (its title and state may have changed since the event was sent)."""
        issue = _json(self._request("GET", f"{self._base()}/issues/{number}"), f"issue #{number}")
        if not isinstance(issue, dict):
            raise GitHubError(f"GitHub answered issue #{number} with something not an issue")
        return issue

    def create_comment(self, number: int, body: str) -> None:
        self._request("POST", f"{self._base()}/issues/{number}/comments", {"body": body})

    def update_comment(self, comment_id: int, body: str) -> None:
        self._request("PATCH", f"{self._base()}/issues/comments/{comment_id}", {"body": body})

    def set_title(self, number: int, title: str) -> None:
        self._request("PATCH", f"{self._base()}/issues/{number}", {"title": title})

    def _base(self) -> str:
        return f"{self.settings.api_url}/repos/{self.repository}"

    def _request(self, method: str, url: str, body: dict | None = None) -> requests.Response:
        headers = api_headers(self.settings)
        what = f"{method} {url.removeprefix(self.settings.api_url).split('?')[0]}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.session.request(method, url, json=body, headers=headers, timeout=self.settings.timeout)
            except requests.RequestException as error:
                raise GitHubError(f"{what}: could not reach GitHub ({_short_reason(error, self.settings)})") from None
            if response.status_code < 300:
                return response
            wait = self._rate_limit_wait(response)
            if wait is None:
                raise self._error(response, what)
            if wait > self.max_wait or attempt == MAX_ATTEMPTS:
                raise GitHubError(
                    f"{what}: GitHub's rate limit asks to wait {wait:.0f} s, longer than this run waits; "
                    "the next event will try again"
                )
            self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited answer, or None when it is not one."""
        now = _now()
        limits = _read_limits(response.headers, now)
        if not is_rate_limit_answer(response.status_code, limits, _github_message(response, self.settings)):
            return None
        resume = limits.resume_at
        if resume is None:
            # A secondary limit without a time: GitHub's documentation says to wait at least a minute.
            return 60.0
        # X-RateLimit-Reset is in whole seconds and clocks differ a little: a second more than it says.
        margin = 1.0 if resume == limits.reset else 0.0
        return max(0.0, (resume - now).total_seconds()) + margin

    def _error(self, response: requests.Response, what: str) -> GitHubError:
        status = response.status_code
        message = _github_message(response, self.settings)
        said = f": {message}" if message else ""
        if status == 401:
            return GitHubConfigurationError(f"{what}: GitHub refused the token (HTTP 401){said}")
        if status == 403:
            return GitHubConfigurationError(
                f"{what}: the token may not do this (HTTP 403){said}; give the workflow `permissions: issues: write`"
            )
        return GitHubError(f"{what}: GitHub answered HTTP {status}{said}")
