"""List a repository's open issues through GitHub's REST API, for triaging their titles.

    GET {api_url}/repos/{owner}/{repo}/issues?state=open&per_page=100&page=N

GitHub's issues endpoint lists pull requests too; they are skipped. Pages are followed through the
`Link` header's `rel="next"` until `limit` issues are listed. The token and headers follow
`client.py`'s rules (no token where `settings.token_allowed` is False), and so does the rate limit:
a reset at most `max_wait` seconds away is waited for, a later one stops the listing with what was
already fetched and a message saying when to try again. A failure before anything was fetched (a
malformed name, 404, 401, the network, the rate limit) raises one `GitHubError` whose message says
what went wrong and what to do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import requests

from issue_summarizer.data.input_checks import MAX_BODY_CHARS
from issue_summarizer.github.client import (
    _MAX_ATTEMPTS,
    _NO_TOKEN_HERE,
    _OWNER,
    _PUBLIC_WEB_HOSTS,
    _REPO,
    _RESET_MARGIN,
    _SCHEME,
    API_URL_ENVIRONMENT_VARIABLE,
    TOKEN_ENVIRONMENT_VARIABLE,
    GitHubError,
    GitHubSettings,
    _github_message,
    _Limits,
    _now,
    _rate_limit_error,
    _read_limits,
    _short_reason,
    _shorten,
    _split_url,
    api_headers,
    is_rate_limit_answer,
    private_repository_advice,
)

PER_PAGE = 100  # GitHub's largest page.
DEFAULT_LIMIT = 500
EXAMPLE_REPOSITORY = "owner/repo"
# Pull requests share the endpoint, so a repository with many open ones needs more pages than
# `limit / PER_PAGE`; this many times that is the most a listing asks for.
_PAGES_PER_LIMIT_PAGE = 3


@dataclass(frozen=True)
class ListedIssue:
    """One open issue as GitHub listed it: plain text, never interpreted. The body is "" when GitHub
    has none and is capped at `MAX_BODY_CHARS` characters."""

    number: int
    title: str
    body: str
    html_url: str
    user: str


@dataclass(frozen=True)
class OpenIssues:
    """What `fetch_open_issues` found.

    `stopped` says, in words, why the listing ended before the last page (the rate limit, a failed
    page) and when to try again; it is None when the listing ran to its end or to `limit`.
    `reset_at` is when the rate limit resets, when that is what stopped it. `more` is True when
    the repository may have open issues beyond those listed (it reached `limit`, or stopped).
    """

    repository: str
    issues: list[ListedIssue] = field(default_factory=list)
    stopped: str | None = None
    reset_at: datetime | None = None
    more: bool = False
    pull_requests_skipped: int = 0
    pages: int = 0


def parse_repository(text: str) -> tuple[str, str]:
    """(owner, repo) from "owner/repo" or a github.com repository URL; raises `GitHubError` saying what is wrong."""
    if not isinstance(text, str):
        raise GitHubError(f"Expected a repository as text, not {type(text).__name__}.")
    candidate = text.strip()
    if not candidate:
        raise GitHubError(f"No repository was given; type one like {EXAMPLE_REPOSITORY}.")
    shown = _shorten(candidate)
    not_one = GitHubError(f'"{shown}" is not a repository; type it as {EXAMPLE_REPOSITORY}.')
    if _SCHEME.match(candidate) or candidate.lower().startswith(tuple(f"{host}/" for host in _PUBLIC_WEB_HOSTS)):
        # A repository's page, or any page under it ("/issues"), names the repository.
        parts = _split_url(candidate)
        if parts is None or parts.hostname not in _PUBLIC_WEB_HOSTS:
            raise not_one
        segments = [segment for segment in parts.path.split("/") if segment][:2]
    else:
        segments = candidate.rstrip("/").split("/")
    if len(segments) != 2:
        raise not_one
    owner, repo = segments
    repo = repo.removesuffix(".git")
    if not _OWNER.fullmatch(owner) or not _REPO.fullmatch(repo) or repo in (".", ".."):
        raise GitHubError(
            f'"{shown}" does not name a valid GitHub repository ("{_shorten(owner, 40)}/{_shorten(repo, 40)}"); '
            f"type it as {EXAMPLE_REPOSITORY}."
        )
    return owner, repo


def fetch_open_issues(
    repository: str,
    settings: GitHubSettings | None = None,
    progress: Callable[[int], None] | None = None,
    limit: int = DEFAULT_LIMIT,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = 60.0,
    session: requests.Session | None = None,
) -> OpenIssues:
    """The newest `limit` open issues of `repository` ("owner/repo"), pull requests left out.

    `progress(n)` is called with the number of issues each page added. Raises `GitHubError` when
    nothing could be listed; a failure after the first page returns what was listed, with
    `stopped` saying why it ended.
    """
    owner, repo = parse_repository(repository)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise GitHubError(f"The number of issues to list must be a whole number of at least 1, not {limit!r}.")
    settings = GitHubSettings.from_environment() if settings is None else settings
    max_wait = max(0.0, float(max_wait))
    name = f"{owner}/{repo}"
    url: str | None = f"{settings.api_url}/repos/{owner}/{repo}/issues?state=open&per_page={PER_PAGE}&page=1"
    max_pages = math.ceil(limit / PER_PAGE) * _PAGES_PER_LIMIT_PAGE
    issues: list[ListedIssue] = []
    skipped = pages = 0
    seen: set[str] = set()
    own_session = session is None
    session = requests.Session() if session is None else session
    try:
        while url is not None:
            seen.add(url)
            page = _fetch_page(url, name, settings, session, sleep, max_wait)
            if isinstance(page, GitHubError):
                if not pages:
                    raise page
                return OpenIssues(name, issues, _stopped(issues, page), page.reset_at, True, skipped, pages)
            pages += 1
            items, next_url, limits = page
            added, cut = 0, False
            for item in items:
                if len(issues) >= limit:
                    cut = True
                    break
                if "pull_request" in item:
                    skipped += 1
                    continue
                issue = _listed_issue(item)
                if issue is not None:
                    issues.append(issue)
                    added += 1
            if progress is not None and added:
                progress(added)
            if cut or (len(issues) >= limit and next_url is not None):
                return OpenIssues(name, issues, None, None, True, skipped, pages)
            if next_url is None:
                return OpenIssues(name, issues, None, None, False, skipped, pages)
            if pages >= max_pages:
                note = f"Stopped after {pages} pages, most of them pull requests; listed {len(issues):,} open issues."
                return OpenIssues(name, issues, note, None, True, skipped, pages)
            if not _same_api(next_url, settings.api_url) or next_url in seen:
                note = (
                    f"Stopped after {len(issues):,} issues: GitHub's link to the next page "
                    f"does not lead on within {settings.api_url}."
                )
                return OpenIssues(name, issues, note, None, True, skipped, pages)
            # A used-up limit would refuse the next page: wait for a near reset, else stop here.
            if limits.remaining == 0 and limits.reset is not None:
                wait = (limits.reset - _now()).total_seconds()
                if wait > max_wait:
                    error = _rate_limit_error(limits.reset, settings, _now())
                    return OpenIssues(name, issues, _stopped(issues, error), limits.reset, True, skipped, pages)
                sleep(max(0.0, wait) + _RESET_MARGIN)
            url = next_url
    finally:
        if own_session:
            session.close()
    return OpenIssues(name, issues, None, None, False, skipped, pages)


def _fetch_page(
    url: str,
    repository: str,
    settings: GitHubSettings,
    session: requests.Session,
    sleep: Callable[[float], None],
    max_wait: float,
) -> tuple[list[dict], str | None, _Limits] | GitHubError:
    """One page of the listing (its items, the next page's URL and the rate-limit headers), waiting out a
    short rate limit a few times, or the `GitHubError` that ended it."""
    attempt = 0
    while True:
        attempt += 1
        try:
            response = session.get(url, headers=api_headers(settings), timeout=settings.timeout, allow_redirects=True)
        except requests.Timeout:
            return GitHubError(f"GitHub did not answer within {settings.timeout:g} s; try again later.")
        except requests.ConnectionError as error:
            return GitHubError(f"Could not reach GitHub at {settings.api_url}: {_short_reason(error, settings)}.")
        except requests.RequestException as error:
            reason = _short_reason(error, settings)
            return GitHubError(f"Could not list the issues of {repository} from {settings.api_url}: {reason}.")
        now = _now()
        limits = _read_limits(response.headers, now)
        status = response.status_code
        if 200 <= status < 300:
            return _read_page(response, repository, settings, limits)
        message = _github_message(response, settings)
        if not is_rate_limit_answer(status, limits, message):
            return _listing_error(status, message, repository, settings)
        resume_at = limits.resume_at
        if resume_at is None or attempt >= _MAX_ATTEMPTS or (resume_at - now).total_seconds() > max_wait:
            return _rate_limit_error(resume_at, settings, now)
        wait = (resume_at - now).total_seconds()
        sleep(max(0.0, wait) + (_RESET_MARGIN if resume_at == limits.reset else 0.0))


def _read_page(
    response: requests.Response, repository: str, settings: GitHubSettings, limits: _Limits
) -> tuple[list[dict], str | None, _Limits] | GitHubError:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, list):
        return GitHubError(
            f"GitHub's answer for the open issues of {repository} is not a list of issues; check that "
            f"{API_URL_ENVIRONMENT_VARIABLE} ({settings.api_url}) points at the GitHub API "
            "(for GitHub Enterprise: https://HOST/api/v3)."
        )
    next_link = response.links.get("next", {}).get("url")
    return [item for item in data if isinstance(item, dict)], next_link or None, limits


def _listed_issue(item: dict) -> ListedIssue | None:
    """An issue from one listed item, or None for an item that is not one (no number or no title)."""
    number, title, body = item.get("number"), item.get("title"), item.get("body")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1 or not isinstance(title, str):
        return None
    html_url = item.get("html_url")
    # Only an http(s) link is passed on: a page may show it, and the API URL may be user-configured.
    if not isinstance(html_url, str) or not html_url.startswith(("https://", "http://")):
        html_url = ""
    user = item.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return ListedIssue(
        number=number,
        title=title,
        body=body[:MAX_BODY_CHARS] if isinstance(body, str) else "",
        html_url=html_url,
        user=login if isinstance(login, str) else "",
    )


def _listing_error(status: int, message: str | None, repository: str, settings: GitHubSettings) -> GitHubError:
    if status == 404:
        advice = private_repository_advice(settings)
        return GitHubError(f"GitHub could not find the repository {repository} (HTTP 404). Check its name; {advice}.")
    if status == 410:
        return GitHubError(f"Issues are disabled on {repository} (HTTP 410).")
    if status == 401:
        if settings.token:
            return GitHubError(
                f"GitHub refused the token in {TOKEN_ENVIRONMENT_VARIABLE} (HTTP 401); check that it is valid and "
                "has not expired."
            )
        if not settings.token_allowed:
            return GitHubError(f"GitHub asks for a login to read {repository} (HTTP 401); {_NO_TOKEN_HERE}.")
        return GitHubError(
            f"GitHub asks for a login (HTTP 401); set {TOKEN_ENVIRONMENT_VARIABLE} to a token that can read "
            f"{repository}."
        )
    if status == 403:
        text = f"GitHub refused access to the issues of {repository} (HTTP 403)" + (f": {message}" if message else "")
        return GitHubError(text if text.endswith((".", "…", "!", "?")) else text + ".")
    detail = f" ({message})" if message and status < 500 else ""
    return GitHubError(f"GitHub answered HTTP {status} for the open issues of {repository}{detail}; try again later.")


def _stopped(issues: list[ListedIssue], error: GitHubError) -> str:
    return f"Stopped after {len(issues):,} issues: {error}"


def _same_api(url: str, api_url: str) -> bool:
    """Whether a link GitHub gave stays on the configured API (its scheme, host and path), so that the
    token is never sent elsewhere."""
    link, api = urlsplit(url), urlsplit(api_url)
    return (link.scheme, link.netloc) == (api.scheme, api.netloc) and link.path.startswith(api.path + "/")
