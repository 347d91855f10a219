"""The HTTP API: titles, title checks, health, metrics and the GitHub App webhook, with FastAPI.

    python -m issue_summarizer serve --model model --host 127.0.0.1 --port 8000

Routes (OpenAPI documentation at `/docs`):

- `POST /v1/titles`: `{"body": "..."}` answers `{"title": ..., "confidence": ..., "problem": null}`;
  `{"bodies": ["...", ...]}` answers `{"titles": [{"title", "confidence", "problem"}, ...]}`, in
  order. `problem` says why a row has no title (empty, binary), or flags one with nothing to title.
- `POST /v1/check`: `{"title": "...", "body": "..."}` answers what `check` writes: `verdict`,
  `reasons`, `suggested_title`, `confidence`, `problem`.
- `GET /healthz`: the process is up. `GET /readyz`: the model is loaded (503 until then).
- `GET /metrics`: Prometheus text: requests by route and status, latency, batch sizes, queue depth.
- `POST /github/webhook`: a GitHub App's events (`service/webhook.py`), when the app is configured.

Every failure is an answer with a JSON `error` and never a traceback or a server path: 413 for
a body over `ServiceSettings.max_body_chars` (or a request over `max_request_bytes`), 422 for
malformed JSON or a missing field (named), 503 with `Retry-After` while the model loads or when
the queue is full, 504 when a request waits longer than `request_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from issue_summarizer.data.input_checks import MAX_BODY_CHARS
from issue_summarizer.inference.title_check import DEFAULT_MIN_CONFIDENCE
from issue_summarizer.service.batching import Overloaded
from issue_summarizer.service.metrics import ServiceMetrics

logger = logging.getLogger("issue_summarizer.service")
# Bodies one request may carry: a client titling more sends several requests, which batch anyway.
MAX_BODIES = 256


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of the HTTP layer; batching has its own (`BatchingSettings`)."""

    # The CLI reads at most this many characters of a body; the service refuses more (413)
    # rather than silently cutting what a client sent.
    max_body_chars: int = MAX_BODY_CHARS
    # A request larger than this (3.2 MB: 32 bodies at the character limit, or 256 bodies of
    # 12,500 characters) is refused before it is read; a client with more sends several requests.
    max_request_bytes: int = 32 * MAX_BODY_CHARS
    # How long a request may wait for its titles, queue included, before 504.
    request_timeout: float = 30.0
    # Seconds a client is asked to wait while the model loads.
    loading_retry_after: int = 5

    def __post_init__(self) -> None:
        if self.max_body_chars < 1 or self.max_request_bytes < 1 or not self.request_timeout > 0:
            raise ValueError("the service's limits must be positive")


class TitlesRequest(BaseModel):
    """Either one `body` or a list of `bodies`."""

    model_config = ConfigDict(extra="forbid")
    body: str | None = Field(default=None, description="One issue body.")
    bodies: list[str] | None = Field(default=None, description=f"Up to {MAX_BODIES} issue bodies.")

    @model_validator(mode="after")
    def one_of_body_or_bodies(self) -> TitlesRequest:
        if (self.body is None) == (self.bodies is None):
            raise ValueError("give either 'body' (one issue) or 'bodies' (a list), not both or neither")
        if self.bodies is not None and not 1 <= len(self.bodies) <= MAX_BODIES:
            raise ValueError(f"'bodies' must hold 1 to {MAX_BODIES} bodies")
        return self


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(description="The issue's title as its author wrote it.")
    body: str = Field(description="The issue's body.")
    min_confidence: float = Field(
        default=DEFAULT_MIN_CONFIDENCE, ge=0.0, le=1.0, description="Suggest a title only at this confidence or above."
    )


class TitleOut(BaseModel):
    title: str | None
    confidence: float | None
    problem: str | None


class TitlesOut(BaseModel):
    titles: list[TitleOut]


class CheckOut(BaseModel):
    verdict: str
    reasons: list[str]
    suggested_title: str | None
    confidence: float | None
    problem: str | None


class HttpProblem(Exception):
    """An answer other than 200, with a message for the client and optional headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class ServiceState:
    backend: object  # LocalBackend, or the Ray deployment's backend
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    webhook: object | None = None  # service.webhook.WebhookHandler


def _describe_validation(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one sentence naming the fields."""
    parts = []
    for item in error.errors():
        # The location starts with where the field is ("body" of the request): the rest names the field.
        where = list(item.get("loc", ()))
        location = ".".join(str(part) for part in (where[1:] if where[:1] == ["body"] else where))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        parts.append(f"{location or 'request'}: {message}" if location else message)
    return "; ".join(parts) or "the request is malformed"


class MeasuredRequests:
    """ASGI middleware around every route: a request declaring more than `max_request_bytes` is
    refused with 413 before it is read, an unhandled error is answered 500 without a traceback
    (and logged), and every answer's route, status and latency go to the metrics.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` behind
    that decorator wraps each request and response in extra tasks and streams, which on the
    2-core machine cost CPU that the model needed (see docs/service.md).
    """

    def __init__(self, app, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        self.app, self.settings, self.metrics = app, settings, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.settings.max_request_bytes:
            status = 413
            message = f"the request is over {self.settings.max_request_bytes:,} bytes"
            await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
        else:
            answered = False

            async def send_and_note(message) -> None:
                nonlocal status, answered
                if message["type"] == "http.response.start":
                    status, answered = message["status"], True
                await send(message)

            try:
                await self.app(scope, receive, send_and_note)
            except Exception:  # Logged here, answered without a traceback or a path.
                logger.exception("unhandled error on %s", scope.get("path"))
                status = 500
                if not answered:
                    await JSONResponse({"error": "internal error"}, status_code=500)(scope, receive, send)
        route = scope.get("route")
        self.metrics.observe(getattr(route, "path", None) or "unmatched", status, time.perf_counter() - started)


def create_app(state: ServiceState, load_in_background: bool = True) -> FastAPI:
    """The FastAPI application over `state.backend`; with `load_in_background`, the backend's model
    loads in a thread at start-up while `/healthz` already answers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = None
        if load_in_background and hasattr(state.backend, "load"):
            loading = asyncio.get_running_loop().run_in_executor(None, state.backend.load)
        if state.webhook is not None:
            state.webhook.start()
        try:
            yield
        finally:
            if state.webhook is not None:
                await state.webhook.stop()
            if hasattr(state.backend, "close"):
                await state.backend.close()
            if loading is not None and not loading.done():
                loading.cancel()

    app = FastAPI(
        title="Issue Summarizer",
        version="1",
        description="Titles for GitHub issues from their bodies, and a check of the titles people wrote.",
        lifespan=lifespan,
    )
    app.state.service = state
    metrics = state.metrics

    app.add_middleware(MeasuredRequests, settings=state.settings, metrics=metrics)

    @app.exception_handler(HttpProblem)
    async def problem(request: Request, error: HttpProblem):
        return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        # An unknown route (404) or method (405) answers in the same shape as every other error.
        return JSONResponse({"error": str(error.detail).lower()}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return JSONResponse({"error": _describe_validation(error)}, status_code=422)

    def backend():
        if getattr(state.backend, "error", None):
            raise HttpProblem(503, "the model could not be loaded; see the server's log")
        if not state.backend.ready:
            retry = str(state.settings.loading_retry_after)
            raise HttpProblem(503, "the model is still loading", {"Retry-After": retry})
        return state.backend

    def check_sizes(bodies: list[str]) -> None:
        for position, body in enumerate(bodies):
            if len(body) > state.settings.max_body_chars:
                where = f"body {position + 1}" if len(bodies) > 1 else "the body"
                raise HttpProblem(
                    413, f"{where} is {len(body):,} characters; the limit is {state.settings.max_body_chars:,}"
                )

    async def answer(call):
        try:
            return await call
        except Overloaded as error:
            raise HttpProblem(503, str(error), {"Retry-After": str(error.retry_after)}) from None
        except TimeoutError:
            raise HttpProblem(504, f"no answer within {state.settings.request_timeout:g} s; try again later") from None

    @app.post("/v1/titles", response_model=TitleOut | TitlesOut, summary="Titles for one body or a list")
    async def titles(request: TitlesRequest):
        bodies = [request.body] if request.body is not None else list(request.bodies)
        check_sizes(bodies)
        model = backend()
        answers = await answer(model.titles(bodies, timeout=state.settings.request_timeout))
        if request.body is not None:
            return answers[0].to_json()
        return {"titles": [item.to_json() for item in answers]}

    @app.post("/v1/check", response_model=CheckOut, summary="Is the title fine, vague or off topic?")
    async def check(request: CheckRequest):
        check_sizes([request.body])
        model = backend()
        [result] = await answer(model.checks([(request.title, request.body)], timeout=state.settings.request_timeout))
        confident = result.confidence is not None and result.confidence >= request.min_confidence
        return result.to_json() | ({} if confident else {"suggested_title": None})

    @app.get("/healthz", summary="The process is up")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="The model is loaded")
    async def readyz():
        if getattr(state.backend, "error", None):
            return JSONResponse({"status": "failed", "error": "the model could not be loaded"}, status_code=503)
        if not state.backend.ready:
            return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "5"})
        return {"status": "ready"}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus():
        metrics.queue_depth.set(getattr(state.backend, "queue_depth", 0))
        body, content_type = metrics.render()
        return PlainTextResponse(body, media_type=content_type)

    if state.webhook is not None:

        @app.post("/github/webhook", summary="GitHub App events (issues opened and edited)")
        async def webhook(request: Request):
            status, message = await state.webhook.receive(request.headers, await request.body())
            return JSONResponse({"status": message} if status < 400 else {"error": message}, status_code=status)

    return app
