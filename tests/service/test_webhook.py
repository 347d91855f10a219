"""The GitHub App webhook end to end: signed deliveries through the FastAPI app, the background task,
the App's JWT and installation token, and the Action's calls, against the loopback stub of the API.

A small fake backend stands in for the model: "Bug report" is vague (with a suggestion), any other
title is fine. The key pair and the secret are made here, for the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from issue_summarizer.github.sticky_comment import MARKER
from issue_summarizer.service.api import ServiceState, create_app
from issue_summarizer.service.model_work import CheckAnswer
from issue_summarizer.service.webhook import WebhookHandler, webhook_from_environment
from tests.github_stub import running_fake_github

REPOSITORY = "octo/webhook"
APP_ID = "12345"
INSTALLATION = 42
SECRET = "a-test-webhook-secret"
SUGGESTION = "Dark mode setting is lost after reloading the page"
BODY = "The dark mode toggle does not stay on: after I switch it on and reload the page, the theme is light again."
TOKENS = f"/app/installations/{INSTALLATION}/access_tokens"


def comments_path(number: int) -> str:
    return f"/repos/{REPOSITORY}/issues/{number}/comments?per_page=100"


def post_comment_path(number: int) -> str:
    return f"/repos/{REPOSITORY}/issues/{number}/comments"


@pytest.fixture(scope="module")
def key_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


@pytest.fixture(scope="module")
def github():
    with running_fake_github() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(github):
    github.reset()


class FakeBackend:
    """What the webhook asks of the service's backend, without the model."""

    ready = True
    error = None
    queue_depth = 0

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    async def checks(self, pairs, timeout=None):
        self.calls.append(list(pairs))
        return [
            CheckAnswer("vague", ["the title is a template's placeholder"], SUGGESTION, 0.8, None)
            if title == "Bug report"
            else CheckAnswer("fine", [], None, 0.9, None)
            for title, _ in pairs
        ]


def make_handler(github, key_pair, backend, **variables: str) -> WebhookHandler:
    environment = {
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_PRIVATE_KEY": key_pair[0],
        "GITHUB_API_URL": github.api_url,
    } | variables
    return webhook_from_environment(environment, backend)


@pytest.fixture
def service(github, key_pair):
    """(client, handler, backend): the app running, lifespan included, with the webhook."""
    backend = FakeBackend()
    handler = make_handler(github, key_pair, backend)
    with TestClient(create_app(ServiceState(backend, webhook=handler))) as client:
        yield client, handler, backend


def payload(title: str, number: int = 7, action: str = "opened", sender: dict | None = None) -> dict:
    return {
        "action": action,
        "issue": {
            "number": number,
            "title": title,
            "body": BODY,
            "state": "open",
            "user": {"login": "someone", "type": "User"},
            "labels": [],
        },
        "repository": {"full_name": REPOSITORY, "name": "webhook", "owner": {"login": "octo"}},
        "sender": sender or {"login": "someone", "type": "User"},
        "installation": {"id": INSTALLATION},
    }


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, data, event: str = "issues", delivery: str | None = None, signature: str | bytes | None = "good"):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = sign(body) if signature == "good" else signature
    return client.post("/github/webhook", content=body, headers=headers)


def drain(handler: WebhookHandler, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while handler.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handler.pending == 0, "the webhook's queue did not drain"


def calls(github) -> list[tuple[str, str]]:
    return [(item.method, item.path) for item in github.requests]


def test_a_vague_title_gets_the_sticky_comment_as_the_app(service, github, key_pair, caplog):
    client, handler, backend = service
    caplog.set_level(logging.INFO, logger="issue_summarizer.service")
    response = deliver(client, payload("Bug report"))
    assert (response.status_code, response.json()) == (202, {"status": "queued"})
    drain(handler)
    assert backend.calls == [[("Bug report", BODY)]]
    assert calls(github) == [("POST", TOKENS), ("GET", comments_path(7)), ("POST", post_comment_path(7))]
    token_request, *issue_requests = github.requests
    # The App's JWT: RS256 with the App's key, issued a minute ago, for 9 minutes, by the App.
    scheme, _, app_jwt = token_request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(app_jwt, key_pair[1], algorithms=["RS256"], issuer=APP_ID)
    assert claims["iss"] == APP_ID
    assert claims["exp"] - claims["iat"] == 600
    assert time.time() - 75 <= claims["iat"] <= time.time() - 55
    for request in issue_requests:
        assert request.headers["authorization"] == f"Bearer ghs_test{INSTALLATION}"
    comment = github.requests[-1].body["body"]
    assert comment.startswith(MARKER)
    assert SUGGESTION in comment
    assert "@" not in comment.replace(MARKER, "")
    # The outcome is logged; neither the token nor the key is.
    assert f"{REPOSITORY}#7: vague: commented" in caplog.text
    assert "ghs_" not in caplog.text and "PRIVATE KEY" not in caplog.text


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, sign(b"another body"), sign(b"x", "another secret"), "sha1=abc", b"sha256=\xe9"],
)
def test_a_missing_or_wrong_signature_gets_401_and_nothing_happens(service, github, signature):
    client, handler, backend = service
    body = json.dumps(payload("Bug report")).encode()
    response = deliver(client, body, signature=signature)
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error"]
    assert handler.pending == 0
    time.sleep(0.1)
    assert github.requests == [] and backend.calls == []


def test_a_repeated_delivery_is_ignored(service, github):
    client, handler, backend = service
    delivery = str(uuid.uuid4())
    assert deliver(client, payload("Bug report"), delivery=delivery).status_code == 202
    repeated = deliver(client, payload("Bug report"), delivery=delivery)
    assert (repeated.status_code, repeated.json()) == (200, {"status": "duplicate delivery ignored"})
    drain(handler)
    assert deliver(client, payload("Bug report"), delivery=delivery).status_code == 200
    drain(handler)
    assert len(backend.calls) == 1
    assert calls(github) == [("POST", TOKENS), ("GET", comments_path(7)), ("POST", post_comment_path(7))]
    # The same signed body replayed under a new delivery id (the id is not signed) is a replay too.
    replayed = deliver(client, payload("Bug report"), delivery=str(uuid.uuid4()))
    assert (replayed.status_code, replayed.json()) == (200, {"status": "duplicate delivery ignored"})
    drain(handler)
    assert len(backend.calls) == 1


def test_the_delivery_memory_is_bounded(github, key_pair):
    handler = make_handler(github, key_pair, FakeBackend())
    for number in range(handler.settings.max_deliveries + 5):
        handler._remember(f"delivery-{number}", f"body {number}".encode())
    assert len(handler._deliveries) == handler.settings.max_deliveries
    assert (
        "delivery-0" not in handler._deliveries
        and f"delivery-{handler.settings.max_deliveries + 4}" in handler._deliveries
    )


def test_ping_other_events_and_bots_are_ignored_without_a_call(service, github):
    client, handler, backend = service
    ping = deliver(client, {"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert ping.status_code == 200 and "ignored" in ping.json()["status"]
    push = deliver(client, {"ref": "refs/heads/main"}, event="push")
    assert push.status_code == 200 and "ignored" in push.json()["status"]
    bot = deliver(client, payload("Bug report", sender={"login": "renovate[bot]", "type": "Bot"}))
    assert (bot.status_code, bot.json()) == (200, {"status": "ignored: sent by a bot"})
    closed = deliver(client, payload("Bug report", action="closed"))
    assert closed.status_code == 200 and "ignored" in closed.json()["status"]
    drain(handler)
    assert github.requests == [] and backend.calls == []


def test_malformed_payloads_get_400(service, github):
    client, handler, backend = service
    not_json = deliver(client, b"{not json")
    assert (not_json.status_code, not_json.json()) == (400, {"error": "the payload is not valid JSON"})
    assert deliver(client, b"\xff\xfe").status_code == 400
    no_issue = deliver(client, {"action": "opened", "repository": {"full_name": REPOSITORY}})
    assert no_issue.status_code == 400 and "no issue" in no_issue.json()["error"]
    no_installation = payload("Bug report")
    del no_installation["installation"]
    assert deliver(client, no_installation).status_code == 400
    drain(handler)
    assert github.requests == [] and backend.calls == []


def test_the_installation_token_is_cached(service, github):
    client, handler, _ = service
    assert deliver(client, payload("Bug report", number=7)).status_code == 202
    assert deliver(client, payload("Bug report", number=8)).status_code == 202
    drain(handler)
    assert calls(github) == [
        ("POST", TOKENS),
        ("GET", comments_path(7)),
        ("POST", post_comment_path(7)),
        ("GET", comments_path(8)),
        ("POST", post_comment_path(8)),
    ]


def test_a_failure_is_one_log_line_and_the_next_event_goes_through(service, github, caplog):
    client, handler, _ = service
    caplog.set_level(logging.INFO, logger="issue_summarizer.service")
    github.queued[("POST", TOKENS)] = [(500, {}, json.dumps({"message": "Server Error"}).encode())]
    assert deliver(client, payload("Bug report", number=7)).status_code == 202
    drain(handler)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage()
    assert f"{REPOSITORY}#7" in errors[0].getMessage() and "HTTP 500" in errors[0].getMessage()
    assert errors[0].exc_info is None
    assert deliver(client, payload("Bug report", number=8)).status_code == 202
    drain(handler)
    assert calls(github)[-3:] == [("POST", TOKENS), ("GET", comments_path(8)), ("POST", post_comment_path(8))]


def test_a_fine_title_without_a_comment_leaves_the_issue_alone(service, github):
    client, handler, _ = service
    assert deliver(client, payload("Dark mode setting is lost after reloading the page")).status_code == 202
    drain(handler)
    assert calls(github) == [("POST", TOKENS), ("GET", comments_path(7))]


def test_dry_run_makes_no_call(github, key_pair):
    backend = FakeBackend()
    handler = make_handler(github, key_pair, backend, ISSUE_SUMMARIZER_WEBHOOK_MODE="dry-run")
    with TestClient(create_app(ServiceState(backend, webhook=handler))) as client:
        assert deliver(client, payload("Bug report")).status_code == 202
        drain(handler)
    assert backend.calls == [[("Bug report", BODY)]]
    assert github.requests == []


def test_the_environment_turns_the_webhook_on_and_names_what_is_missing(key_pair, tmp_path):
    assert webhook_from_environment({}, None) is None
    with pytest.raises(ValueError, match="GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"):
        webhook_from_environment({"GITHUB_WEBHOOK_SECRET": "s"}, None)
    with pytest.raises(ValueError, match="needs GITHUB_APP_ID$"):
        webhook_from_environment({"GITHUB_WEBHOOK_SECRET": "s", "GITHUB_APP_PRIVATE_KEY": key_pair[0]}, None)
    key_file = tmp_path / "app.pem"
    key_file.write_text(key_pair[0], encoding="utf-8")
    base = {"GITHUB_WEBHOOK_SECRET": "s", "GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file)}
    handler = webhook_from_environment(base, None)
    assert handler.settings.inputs.mode == "comment" and handler.settings.api_url == "https://api.github.com"
    assert "PRIVATE" not in repr(handler.settings) and "'s'" not in repr(handler.settings)
    one_line = {"GITHUB_APP_PRIVATE_KEY": key_pair[0].replace("\n", "\\n")}
    assert webhook_from_environment(base | one_line, None) is not None
    edit = webhook_from_environment(base | {"ISSUE_SUMMARIZER_WEBHOOK_MODE": "edit"}, None)
    assert edit.settings.inputs.mode == "edit"
    skipping = {"ISSUE_SUMMARIZER_SKIP_LABEL": "no-title-check", "ISSUE_SUMMARIZER_EXEMPT_USERS": "@Maintainer, other"}
    inputs = webhook_from_environment(base | skipping, None).settings.inputs
    assert inputs.skip_label == "no-title-check" and inputs.exempt_users == {"maintainer", "other"}
    for name, value, message in [
        ("ISSUE_SUMMARIZER_WEBHOOK_MODE", "loud", "ISSUE_SUMMARIZER_WEBHOOK_MODE"),
        ("ISSUE_SUMMARIZER_MIN_CONFIDENCE", "2", "ISSUE_SUMMARIZER_MIN_CONFIDENCE"),
        ("GITHUB_API_URL", "ftp://x", "GITHUB_API_URL"),
        ("GITHUB_APP_PRIVATE_KEY_FILE", str(tmp_path / "missing.pem"), "GITHUB_APP_PRIVATE_KEY_FILE"),
    ]:
        with pytest.raises(ValueError, match=message) as raised:
            webhook_from_environment(base | {name: value}, None)
        assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="private key") as raised:
        webhook_from_environment(base | {"GITHUB_APP_PRIVATE_KEY": "not a key secret-material"}, None)
    assert "secret-material" not in str(raised.value)


def test_a_suggestion_under_the_min_confidence_is_left_out(github, key_pair):
    backend = FakeBackend()
    handler = make_handler(github, key_pair, backend, ISSUE_SUMMARIZER_MIN_CONFIDENCE="0.9")
    with TestClient(create_app(ServiceState(backend, webhook=handler))) as client:
        assert deliver(client, payload("Bug report")).status_code == 202
        drain(handler)
    comment = github.requests[-1].body["body"]
    assert comment.startswith(MARKER) and SUGGESTION not in comment
