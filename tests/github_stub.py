"""A small local server on 127.0.0.1 that answers like GitHub's REST API, for the tests.

Shared by `tests/github/test_client.py` and the browser test. The issue texts here are
written for the tests. Each repository name under `octo/` selects one kind of answer.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXED_RESET = 1_700_000_000
ISSUE = {
    "number": 1,
    "title": "Parser crashes on empty input",
    "body": "**Describe the bug**\nThe parser crashes when the input file is empty.\n\n```\nIndexError\n```",
    "html_url": "https://github.com/octo/demo/issues/1",
    "state": "open",
    "user": {"login": "someone"},
}
PULL = {
    "number": 2,
    "title": "Handle empty input in the parser",
    "body": "Fixes #1 by returning an empty tree.",
    "html_url": "https://github.com/octo/demo/pull/2",
    "pull_request": {"url": "https://api.github.com/repos/octo/demo/pulls/2"},
}
MARKUP = {
    "number": 6,
    "title": "<script>alert(1)</script> **not bold**",
    "body": "<img src=x onerror=alert(1)> [link](javascript:alert(1)) {{ template }} $x$",
    "html_url": "javascript:alert(1)",
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    method: str = "GET"
    # The JSON body a write request sent, parsed; None for reads.
    body: object = None


# The account that the action's writes come from, as GitHub shows a workflow token's comments.
ACTIONS_BOT = {"login": "github-actions[bot]", "type": "Bot"}


class FakeGitHub(ThreadingHTTPServer):
    """A local stand-in for the GitHub API that records every request it gets."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeGitHubHandler)
        self.requests: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        # Issue comments by (repository, issue number), for the action's sticky comment; tests
        # may seed them. Comment ids count up from 1000.
        self.comments: dict[tuple[str, int], list[dict]] = {}
        # Issues as they are now, by (repository, number), for a read before the action edits a
        # title; tests seed them, and a PATCH of the title changes them.
        self.issues: dict[tuple[str, int], dict] = {}
        self.next_comment_id = 1000
        # Answers queued for write requests by (method, path): each is used once, before the
        # normal answer (a 429 then success, a 403 for a token without write permission).
        self.queued: dict[tuple[str, str], list[tuple[int, dict[str, str], bytes]]] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.hits.clear()
            self.comments.clear()
            self.issues.clear()
            self.queued.clear()

    def writes(self) -> list[tuple[str, str, object]]:
        """The (method, path, body) of every request that was not a GET, in order."""
        return [(item.method, item.path, item.body) for item in self.requests if item.method != "GET"]

    def handle_error(self, request, client_address) -> None:
        # The slow answer is written after the client gave up; that broken pipe is expected, not worth a traceback.
        pass


def issue_answer(issue: dict, **headers: str) -> tuple[int, dict[str, str], bytes]:
    limits = {"X-RateLimit-Remaining": "59", "X-RateLimit-Reset": str(FIXED_RESET)}
    return 200, limits | headers, json.dumps(issue).encode()


def error_answer(status: int, message: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return status, dict(headers), json.dumps(body).encode()


def answer(repo: str, number: int, hits: int) -> tuple[int, dict[str, str], bytes]:
    """What the fake API answers for /repos/octo/{repo}/issues/{number}; `hits` counts requests for that path."""
    now = time.time()
    if repo == "demo":
        demo = {
            1: ISSUE,
            2: PULL,
            3: ISSUE | {"number": 3, "body": None},
            4: ISSUE | {"number": 4, "body": "  \n\t "},
            5: ISSUE | {"number": 5, "body": "word " * 30_000},
            6: MARKUP,
            7: PULL | {"number": 7, "body": ""},
        }
        return issue_answer(demo[number]) if number in demo else error_answer(404, "Not Found")
    if repo == "gone":
        return error_answer(410, "This issue was deleted")
    if repo == "auth":
        return error_answer(401, "Bad credentials")
    if repo == "limited":
        reset = str(int(now) + 3600)
        return error_answer(
            403, "API rate limit exceeded", **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        )
    if repo == "throttled":
        return error_answer(429, "Too many requests", **{"Retry-After": "120"})
    if repo == "throttled-once":
        return error_answer(429, "Too many requests", **{"Retry-After": "2"}) if hits == 1 else issue_answer(ISSUE)
    if repo == "forbidden":
        long_message = "Resource not accessible by integration. " * 20
        return error_answer(403, long_message if number == 2 else "Resource not accessible by integration")
    if repo == "broken":
        return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
    if repo == "html":
        return 200, {"Content-Type": "text/html"}, b"<html><body>Sign in to GitHub</body></html>"
    if repo == "odd":
        return 200, {}, b"[1, 2, 3]"
    if repo == "slow":
        time.sleep(1.0)
        return issue_answer(ISSUE)
    if repo == "nearly":
        return issue_answer(ISSUE, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(now) + 5)})
    if repo == "exhausted":
        return issue_answer(ISSUE, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 3600)})
    return error_answer(404, "Not Found")


# Open issues of a repository, for `tests/github/test_listing.py` and the Title check page: 140
# items, newest first, of which 8 are pull requests. Most titles say what is wrong; a few are
# vague ("Bug report", "[Bug]: ", "help", "error", "It doesn't work", "Feature request") and one
# names something its body never mentions.
LISTING_ITEMS = 140
LISTING_PULLS = frozenset(range(5, LISTING_ITEMS, 17))
VAGUE_ISSUES = {
    3: (
        "Bug report",
        "**Describe the bug**\nThe dark mode toggle in the settings panel does not stay on. After I switch it on "
        "and reload the page, the theme is light again.\n\n**To reproduce**\n1. Open settings\n2. Turn on dark "
        "mode\n3. Reload\n\nBrowser: Firefox 128 on Ubuntu 24.04.",
    ),
    20: (
        "[Bug]: ",
        "### What happened?\n\nExporting a table to CSV drops its last row. A table with 10 rows gives a file "
        "with 9 rows and no error message.\n\n### Version\n\n4.2.1",
    ),
    47: (
        "help",
        "pip install fails on Python 3.12 while building the wheel for the native extension: the compiler says "
        "that longintrepr.h was not found. Python 3.11 installs fine on the same machine.",
    ),
    88: (
        "error",
        "After resetting my password, the login page answers 500 Internal Server Error for every attempt. The "
        "server log shows a KeyError for 'session_token' in auth/views.py.",
    ),
    104: (
        "It doesn't work",
        "The webhook I configured for push events never fires. The delivery log in the repository settings is "
        "empty, and the endpoint answers requests that I send by hand with curl.",
    ),
    121: (
        "Feature request",
        "It would help to close the search panel with the Escape key, as most editors do. Today the only way is "
        "to click the small cross in its corner.",
    ),
}
OFF_TOPIC_ISSUES = {
    60: (
        "Scheduler leaks memory on Windows",
        "The link to the installation guide in the README answers 404. It seems the docs folder was renamed "
        "from guide/ to handbook/ last week.",
    ),
}
_LISTED_COMPONENTS = ["parser", "installer", "renderer", "scheduler", "cache", "logger", "editor", "exporter"]
_LISTED_SYMPTOMS = [
    ("crashes with an IndexError", "crashes with an IndexError when the input file is empty"),
    ("is slow on large files", "takes minutes instead of seconds on files larger than 100 MB"),
    ("leaks memory after many requests", "leaks memory after many requests until the process is killed"),
    ("hangs on shutdown", "hangs on shutdown when a job is still in the queue"),
    ("ignores the config file", "ignores the config file and falls back to its defaults"),
]
_LISTED_PLATFORMS = ["Windows", "Linux", "macOS"]


def listed_item(index: int, repo: str = "triage") -> dict:
    """The `index`-th open item (0 the newest) of octo/{repo}'s listing: an issue or a pull request."""
    number = LISTING_ITEMS - index
    html_url = f"https://github.com/octo/{repo}/issues/{number}"
    user = {"login": f"user{index % 7}"}
    if index in LISTING_PULLS:
        return {
            "number": number,
            "title": f"Fix the cache key for item {number}",
            "body": "Fixes a typo in the cache key.",
            "html_url": f"https://github.com/octo/{repo}/pull/{number}",
            "user": user,
            "pull_request": {"url": f"https://api.github.com/repos/octo/{repo}/pulls/{number}"},
        }
    if index in VAGUE_ISSUES or index in OFF_TOPIC_ISSUES:
        title, body = VAGUE_ISSUES.get(index) or OFF_TOPIC_ISSUES[index]
    else:
        component = _LISTED_COMPONENTS[index % len(_LISTED_COMPONENTS)]
        short, long = _LISTED_SYMPTOMS[index % len(_LISTED_SYMPTOMS)]
        platform = _LISTED_PLATFORMS[index % len(_LISTED_PLATFORMS)]
        title = f"{component.capitalize()} {short} on {platform}"
        body = (
            f"The {component} {long} on {platform}. I tried version 2.{index % 9}.{index % 5} and it still "
            f"happens.\n\n```\ntraceback: {component}_error at line {10 + index}\n```"
        )
    # One body is null, as GitHub sends an issue opened without a description.
    return {"number": number, "title": title, "body": None if index == 30 else body, "html_url": html_url, "user": user}


_LISTING = re.compile(r"/repos/octo/([\w.-]+)/issues\?(.*)")


def listing_answer(api_url: str, repo: str, query: str, hits: int) -> tuple[int, dict[str, str], bytes]:
    """What the fake API answers for GET /repos/octo/{repo}/issues?state=open&...: a page of open items."""
    from urllib.parse import parse_qs

    arguments = parse_qs(query)
    page = int(arguments.get("page", ["1"])[0])
    per_page = min(int(arguments.get("per_page", ["30"])[0]), 100)
    if repo == "auth":
        return error_answer(401, "Bad credentials")
    if repo == "broken":
        return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
    if repo == "odd":
        return 200, {}, b'{"message": "not a list"}'
    if repo == "limited":
        reset = str(int(time.time()) + 3600)
        return error_answer(
            403, "API rate limit exceeded", **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        )
    if repo not in ("triage", "triage-limited", "triage-throttled-once", "triage-exhausted", "triage-astray"):
        return error_answer(404, "Not Found")
    now = time.time()
    if page > 1 and repo == "triage-limited":
        return error_answer(429, "You have exceeded a secondary rate limit", **{"Retry-After": "120"})
    if page > 1 and repo == "triage-throttled-once" and hits == 1:
        return error_answer(429, "You have exceeded a secondary rate limit", **{"Retry-After": "2"})
    pages = math.ceil(LISTING_ITEMS / per_page)
    items = [listed_item(index, repo) for index in range((page - 1) * per_page, min(page * per_page, LISTING_ITEMS))]
    base = f"{api_url}/repos/octo/{repo}/issues?state=open&per_page={per_page}&page="
    if repo == "triage-astray":
        base = base.replace("127.0.0.1", "localhost")
    links = []
    if page < pages:
        links += [f'<{base}{page + 1}>; rel="next"', f'<{base}{pages}>; rel="last"']
    if page > 1:
        links += [f'<{base}{page - 1}>; rel="prev"', f'<{base}1>; rel="first"']
    headers = {"X-RateLimit-Remaining": "59", "X-RateLimit-Reset": str(FIXED_RESET)}
    if repo == "triage-exhausted":
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 3600)}
    if links:
        headers["Link"] = ", ".join(links)
    return 200, headers, json.dumps(items).encode()


_COMMENTS = re.compile(r"/repos/octo/([\w.-]+)/issues/([0-9]+)/comments(?:\?.*)?")
_COMMENT = re.compile(r"/repos/octo/([\w.-]+)/issues/comments/([0-9]+)")
_ISSUE = re.compile(r"/repos/octo/([\w.-]+)/issues/([0-9]+)")
_ACCESS_TOKENS = re.compile(r"/app/installations/([0-9]+)/access_tokens")


def json_answer(status: int, value: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"X-RateLimit-Remaining": "59", "X-RateLimit-Reset": str(FIXED_RESET)}, json.dumps(value).encode()


class FakeGitHubHandler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def _record(self, body: object = None) -> int:
        with self.server.lock:
            headers = {key.lower(): value for key, value in self.headers.items()}
            self.server.requests.append(Recorded(self.path, headers, self.command, body))
            self.server.hits[self.path] += 1
            return self.server.hits[self.path]

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json; charset=utf-8"} | headers
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_json(self) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    def do_GET(self) -> None:
        hits = self._record()
        listing = _LISTING.fullmatch(self.path)
        if listing:
            self._send(*listing_answer(self.server.api_url, listing.group(1), listing.group(2), hits))
            return
        comments = _COMMENTS.fullmatch(self.path)
        match = _ISSUE.fullmatch(self.path)
        if comments:
            key = (comments.group(1), int(comments.group(2)))
            with self.server.lock:
                listed = list(self.server.comments.get(key, []))
            self._send(*json_answer(200, listed))
            return
        if match and (match.group(1), int(match.group(2))) in self.server.issues:
            with self.server.lock:
                current = dict(self.server.issues[(match.group(1), int(match.group(2)))])
            self._send(*json_answer(200, current))
            return
        if match:
            status, headers, body = answer(match.group(1), int(match.group(2)), hits)
        else:
            status, headers, body = error_answer(404, "Not Found")
        self._send(status, headers, body)

    def _write(self) -> None:
        """POST, PATCH and DELETE: the calls the action makes on comments and titles."""
        body = self._read_json() if self.command != "DELETE" else None
        self._record(body)
        with self.server.lock:
            queued = self.server.queued.get((self.command, self.path))
            if queued:
                self._send(*queued.pop(0))
                return
            comments = _COMMENTS.fullmatch(self.path)
            comment = _COMMENT.fullmatch(self.path)
            issue = _ISSUE.fullmatch(self.path)
            if self.command == "POST" and comments and isinstance(body, dict) and "body" in body:
                self.server.next_comment_id += 1
                created = {"id": self.server.next_comment_id, "body": body["body"], "user": ACTIONS_BOT}
                self.server.comments.setdefault((comments.group(1), int(comments.group(2))), []).append(created)
                reply = json_answer(201, created)
            elif comment and self.command in ("PATCH", "DELETE"):
                number = int(comment.group(2))
                for key, listed in self.server.comments.items():
                    for position, item in enumerate(listed):
                        if item["id"] == number and key[0] == comment.group(1):
                            if self.command == "DELETE":
                                del listed[position]
                                self._send(204, {}, b"")
                                return
                            item["body"] = body["body"]
                            self._send(*json_answer(200, item))
                            return
                reply = error_answer(404, "Not Found")
            elif issue and self.command == "PATCH" and isinstance(body, dict):
                key = (issue.group(1), int(issue.group(2)))
                if key in self.server.issues:
                    self.server.issues[key].update(body)
                reply = json_answer(200, ISSUE | {"number": int(issue.group(2))} | body)
            elif self.command == "POST" and _ACCESS_TOKENS.fullmatch(self.path):
                # A GitHub App's JWT bought an installation token: one an hour, as GitHub's.
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    reply = error_answer(401, "A JSON web token could not be decoded")
                else:
                    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                    token = f"ghs_test{_ACCESS_TOKENS.fullmatch(self.path).group(1)}"
                    reply = json_answer(201, {"token": token, "expires_at": expires})
            else:
                reply = error_answer(404, "Not Found")
        self._send(*reply)

    do_POST = do_PATCH = do_DELETE = _write

    def log_message(self, format, *args) -> None:
        pass


@contextmanager
def running_fake_github() -> Iterator[FakeGitHub]:
    """A started `FakeGitHub`, shut down after the block."""
    server = FakeGitHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
