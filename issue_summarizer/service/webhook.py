"""The GitHub App webhook, `POST /github/webhook`: check the title of every issue opened or edited.

The same check as the GitHub Action (`github/action.py`), for every repository the App is
installed on, without a workflow in each. GitHub posts each event here; `WebhookHandler.receive`
answers at once and a background task does the work, because GitHub gives up on a delivery
after 10 seconds:

1. A delivery without a valid `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the App's
   webhook secret, compared in constant time) gets 401, and nothing else happens.
2. A repeated `X-GitHub-Delivery` (GitHub redelivers) gets 200 and is ignored.
3. Events other than `issues` (`ping` included), and issues events the Action would skip (bots,
   pull requests, closed issues, other actions: `action.skip_reason`), get 200 and are ignored.
   A payload that is not JSON, or not an issue event, gets 400.
4. The rest is queued (202; 503 when the queue is full). The task checks each title through the
   service's backend, then, unless the mode is `dry-run`, calls `action.apply_check` as the App:
   a JWT signed with the App's private key buys an installation token, kept until shortly
   before it expires. The sticky comment, the rule that a person's title wins and the absence of
   mentions all come from `apply_check`.

Every failure of the background work is one line in the `issue_summarizer.service` log; the task
goes on with the next event. No line holds a token or the key.

Configuration (`webhook_from_environment`): `GITHUB_WEBHOOK_SECRET` turns the webhook on; then
`GITHUB_APP_ID` and `GITHUB_APP_PRIVATE_KEY` (PEM text) or `GITHUB_APP_PRIVATE_KEY_FILE` are
required; `GITHUB_API_URL` (default https://api.github.com); `ISSUE_SUMMARIZER_WEBHOOK_MODE`:
comment (default), edit or dry-run; `ISSUE_SUMMARIZER_MIN_CONFIDENCE` (0 to 1, default 0.5): the
confidence a suggested title needs (the backend returns every suggestion with its confidence);
`ISSUE_SUMMARIZER_SKIP_LABEL` and `ISSUE_SUMMARIZER_EXEMPT_USERS`, as the Action's `skip-label` and
`exempt-users`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from issue_summarizer.github.action import (
    ActionInputs,
    IssueEvent,
    MalformedEvent,
    Verdict,
    apply_check,
    parse_event,
    parse_logins,
    parse_min_confidence,
    parse_mode,
    skip_reason,
)
from issue_summarizer.github.client import (
    API_URL_ENVIRONMENT_VARIABLE,
    DEFAULT_API_URL,
    GitHubError,
    GitHubSettings,
    _github_message,
    api_headers,
)
from issue_summarizer.github.rest import GitHubConfigurationError, IssueApi

logger = logging.getLogger("issue_summarizer.service")

SECRET_VARIABLE = "GITHUB_WEBHOOK_SECRET"
APP_ID_VARIABLE = "GITHUB_APP_ID"
PRIVATE_KEY_VARIABLE = "GITHUB_APP_PRIVATE_KEY"
PRIVATE_KEY_FILE_VARIABLE = "GITHUB_APP_PRIVATE_KEY_FILE"
MODE_VARIABLE = "ISSUE_SUMMARIZER_WEBHOOK_MODE"
MIN_CONFIDENCE_VARIABLE = "ISSUE_SUMMARIZER_MIN_CONFIDENCE"
SKIP_LABEL_VARIABLE = "ISSUE_SUMMARIZER_SKIP_LABEL"
EXEMPT_USERS_VARIABLE = "ISSUE_SUMMARIZER_EXEMPT_USERS"

# GitHub accepts an App's JWT for at most 10 minutes, and clocks drift: issued a minute ago, 9 minutes ahead.
JWT_BACKDATE = 60
JWT_LIFETIME = 9 * 60
# An installation token lives an hour; a new one is bought this long before it expires.
TOKEN_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class WebhookSettings:
    """The App's identity and the webhook's limits. The secret and the key stay out of the repr."""

    secret: bytes = field(repr=False)
    app_id: str
    private_key: str = field(repr=False)  # PEM text
    api_url: str = DEFAULT_API_URL
    inputs: ActionInputs = field(default_factory=ActionInputs)
    # Events waiting for the background task; a delivery beyond them gets 503 (GitHub can redeliver).
    max_queue: int = 100
    # Delivery ids and body digests remembered to ignore redeliveries and replays, oldest forgotten first.
    max_deliveries: int = 10_000
    # Seconds an event waits for the model to load, and for its check.
    ready_timeout: float = 300.0
    check_timeout: float = 60.0
    http_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.secret or not self.app_id or not self.private_key:
            raise ValueError("the webhook needs a secret, an App id and a private key")
        if self.max_queue < 1 or self.max_deliveries < 1:
            raise ValueError("the webhook's queue and delivery memory must hold at least one item")


@dataclass(frozen=True)
class _Job:
    delivery: str
    event: IssueEvent
    installation: int | None


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the mapping's case rules ("" when absent)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((item for key, item in headers.items() if key.lower() == lowered), None)
    return value or ""


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return text or type(error).__name__


class WebhookHandler:
    """Validates deliveries and queues them (`receive`); a task started by `start` processes them.

    `backend` is the service's (`LocalBackend`, or the Ray deployment's): it must have `ready`,
    `error` and `async checks(pairs, timeout)`. It may be set after construction.
    """

    def __init__(self, settings: WebhookSettings, backend: object | None = None) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        self.settings = settings
        self.backend = backend
        try:
            self._key = load_pem_private_key(settings.private_key.encode(), password=None)
        except (ValueError, TypeError):
            # Never the key itself in the message.
            raise ValueError("the GitHub App's private key is not an unencrypted PEM private key") from None
        self._github = GitHubSettings(api_url=settings.api_url, timeout=settings.http_timeout)
        self._deliveries: OrderedDict[str, None] = OrderedDict()
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._pending = 0
        self._tokens: dict[int, tuple[str, datetime]] = {}
        self._tokens_lock = threading.Lock()
        self._session = requests.Session()

    @property
    def pending(self) -> int:
        """Events queued or being processed."""
        return self._pending

    # The HTTP side: answers at once.

    async def receive(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Validate one delivery and queue its work; answer (HTTP status, message). No await inside,
        so that two deliveries with one id cannot both pass the duplicate check."""
        if not self._signed(_header(headers, "X-Hub-Signature-256"), body):
            return 401, "missing or invalid X-Hub-Signature-256"
        delivery = _header(headers, "X-GitHub-Delivery").strip()
        # The signature covers the body only, not the delivery header: a captured delivery sent
        # again under a new id is known by its body (GitHub's bodies differ from event to event).
        seen = "body:" + hashlib.sha256(body).hexdigest()
        if (delivery and delivery in self._deliveries) or seen in self._deliveries:
            return 200, "duplicate delivery ignored"
        name = _header(headers, "X-GitHub-Event").strip()
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 400, "the payload is not valid JSON"
        if name != "issues":
            self._remember(delivery, body)
            return 200, f"{name or 'unnamed'} event ignored: only issues events are checked"
        try:
            event = parse_event(name, payload)
        except MalformedEvent as error:
            return 400, str(error)
        reason = skip_reason(event, self.settings.inputs)
        if reason:
            self._remember(delivery, body)
            return 200, f"ignored: {reason}"
        installation = payload.get("installation") if isinstance(payload.get("installation"), dict) else {}
        installation_id = installation.get("id")
        if not isinstance(installation_id, int) or isinstance(installation_id, bool) or installation_id < 1:
            if self.settings.inputs.mode != "dry-run":
                return 400, "the event has no installation id; is it from the GitHub App?"
            installation_id = None
        if self._queue is None:
            return 503, "the webhook is not running"
        try:
            self._queue.put_nowait(_Job(delivery, event, installation_id))
        except asyncio.QueueFull:
            return 503, "too many events are waiting; redeliver later"
        self._pending += 1
        self._remember(delivery, body)
        return 202, "queued"

    def _signed(self, signature: str, body: bytes) -> bool:
        if not signature.startswith("sha256="):
            return False
        expected = "sha256=" + hmac.new(self.settings.secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode("latin-1", "replace"))

    def _remember(self, delivery: str, body: bytes) -> None:
        for key in (delivery, "body:" + hashlib.sha256(body).hexdigest()):
            if key:
                self._deliveries[key] = None
        while len(self._deliveries) > self.settings.max_deliveries:
            self._deliveries.popitem(last=False)

    # The background side: one event at a time.

    def start(self) -> None:
        """Start the background task (inside the running event loop: the app's lifespan)."""
        if self._task is not None and not self._task.done():
            return
        self._queue = asyncio.Queue(maxsize=self.settings.max_queue)
        self._pending = 0
        self._session = requests.Session()
        self._task = asyncio.get_running_loop().create_task(self._work(), name="github-webhook")

    async def stop(self) -> None:
        """Cancel the background task; events still queued are dropped (logged)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._pending:
            logger.warning("webhook: stopped with %d event(s) unprocessed", self._pending)
        self._queue, self._pending = None, 0
        self._session.close()

    async def _work(self) -> None:
        queue = self._queue
        while True:
            job = await queue.get()
            try:
                await self._process(job)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # One line, and on to the next event.
                kind = "" if isinstance(error, GitHubError | TimeoutError) else f"{type(error).__name__}: "
                logger.error(
                    "webhook: %s#%d (delivery %s) failed: %s%s",
                    job.event.repository,
                    job.event.number,
                    job.delivery or "-",
                    kind,
                    _one_line(error),
                )
            finally:
                queue.task_done()
                self._pending = max(0, self._pending - 1)

    async def _process(self, job: _Job) -> None:
        event, inputs = job.event, self.settings.inputs
        await self._wait_for_backend()
        [answer] = await self.backend.checks([(event.title, event.body)], timeout=self.settings.check_timeout)
        confident = answer.confidence is not None and answer.confidence >= inputs.min_confidence
        suggestion = (answer.suggested_title or "") if confident else ""
        verdict = Verdict(answer.verdict, list(answer.reasons), suggestion, answer.confidence)
        summary = f"{event.repository}#{event.number}: {verdict.verdict.replace('_', ' ')}"
        if inputs.mode == "dry-run":
            logger.info("webhook: %s (dry run, nothing written)", summary)
            return
        plan = await asyncio.to_thread(self._apply, job, verdict)
        done = [
            "changed the title" if plan.set_title is not None else "",
            "commented" if plan.create_comment is not None else "",
            "updated its comment" if plan.update_comment is not None else "",
        ]
        logger.info("webhook: %s: %s", summary, ", ".join(item for item in done if item) or "; ".join(plan.notes))

    async def _wait_for_backend(self) -> None:
        if self.backend is None:
            raise RuntimeError("the webhook has no backend")
        deadline = time.monotonic() + self.settings.ready_timeout
        while not getattr(self.backend, "ready", False):
            if getattr(self.backend, "error", None):
                raise RuntimeError("the model could not be loaded")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model was not loaded within {self.settings.ready_timeout:g} s")
            await asyncio.sleep(0.2)

    def _apply(self, job: _Job, verdict: Verdict):
        """In a thread: the installation's token, then the Action's calls."""
        token = self._installation_token(job.installation)
        settings = GitHubSettings(api_url=self._github.api_url, token=token, timeout=self._github.timeout)
        api = IssueApi(settings, job.event.repository, session=self._session)
        try:
            return apply_check(api, job.event, self.settings.inputs, verdict)
        except GitHubConfigurationError:
            # A token refused or without permission: buy a fresh one next time.
            with self._tokens_lock:
                self._tokens.pop(job.installation, None)
            raise

    # Authentication as the App.

    def app_jwt(self, now: float | None = None) -> str:
        """A JWT that identifies the App to GitHub for 9 minutes (RS256, with the private key)."""
        import jwt

        issued = int(time.time() if now is None else now) - JWT_BACKDATE
        claims = {"iat": issued, "exp": issued + JWT_BACKDATE + JWT_LIFETIME, "iss": self.settings.app_id}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def _installation_token(self, installation: int) -> str:
        """The installation's token, from the cache while it has more than `TOKEN_MARGIN` to live."""
        now = datetime.now(UTC)
        with self._tokens_lock:
            cached = self._tokens.get(installation)
            if cached is not None and cached[1] - TOKEN_MARGIN > now:
                return cached[0]
            path = f"/app/installations/{installation}/access_tokens"
            headers = api_headers(self._github) | {"Authorization": f"Bearer {self.app_jwt()}"}
            try:
                response = self._session.post(
                    f"{self._github.api_url}{path}", headers=headers, timeout=self._github.timeout
                )
            except requests.RequestException as error:
                raise GitHubError(f"POST {path}: could not reach GitHub ({type(error).__name__})") from None
            if response.status_code != 201:
                message = _github_message(response, self._github)
                said = f": {message}" if message else ""
                raise GitHubError(f"POST {path}: GitHub answered HTTP {response.status_code}{said}")
            try:
                data = response.json()
            except ValueError:
                data = None
            token = data.get("token") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token.strip():
                raise GitHubError(f"POST {path}: GitHub's answer has no token")
            expires = _parse_time(data.get("expires_at"))
            if expires is not None:
                self._tokens[installation] = (token.strip(), expires)
            return token.strip()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def webhook_from_environment(environment: Mapping[str, str], backend: object | None = None) -> WebhookHandler | None:
    """The webhook when `GITHUB_WEBHOOK_SECRET` is set, else None; a `ValueError` with one line
    naming what is missing or wrong (never a value) when it is set but the rest is not."""

    def read(name: str) -> str:
        return (environment.get(name) or "").strip()

    secret = read(SECRET_VARIABLE)
    if not secret:
        return None
    app_id = read(APP_ID_VARIABLE)
    key_text = environment.get(PRIVATE_KEY_VARIABLE) or ""
    key_file = read(PRIVATE_KEY_FILE_VARIABLE)
    missing = [APP_ID_VARIABLE] if not app_id else []
    if not key_text.strip() and not key_file:
        missing.append(f"{PRIVATE_KEY_VARIABLE} (or {PRIVATE_KEY_FILE_VARIABLE})")
    if missing:
        raise ValueError(f"{SECRET_VARIABLE} is set, so the GitHub App webhook also needs {' and '.join(missing)}")
    if not key_text.strip():
        try:
            key_text = Path(key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not a text file"
            raise ValueError(f"{PRIVATE_KEY_FILE_VARIABLE}: cannot read {key_file} ({reason})") from None
    if "\\n" in key_text and "\n" not in key_text.strip():
        # A PEM pasted into one line of an .env file, with its line breaks written as \n.
        key_text = key_text.replace("\\n", "\n")
    mode = parse_mode(read(MODE_VARIABLE), MODE_VARIABLE)
    min_confidence = parse_min_confidence(read(MIN_CONFIDENCE_VARIABLE), MIN_CONFIDENCE_VARIABLE)
    api_url = read(API_URL_ENVIRONMENT_VARIABLE) or DEFAULT_API_URL
    GitHubSettings(api_url=api_url)  # A GitHubError (a ValueError) naming GITHUB_API_URL when it is not a URL.
    settings = WebhookSettings(
        secret=secret.encode(),
        app_id=app_id,
        private_key=key_text,
        api_url=api_url,
        inputs=ActionInputs(
            mode=mode,
            min_confidence=min_confidence,
            skip_label=read(SKIP_LABEL_VARIABLE),
            exempt_users=parse_logins(read(EXEMPT_USERS_VARIABLE)),
        ),
    )
    return WebhookHandler(settings, backend)
