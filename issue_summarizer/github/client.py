"""Fetch a GitHub issue's title and body through GitHub's REST API.

The app can title an issue from its URL: the user pastes https://github.com/owner/repo/issues/123, this module parses
it, asks the API for the issue and hands back its title and body as plain text. Every failure (a typo in the URL, a
private repository, the rate limit, a network problem) becomes one `GitHubError` whose message says what went wrong and
what to do, because the people reading it are app users rather than developers. The module imports neither streamlit
nor tensorflow, so the app pages, the CLI and the tests can use it cheaply.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urlsplit

import requests

from issue_summarizer.data.input_checks import MAX_BODY_CHARS

API_URL_ENVIRONMENT_VARIABLE = "GITHUB_API_URL"
TOKEN_ENVIRONMENT_VARIABLE = "GITHUB_TOKEN"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TIMEOUT = 10.0  # seconds

EXAMPLE_URL = "https://github.com/owner/repo/issues/123"
USER_AGENT = "issue-summarizer"
API_VERSION = "2022-11-28"
MAX_ISSUE_NUMBER = 10**9

_PUBLIC_WEB_HOST = "github.com"
_PUBLIC_WEB_HOSTS = frozenset({"github.com", "www.github.com"})
_PUBLIC_API_HOST = "api.github.com"
_ENTERPRISE_API_PATH = "/api/v3"

# GitHub's own rules for account and repository names; checking them here turns a mistyped URL into a clear message
# before any request, and keeps anything but a plain name out of the API path.
_OWNER = re.compile(r"(?!-)[A-Za-z0-9_.-]{1,39}")
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_ISSUE_PATH = re.compile(r"/(?:issues|pull|pulls)/[0-9]+(?:/|$)")
_ERRNO_REASON = re.compile(r"\[Errno -?[0-9]+\] ([^'\")\]]+)")
_OBJECT_PREFIX = re.compile(r"<[^>]*>:\s*")

# Said instead of "set GITHUB_TOKEN" where no token may be used: a shared demo server never lends its operator's token
# to visitors, so that advice would send them looking for a setting they cannot reach.
_NO_TOKEN_HERE = "this demo server fetches public issues only, without a token"

_MAX_MESSAGE_CHARS = 200
_MAX_SHOWN_CHARS = 80
# X-RateLimit-Reset is in whole seconds and our clock may run slightly behind GitHub's, so waiting exactly until the
# reset can land a request just before the window really resets.
_RESET_MARGIN = 1.0
# A rate-limited URL is retried after waiting, but only a few times: a limit that keeps coming back means another
# client shares it, and the batch should stop rather than loop.
_MAX_ATTEMPTS = 3

# What the third path segment of a github.com URL points to, for messages that say why it is not an issue.
_SECTIONS = {
    "pulls": "the list of {repository}'s pull requests",
    "discussions": "a discussion in {repository}",
    "commit": "a commit in {repository}",
    "commits": "the commit history of {repository}",
    "blob": "a file in {repository}",
    "tree": "a folder or branch of {repository}",
    "releases": "the releases of {repository}",
    "wiki": "the wiki of {repository}",
    "actions": "a GitHub Actions page of {repository}",
    "compare": "a comparison of commits in {repository}",
    "milestone": "a milestone of {repository}",
    "milestones": "the milestones of {repository}",
    "labels": "the labels of {repository}",
    "projects": "the projects of {repository}",
}


class GitHubError(ValueError):
    """An issue could not be fetched; the message says what went wrong and what to do in plain words.

    `reset_at` is when GitHub's rate limit resets (timezone-aware UTC) when the failure is the rate limit, else None.
    `title` is the issue's title when it was fetched but cannot be used (an empty body), else None, because the title
    alone is still worth showing.
    """

    def __init__(self, message: str, *, reset_at: datetime | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at
        self.title = title


@dataclass(frozen=True)
class IssueReference:
    """Which issue or pull request to fetch.

    `kind` is "issues" or "pull", as in the web URL. `host` is the web host the reference came from ("github.com", or a
    GitHub Enterprise host), used only to build `web_url`; fetching always goes to the API in `GitHubSettings`.
    """

    owner: str
    repo: str
    number: int
    kind: str
    host: str = _PUBLIC_WEB_HOST

    def __post_init__(self) -> None:
        # Validating here, not only in the parser, keeps a hand-built reference from smuggling "../" or a query into
        # the API path.
        if not isinstance(self.owner, str) or not _OWNER.fullmatch(self.owner):
            raise GitHubError(f'"{_shorten(str(self.owner))}" is not a valid GitHub user or organization name.')
        if not isinstance(self.repo, str) or not _REPO.fullmatch(self.repo) or self.repo in (".", ".."):
            raise GitHubError(f'"{_shorten(str(self.repo))}" is not a valid GitHub repository name.')
        if isinstance(self.number, bool) or not isinstance(self.number, int):
            raise GitHubError(f"The issue number must be a whole number, not {type(self.number).__name__}.")
        if not 1 <= self.number <= MAX_ISSUE_NUMBER:
            raise GitHubError(f"{self.number} is not a valid issue number; issue numbers start at 1.")
        if self.kind not in ("issues", "pull"):
            raise GitHubError(f'The kind of reference must be "issues" or "pull", not "{_shorten(str(self.kind))}".')
        if not isinstance(self.host, str) or not _HOST.fullmatch(self.host):
            raise GitHubError(f'"{_shorten(str(self.host))}" is not a valid host name.')

    @property
    def repository(self) -> str:
        """The repository as GitHub writes it: "owner/repo"."""
        return f"{self.owner}/{self.repo}"

    @property
    def web_url(self) -> str:
        """The canonical web page of the issue or pull request."""
        return f"https://{self.host}/{self.owner}/{self.repo}/{self.kind}/{self.number}"


@dataclass(frozen=True)
class FetchedIssue:
    """An issue's title and body exactly as GitHub returned them (plain text, never interpreted).

    The body is capped at `MAX_BODY_CHARS` characters. The rate-limit fields come from the response's headers
    (`rate_limit_reset` is timezone-aware UTC) and are None when GitHub did not send them.
    """

    reference: IssueReference
    title: str
    body: str
    is_pull_request: bool
    html_url: str
    rate_limit_remaining: int | None
    rate_limit_reset: datetime | None


@dataclass(frozen=True)
class GitHubSettings:
    """Where the GitHub API is, which token to send and how long to wait for an answer.

    The token is left out of the repr so that logging or displaying the settings cannot leak it. `token_allowed` is
    False where no token may be used at all (a shared demo server, whose visitors must not borrow the operator's): then
    no token is sent, whatever `token` says, and messages do not advise setting one.
    """

    api_url: str = DEFAULT_API_URL
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    token_allowed: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.api_url, str) or not re.match(r"https?://[^/\s]+", self.api_url.strip()):
            raise GitHubError(
                f"{API_URL_ENVIRONMENT_VARIABLE} must be an http or https URL such as {DEFAULT_API_URL} "
                f'(GitHub Enterprise: https://HOST/api/v3), not "{_shorten(str(self.api_url))}".'
            )
        # A trailing slash would produce "//repos/..." paths, which some servers refuse.
        object.__setattr__(self, "api_url", self.api_url.strip().rstrip("/"))
        token = self.token.strip() if isinstance(self.token, str) and self.token_allowed else None
        object.__setattr__(self, "token", token or None)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise GitHubError("The GitHub timeout must be a positive number of seconds.")
        if not isinstance(self.token_allowed, bool):
            raise GitHubError("Whether a GitHub token is allowed must be True or False.")

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> GitHubSettings:
        """Read GITHUB_API_URL and GITHUB_TOKEN (from `os.environ` unless a mapping is given).

        Values are stripped and an empty value counts as unset, because a variable exported as "" or with a stray
        newline from a secrets file should behave like no variable rather than like a broken one.
        """
        environment = os.environ if environment is None else environment
        api_url = (environment.get(API_URL_ENVIRONMENT_VARIABLE) or "").strip() or DEFAULT_API_URL
        token = (environment.get(TOKEN_ENVIRONMENT_VARIABLE) or "").strip() or None
        return cls(api_url=api_url, token=token)


def looks_like_issue_url(text: str) -> bool:
    """Say whether pasted text is a URL to fetch rather than an issue body to summarize; never raises.

    True for a single URL-like string on github.com (with or without a scheme), or on any host when its path names an
    issue or pull request (GitHub Enterprise). A github.com URL that is not an issue (a repository page) also counts,
    so that the app answers with `parse_issue_url`'s explanation instead of summarizing the URL as if it were text.
    """
    if not isinstance(text, str):
        return False
    candidate = text.strip()
    parts = _split_url(candidate)
    if parts is None:
        return False
    host = parts.hostname or ""
    if host in _PUBLIC_WEB_HOSTS or host == _PUBLIC_API_HOST:
        return True
    # Without a scheme, "foo/bar/issues/1" is more likely a phrase than a URL; a host needs a dot to count.
    if not _SCHEME.match(candidate) and "." not in host:
        return False
    return _ISSUE_PATH.search(parts.path) is not None


def parse_issue_url(text: str, settings: GitHubSettings | None = None) -> IssueReference:
    """Turn an issue or pull request URL into an `IssueReference`, or raise `GitHubError` saying what is wrong.

    Accepts web URLs on github.com (any scheme or none, "www.", trailing slash, query, fragment), the API form
    https://api.github.com/repos/OWNER/REPO/issues/N, and the web and API URLs of the GitHub Enterprise installation
    that `settings` (read from the environment when None) points at.
    """
    if not isinstance(text, str):
        raise GitHubError(f"Expected an issue URL as text, not {type(text).__name__}.")
    candidate = text.strip()
    if not candidate:
        raise GitHubError(f"No issue URL was given; paste one like {EXAMPLE_URL}.")
    shown = _shorten(candidate)
    parts = _split_url(candidate)
    if parts is None:
        raise _not_an_issue_url(shown)
    settings = GitHubSettings.from_environment() if settings is None else settings
    api = urlsplit(settings.api_url)
    api_host = (api.hostname or "").lower()
    api_path = api.path.rstrip("/")
    enterprise_host = api.netloc.rpartition("@")[2].lower() if api_path.endswith(_ENTERPRISE_API_PATH) else None
    host = parts.hostname or ""
    path = parts.path

    if enterprise_host is not None and (host in _PUBLIC_WEB_HOSTS or host == _PUBLIC_API_HOST):
        # The issue would be fetched from the Enterprise API, where the same owner/repo#N is another issue or none.
        raise GitHubError(
            f'"{shown}" is on github.com, but {API_URL_ENVIRONMENT_VARIABLE} points at {enterprise_host}; paste an '
            f"issue URL from {enterprise_host}, or unset {API_URL_ENVIRONMENT_VARIABLE} to fetch from github.com."
        )
    if host == _PUBLIC_API_HOST and path.startswith("/repos/"):
        return _reference_from_api_path(path[len("/repos/") :], shown, _PUBLIC_WEB_HOST)
    if api_host and host == api_host and path.startswith(api_path + "/repos/"):
        return _reference_from_api_path(path[len(api_path + "/repos/") :], shown, enterprise_host or _PUBLIC_WEB_HOST)
    if host in _PUBLIC_WEB_HOSTS:
        return _reference_from_web_path(path, shown, _PUBLIC_WEB_HOST)
    if enterprise_host is not None and host == api_host:
        return _reference_from_web_path(path, shown, enterprise_host)
    raise _not_an_issue_url(shown)


def fetch_issue(
    reference: IssueReference, settings: GitHubSettings | None = None, session: requests.Session | None = None
) -> FetchedIssue:
    """Fetch one issue or pull request from the API in `settings` (read from the environment when None).

    Raises `GitHubError` with one clear message for every failure, including an issue whose body is empty.
    """
    settings = GitHubSettings.from_environment() if settings is None else settings
    if session is None:
        with requests.Session() as own_session:
            outcome = _fetch_once(reference, settings, own_session)
    else:
        outcome = _fetch_once(reference, settings, session)
    if isinstance(outcome.result, GitHubError):
        raise outcome.result
    return outcome.result


def fetch_issue_by_url(
    text: str, settings: GitHubSettings | None = None, session: requests.Session | None = None
) -> FetchedIssue:
    """Parse an issue URL and fetch the issue; raises `GitHubError` for a bad URL or a failed fetch."""
    settings = GitHubSettings.from_environment() if settings is None else settings
    return fetch_issue(parse_issue_url(text, settings), settings, session)


def fetch_many(
    urls: Sequence[str],
    settings: GitHubSettings | None = None,
    progress: Callable[[int], None] | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = 60.0,
) -> list[FetchedIssue | GitHubError]:
    """One result per URL, in order: the issue or the error for that URL.

    Respects the rate limit: after each response it reads X-RateLimit-Remaining/X-RateLimit-Reset (and Retry-After);
    when the limit is used up (remaining == 0, or a 403/429 rate-limit answer) it waits until the reset if that is at
    most `max_wait` seconds away (calling `sleep`, and retrying a URL that was refused), otherwise it stops calling the
    API and every remaining URL gets a `GitHubError` saying the rate limit is used up and when it resets. Invalid URLs
    get their parse error without any request. `progress(1)` is called after each URL.
    """
    settings = GitHubSettings.from_environment() if settings is None else settings
    max_wait = max(0.0, float(max_wait))
    # Parsing everything first lets the loop know whether any request is still to come, so it never waits for a reset
    # after the last one.
    parsed: list[IssueReference | GitHubError] = []
    for text in urls:
        try:
            parsed.append(parse_issue_url(text, settings))
        except GitHubError as error:
            parsed.append(error)
    own_session = session is None
    session = requests.Session() if session is None else session
    results: list[FetchedIssue | GitHubError] = []
    stopped = False
    stopped_until: datetime | None = None
    try:
        for index, item in enumerate(parsed):
            if isinstance(item, GitHubError):
                results.append(item)
            elif stopped:
                results.append(_rate_limit_error(stopped_until, settings, _now(), skipped=True))
            else:
                more_to_come = any(isinstance(later, IssueReference) for later in parsed[index + 1 :])
                result, stopped, stopped_until = _fetch_patiently(
                    item, settings, session, sleep, max_wait, more_to_come
                )
                results.append(result)
            if progress is not None:
                progress(1)
    finally:
        if own_session:
            session.close()
    return results


@dataclass(frozen=True)
class _Limits:
    """The rate-limit state one response reported; every field is None when its header was missing or unreadable."""

    remaining: int | None = None
    reset: datetime | None = None
    retry_at: datetime | None = None

    @property
    def resume_at(self) -> datetime | None:
        """When the next request may go out, or None when nothing says to wait."""
        times = [moment for moment in (self.reset if self.remaining == 0 else None, self.retry_at) if moment]
        return max(times) if times else None


@dataclass(frozen=True)
class _Outcome:
    result: FetchedIssue | GitHubError
    limits: _Limits
    rate_limited: bool = False


def _fetch_patiently(
    reference: IssueReference,
    settings: GitHubSettings,
    session: requests.Session,
    sleep: Callable[[float], None],
    max_wait: float,
    more_to_come: bool,
) -> tuple[FetchedIssue | GitHubError, bool, datetime | None]:
    """Fetch one issue for `fetch_many`, waiting out a short rate limit; returns (result, stop, resume time)."""
    attempt = 0
    while True:
        attempt += 1
        outcome = _fetch_once(reference, settings, session)
        resume_at = outcome.limits.resume_at
        if not outcome.rate_limited and (resume_at is None or not more_to_come):
            return outcome.result, False, None
        if resume_at is None:
            # A rate-limit answer without a reset time (a secondary limit): more requests would only prolong it.
            return outcome.result, True, None
        wait = (resume_at - _now()).total_seconds()
        if wait > max_wait or (outcome.rate_limited and attempt >= _MAX_ATTEMPTS):
            return outcome.result, True, resume_at
        sleep(max(0.0, wait) + (_RESET_MARGIN if resume_at == outcome.limits.reset else 0.0))
        if not outcome.rate_limited:
            return outcome.result, False, None


def api_headers(settings: GitHubSettings) -> dict[str, str]:
    """The headers of every API request; a token only where `settings` has one (never where none is allowed)."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
    if settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    return headers


def private_repository_advice(settings: GitHubSettings) -> str:
    """What to do about a 404 that may be a private repository, fitting the token rules of `settings`."""
    if settings.token:
        return f"if the repository is private, the token in {TOKEN_ENVIRONMENT_VARIABLE} may lack access to it"
    if not settings.token_allowed:
        return f"{_NO_TOKEN_HERE}, so it cannot fetch from a private repository"
    return f"if the repository is private, set {TOKEN_ENVIRONMENT_VARIABLE} to a token that can read it"


def _fetch_once(reference: IssueReference, settings: GitHubSettings, session: requests.Session) -> _Outcome:
    """Send one request and turn whatever happens into an issue or a `GitHubError`, plus the rate-limit headers."""
    url = f"{settings.api_url}/repos/{reference.owner}/{reference.repo}/issues/{reference.number}"
    try:
        response = session.get(url, headers=api_headers(settings), timeout=settings.timeout, allow_redirects=True)
    except requests.Timeout:
        message = f"GitHub did not answer within {settings.timeout:g} s; try again later."
        return _Outcome(GitHubError(message), _Limits())
    except requests.ConnectionError as error:
        message = f"Could not reach GitHub at {settings.api_url}: {_short_reason(error, settings)}."
        return _Outcome(GitHubError(message), _Limits())
    except requests.RequestException as error:
        message = f"Could not fetch {_describe(reference)} from {settings.api_url}: {_short_reason(error, settings)}."
        return _Outcome(GitHubError(message), _Limits())
    now = _now()
    limits = _read_limits(response.headers, now)
    return _interpret(response, reference, settings, limits, now)


def _interpret(
    response: requests.Response, reference: IssueReference, settings: GitHubSettings, limits: _Limits, now: datetime
) -> _Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return _Outcome(_read_issue(response, reference, settings, limits), limits)
    message = _github_message(response, settings)
    described = _describe(reference)
    if is_rate_limit_answer(status, limits, message):
        return _Outcome(_rate_limit_error(limits.resume_at, settings, now), limits, rate_limited=True)
    if status == 404:
        text = f"GitHub could not find {described} (HTTP 404). Check the URL; {private_repository_advice(settings)}."
    elif status == 410:
        text = f"{_capitalized(described)} was deleted, or issues are disabled on {reference.repository} (HTTP 410)."
    elif status == 401:
        if settings.token:
            text = (
                f"GitHub refused the token in {TOKEN_ENVIRONMENT_VARIABLE} (HTTP 401); check that it is valid and "
                "has not expired."
            )
        elif not settings.token_allowed:
            text = f"GitHub asks for a login to read {reference.repository} (HTTP 401); {_NO_TOKEN_HERE}."
        else:
            text = (
                f"GitHub asks for a login (HTTP 401); set {TOKEN_ENVIRONMENT_VARIABLE} to a token that can read "
                f"{reference.repository}."
            )
    elif status == 403:
        text = f"GitHub refused access to {described} (HTTP 403)" + (f": {message}" if message else "")
        text += "" if text.endswith((".", "…", "!", "?")) else "."
    else:
        detail = f" ({message})" if message and status < 500 else ""
        text = f"GitHub answered HTTP {status} for {described}{detail}; try again later."
    return _Outcome(GitHubError(text), limits)


def is_rate_limit_answer(status: int, limits: _Limits, message: str | None) -> bool:
    """Whether an answer is GitHub's rate limit: any 429, or a 403 with the limit's headers or its words."""
    said_rate_limit = message is not None and "rate limit" in message.lower()
    limit_headers = limits.remaining == 0 or limits.retry_at is not None
    return status == 429 or (status == 403 and (limit_headers or said_rate_limit))


def _read_issue(
    response: requests.Response, reference: IssueReference, settings: GitHubSettings, limits: _Limits
) -> FetchedIssue | GitHubError:
    described = _describe(reference)
    # The usual cause of a non-JSON or non-issue answer is GITHUB_API_URL pointing at a web page, so say so.
    check = (
        f"check that {API_URL_ENVIRONMENT_VARIABLE} ({settings.api_url}) points at the GitHub API "
        "(for GitHub Enterprise: https://HOST/api/v3)"
    )
    try:
        data = response.json()
    except ValueError:
        return GitHubError(f"GitHub's answer for {described} is not JSON; {check}.")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("title"), str)
        or not isinstance(data.get("body"), str | None)
    ):
        return GitHubError(f"GitHub's answer for {described} does not look like an issue; {check}.")
    title = data["title"]
    body = data.get("body") or ""
    is_pull_request = data.get("pull_request") is not None
    if not body.strip():
        noun = "Pull request" if is_pull_request else "Issue"
        return GitHubError(
            f'{noun} {reference.repository}#{reference.number} ("{_shorten(title, _MAX_MESSAGE_CHARS)}") has an empty '
            "body, so there is nothing to summarize.",
            title=title,
        )
    html_url = data.get("html_url")
    # Only an http(s) link is passed on, since the app may render it as a link and the API URL may be user-configured.
    if not isinstance(html_url, str) or not html_url.startswith(("https://", "http://")):
        html_url = reference.web_url
    return FetchedIssue(
        reference=reference,
        title=title,
        body=body[:MAX_BODY_CHARS],
        is_pull_request=is_pull_request,
        html_url=html_url,
        rate_limit_remaining=limits.remaining,
        rate_limit_reset=limits.reset,
    )


def _rate_limit_error(
    reset_at: datetime | None, settings: GitHubSettings, now: datetime, skipped: bool = False
) -> GitHubError:
    if reset_at is None:
        when = "try again in a few minutes"
    else:
        when = f"it resets at {reset_at.astimezone(UTC):%H:%M} UTC ({_time_until(now, reset_at)})"
    text = f"GitHub's rate limit is used up; {when}."
    if skipped:
        text = "Not fetched: " + text
    if not settings.token_allowed:
        text += f" {_capitalized(_NO_TOKEN_HERE)}, at GitHub's unauthenticated rate limit of 60 requests an hour."
    elif not settings.token:
        text += f" Set {TOKEN_ENVIRONMENT_VARIABLE} to raise the limit from 60 to 5,000 requests an hour."
    return GitHubError(text, reset_at=reset_at)


def _read_limits(headers: Mapping[str, str], now: datetime) -> _Limits:
    remaining = _integer(headers.get("X-RateLimit-Remaining"))
    reset_seconds = _integer(headers.get("X-RateLimit-Reset"))
    reset = None
    if reset_seconds is not None:
        try:
            reset = datetime.fromtimestamp(reset_seconds, UTC)
        except (OverflowError, OSError, ValueError):
            reset = None
    return _Limits(remaining=remaining, reset=reset, retry_at=_retry_at(headers.get("Retry-After"), now))


def _retry_at(value: str | None, now: datetime) -> datetime | None:
    """Read Retry-After, which is seconds from now or (rarely) an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):
        return now + timedelta(seconds=min(float(value), 10**7))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _integer(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"[0-9]{1,15}", value.strip()):
        return None
    return int(value.strip())


def _github_message(response: requests.Response, settings: GitHubSettings) -> str | None:
    """GitHub's own explanation (the JSON `message` field), on one line and shortened, or None."""
    try:
        data = response.json()
    except ValueError:
        return None
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    return _shorten(_redact(" ".join(message.split()), settings), _MAX_MESSAGE_CHARS)


def _short_reason(error: requests.RequestException, settings: GitHubSettings) -> str:
    """The useful end of a requests error ("Connection refused"), not urllib3's paragraph about connection pools."""
    text = str(error)
    match = _ERRNO_REASON.search(text)
    if match:
        reason = match.group(1).strip()
    else:
        inner = getattr(error.args[0], "reason", None) if error.args else None
        reason = _OBJECT_PREFIX.sub("", str(inner if inner is not None else text)).strip() or type(error).__name__
    return _shorten(_redact(reason, settings), 120).rstrip(".")


def _redact(text: str, settings: GitHubSettings) -> str:
    return text.replace(settings.token, "***") if settings.token else text


def _split_url(candidate: str) -> SplitResult | None:
    """Split a single http(s) URL, adding "https://" when the scheme is missing; None when it is not one."""
    if not candidate or any(character.isspace() for character in candidate):
        return None
    if not _SCHEME.match(candidate):
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        parts.port  # noqa: B018 - reading the port raises ValueError for a malformed one.
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return parts


def _reference_from_web_path(path: str, shown: str, host: str) -> IssueReference:
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise _not_an_issue(shown, "GitHub's home page")
    if len(segments) == 1:
        raise _not_an_issue(shown, f'the page of the GitHub user or organization "{_shorten(segments[0], 40)}"')
    owner, repo = segments[0], segments[1]
    _check_names(owner, repo, shown)
    repository = f"{owner}/{repo}"
    if len(segments) == 2:
        raise _not_an_issue(shown, f"the repository page of {repository}")
    section = segments[2].lower()
    if section in ("issues", "pull"):
        if len(segments) == 3:
            listed = "issues" if section == "issues" else "pull requests"
            raise _not_an_issue(shown, f"the list of {repository}'s {listed}")
        # Further segments ("/pull/5/files") are tabs of the same pull request, so they still name it.
        return IssueReference(owner, repo, _parse_number(segments[3], shown), section, host)
    what = _SECTIONS.get(section, 'the "{section}" page of {repository}').format(
        repository=repository, section=_shorten(segments[2], 40)
    )
    raise _not_an_issue(shown, what)


def _reference_from_api_path(rest: str, shown: str, host: str) -> IssueReference:
    segments = rest.strip("/").split("/")
    if len(segments) != 4 or segments[2] not in ("issues", "pulls"):
        raise _not_an_issue(shown, "a GitHub API address")
    owner, repo = segments[0], segments[1]
    _check_names(owner, repo, shown)
    kind = "issues" if segments[2] == "issues" else "pull"
    return IssueReference(owner, repo, _parse_number(segments[3], shown), kind, host)


def _check_names(owner: str, repo: str, shown: str) -> None:
    if not _OWNER.fullmatch(owner) or not _REPO.fullmatch(repo) or repo in (".", ".."):
        raise GitHubError(
            f'"{shown}" does not name a valid GitHub repository ("{_shorten(owner, 40)}/{_shorten(repo, 40)}"); '
            f"paste an issue URL like {EXAMPLE_URL}."
        )


def _parse_number(segment: str, shown: str) -> int:
    if not re.fullmatch(r"[0-9]+", segment):
        raise GitHubError(
            f'"{shown}" has "{_shorten(segment, 40)}" where the issue number should be; '
            f"paste an issue URL like {EXAMPLE_URL}."
        )
    if len(segment) > len(str(MAX_ISSUE_NUMBER)) or not 1 <= int(segment) <= MAX_ISSUE_NUMBER:
        raise GitHubError(f'"{shown}" names issue number {_shorten(segment, 20)}, which cannot exist.')
    return int(segment)


def _not_an_issue_url(shown: str) -> GitHubError:
    return GitHubError(f'"{shown}" is not a GitHub issue URL; paste one like {EXAMPLE_URL}.')


def _not_an_issue(shown: str, what: str) -> GitHubError:
    return GitHubError(f'"{shown}" is {what}, not an issue or pull request; paste an issue URL like {EXAMPLE_URL}.')


def _describe(reference: IssueReference) -> str:
    noun = "pull request" if reference.kind == "pull" else "issue"
    return f"{noun} {reference.repository}#{reference.number}"


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _time_until(now: datetime, moment: datetime) -> str:
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "any moment now"
    if seconds < 60:
        return "in less than a minute"
    minutes = math.ceil(seconds / 60)
    return "in 1 minute" if minutes == 1 else f"in {minutes} minutes"


def _shorten(text: str, limit: int = _MAX_SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _now() -> datetime:
    return datetime.now(UTC)
