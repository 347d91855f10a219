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


class FakeGitHub(ThreadingHTTPServer):
    """A local stand-in for the GitHub API that records every request it gets."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeGitHubHandler)
        self.requests: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.hits.clear()

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


class FakeGitHubHandler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(
                Recorded(self.path, {key.lower(): value for key, value in self.headers.items()})
            )
            self.server.hits[self.path] += 1
            hits = self.server.hits[self.path]
        match = re.fullmatch(r"/repos/octo/([\w.-]+)/issues/([0-9]+)", self.path)
        if match:
            status, headers, body = answer(match.group(1), int(match.group(2)), hits)
        else:
            status, headers, body = error_answer(404, "Not Found")
        self.send_response(status)
        headers = {"Content-Type": "application/json; charset=utf-8"} | headers
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
