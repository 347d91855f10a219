"""The HTTP API: every route and status code, with the shipped model and with slow or failing stand-ins."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from issue_summarizer.service.api import MAX_BODIES, ServiceSettings, ServiceState, create_app
from issue_summarizer.service.backend import LocalBackend
from issue_summarizer.service.batching import BatchingSettings, DynamicBatcher, Overloaded
from issue_summarizer.service.metrics import ServiceMetrics
from issue_summarizer.service.model_work import CheckAnswer, TitleAnswer

MODEL = Path(__file__).resolve().parents[2] / "model"
BODIES = [
    "When I run the training script on a GPU, memory keeps growing every epoch until the process is killed "
    "with CUDA out of memory. The data loader seems to leak memory.",
    "The dashboard page takes 30 seconds to load when there are more than 1000 projects. Profiling shows the "
    "query for project statistics runs once per project.",
    "Installing the package with pip fails on Windows while it builds the wheel for numpy; the compiler says "
    "a build tool is missing.",
    "Clicking the save button in the settings dialog does nothing in Firefox, while it works in Chrome.",
]


@pytest.fixture(scope="module")
def served():
    """The real server on the shipped model, loaded once for the module."""
    if not (MODEL / "model.keras").is_file():
        pytest.skip("needs the shipped model")
    metrics = ServiceMetrics()
    backend = LocalBackend(MODEL, BatchingSettings(max_batch=8, max_wait=0.01), on_batch=metrics.observe_batch)
    with TestClient(create_app(ServiceState(backend, metrics=metrics))) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield client, backend


def test_one_body_and_a_list_of_bodies(served):
    client, backend = served
    single = client.post("/v1/titles", json={"body": BODIES[0]})
    assert single.status_code == 200
    answer = single.json()
    assert set(answer) == {"title", "confidence", "problem"} and answer["title"] and answer["problem"] is None
    assert 0.0 <= answer["confidence"] <= 1.0
    many = client.post("/v1/titles", json={"bodies": [BODIES[0], "", BODIES[1]]}).json()["titles"]
    assert [item["title"] for item in many][0] == answer["title"]
    # An empty body is refused as the CLI refuses it, in its row, without stopping the others.
    assert many[1]["title"] is None and "empty" in many[1]["problem"] and many[2]["title"]


def test_binary_text_gets_the_cli_s_refusal(served):
    client, _ = served
    binary = "".join(chr(code) for code in range(1, 32)) * 40
    answer = client.post("/v1/titles", json={"body": binary}).json()
    assert answer["title"] is None and "binary" in answer["problem"]


def test_concurrent_requests_get_the_titles_each_body_gets_alone(served):
    client, _ = served
    # The four short bodies share the model's first length bucket; the long one (about 200
    # tokens) falls in another, so the shared batches mix buckets.
    bodies = [*BODIES, " ".join(BODIES) * 2]
    alone = [client.post("/v1/titles", json={"body": body}).json()["title"] for body in bodies]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(
            pool.map(lambda body: client.post("/v1/titles", json={"body": body}).json()["title"], bodies * 3)
        )
    assert together == alone * 3
    # They were decoded in shared batches: some batch held more than one body.
    metrics = client.get("/metrics").text
    assert "issue_summarizer_batch_size_count" in metrics
    single_batches = float(metrics.split('issue_summarizer_batch_size_bucket{le="1.0"} ')[1].split()[0])
    total = float(metrics.split("issue_summarizer_batch_size_count ")[1].split()[0])
    assert single_batches < total


def test_check_route_answers_as_the_check_command(served):
    client, _ = served
    answer = client.post("/v1/check", json={"title": "Bug report", "body": BODIES[0]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "vague" and "template" in body["reasons"][0]
    assert set(body) == {"verdict", "reasons", "suggested_title", "confidence", "problem"}
    assert (
        client.post("/v1/check", json={"title": "Memory leak in the data loader on GPU", "body": BODIES[0]}).json()[
            "verdict"
        ]
        == "fine"
    )


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({}, "either 'body'"),
        ({"body": "a", "bodies": ["b"]}, "not both"),
        ({"bodies": []}, "1 to"),
        ({"body": 3}, "body"),
        ({"text": "x"}, "text"),
    ],
)
def test_malformed_requests_get_422_naming_the_field(served, payload, named):
    client, _ = served
    answer = client.post("/v1/titles", json=payload)
    assert answer.status_code == 422 and named in answer.json()["error"]
    assert client.post("/v1/check", json={"body": "x"}).json()["error"].startswith("title")


def test_invalid_json_is_422_and_no_answer_shows_a_traceback_or_a_path(served):
    client, _ = served
    answer = client.post("/v1/titles", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json() == {"error": "the request body is not valid JSON"}
    for text in (answer.text, client.post("/v1/titles", json={}).text):
        assert "Traceback" not in text and str(MODEL) not in text and "/work" not in text


def test_a_body_over_the_limit_is_413(served):
    client, _ = served
    answer = client.post("/v1/titles", json={"body": "word " * 30_000})
    assert answer.status_code == 413 and "limit" in answer.json()["error"]
    answer = client.post("/v1/titles", json={"bodies": ["fine", "word " * 30_000]})
    assert answer.status_code == 413 and "body 2" in answer.json()["error"]


def test_health_readiness_metrics_and_docs(served):
    client, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "issue_summarizer_requests_total",
        "issue_summarizer_request_seconds_bucket",
        "issue_summarizer_queue_depth",
    ):
        assert name in metrics.text
    assert 'route="/v1/titles",status="200"' in metrics.text
    assert client.get("/docs").status_code == 200 and "/v1/titles" in client.get("/openapi.json").text
    assert client.get("/nowhere").status_code == 404 and client.get("/nowhere").json() == {"error": "not found"}
    wrong = client.get("/v1/titles")
    assert wrong.status_code == 405 and wrong.json() == {"error": "method not allowed"}


class SlowBackend:
    """A stand-in whose model takes `seconds` per batch, for load shedding and timeouts."""

    def __init__(self, seconds: float, batching: BatchingSettings) -> None:
        self.ready, self.error, self.seconds = True, None, seconds
        # A test may hold the model thread inside a batch: `decoding` is set once it is there.
        self.hold: threading.Event | None = None
        self.decoding = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.batcher = DynamicBatcher(self._decode, batching, self.executor)

    def _decode(self, bodies):
        self.decoding.set()
        if self.hold is not None:
            self.hold.wait(30)
        time.sleep(self.seconds)
        return [TitleAnswer(body.upper(), 0.5, None) for body in bodies]

    @property
    def queue_depth(self) -> int:
        return self.batcher.depth

    async def titles(self, bodies, timeout=None):
        return await self.batcher.submit(bodies, timeout)

    async def checks(self, pairs, timeout=None):
        return [CheckAnswer("fine", [], None, None, None) for _ in pairs]


def test_a_full_queue_sheds_load_with_503_and_retry_after():
    backend = SlowBackend(0.5, BatchingSettings(max_batch=2, max_wait=0.0, max_queue=4))
    statuses = []
    with TestClient(create_app(ServiceState(backend), load_in_background=False)) as client:
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda n: client.post("/v1/titles", json={"body": f"b{n}"}), range(12)))
        statuses = [answer.status_code for answer in answers]
        shed = [answer for answer in answers if answer.status_code == 503]
        assert set(statuses) == {200, 503} and shed
        assert all(int(answer.headers["Retry-After"]) >= 1 and "busy" in answer.json()["error"] for answer in shed)
        # Served answers are each body's own.
        assert all(answer.json()["title"] == f"B{n}" for n, answer in enumerate(answers) if answer.status_code == 200)


def test_health_checks_answer_while_a_batch_decodes():
    backend = SlowBackend(0.0, BatchingSettings(max_batch=4, max_wait=0.0))
    backend.hold = threading.Event()
    with TestClient(create_app(ServiceState(backend), load_in_background=False)) as client:
        with ThreadPoolExecutor(max_workers=1) as pool:
            busy = pool.submit(client.post, "/v1/titles", json={"body": "x"})
            assert backend.decoding.wait(10)
            # The model thread is held inside the batch; the event loop still answers.
            assert client.get("/healthz").status_code == 200 and not busy.done()
            assert client.get("/metrics").status_code == 200
            backend.hold.set()
            assert busy.result().json()["title"] == "X"


def test_a_lone_client_is_decoded_alone_and_concurrent_ones_share_batches():
    sizes = []

    def process(items):
        sizes.append(len(items))
        time.sleep(0.05)
        return items

    async def scenario():
        batcher = DynamicBatcher(process, BatchingSettings(max_batch=8, max_wait=0.05), ThreadPoolExecutor(1))
        for item in range(3):
            assert await batcher.submit([item]) == [item]
        lone = list(sizes)
        results = await asyncio.gather(*(batcher.submit([item]) for item in range(8)))
        await batcher.stop()
        return lone, results

    lone, results = asyncio.run(scenario())
    assert lone == [1, 1, 1] and results == [[item] for item in range(8)]
    assert max(sizes[3:]) > 1


def test_a_request_that_waits_too_long_gets_504():
    backend = SlowBackend(1.0, BatchingSettings(max_batch=1, max_wait=0.0))
    state = ServiceState(backend, ServiceSettings(request_timeout=0.3))
    with TestClient(create_app(state, load_in_background=False)) as client:
        answer = client.post("/v1/titles", json={"body": "x"})
        assert answer.status_code == 504 and "0.3 s" in answer.json()["error"]


def test_an_oversized_request_is_413_before_it_is_read_and_a_crash_is_a_plain_500():
    class Failing(SlowBackend):
        async def titles(self, bodies, timeout=None):
            raise RuntimeError("disk error in /srv/secret/model/model.keras")

    metrics = ServiceMetrics()
    state = ServiceState(Failing(0.0, BatchingSettings()), ServiceSettings(max_request_bytes=100), metrics=metrics)
    with TestClient(create_app(state, load_in_background=False), raise_server_exceptions=False) as client:
        big = client.post("/v1/titles", json={"body": "x" * 200})
        assert big.status_code == 413 and big.json() == {"error": "the request is over 100 bytes"}
        crash = client.post("/v1/titles", json={"body": "x"})
        assert crash.status_code == 500 and crash.json() == {"error": "internal error"}
        assert "/srv" not in crash.text and "Traceback" not in crash.text
        counted = client.get("/metrics").text
    assert 'route="/v1/titles",status="413"' not in counted  # Refused before routing: no route yet.
    assert 'route="unmatched",status="413"' in counted and 'route="/v1/titles",status="500"' in counted


def test_the_service_answers_503_while_the_model_loads_and_when_it_cannot():
    class Loading:
        ready, error, queue_depth = False, None, 0

        def __init__(self):
            self.release = threading.Event()

        def load(self):
            self.release.wait(5)

    backend = Loading()
    with TestClient(create_app(ServiceState(backend))) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.post("/v1/titles", json={"body": "x"})
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        assert client.get("/readyz").status_code == 503
        backend.release.set()
    broken = Loading()
    broken.error = "model: missing config.json"
    with TestClient(create_app(ServiceState(broken), load_in_background=False)) as client:
        answer = client.post("/v1/titles", json={"body": "x"})
        assert answer.status_code == 503 and "config.json" not in answer.text


def test_batcher_keeps_order_drops_timed_out_items_and_refuses_overflow():
    calls = []

    def process(items):
        calls.append(list(items))
        time.sleep(0.05)
        return [item * 10 for item in items]

    async def scenario():
        batcher = DynamicBatcher(
            process, BatchingSettings(max_batch=4, max_wait=0.02, max_queue=6), ThreadPoolExecutor(1)
        )
        results = await asyncio.gather(batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5]))
        with pytest.raises(Overloaded):
            await batcher.submit(list(range(7)))
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert results == [[10, 20], [30], [40, 50]]
    assert max(len(call) for call in calls) == 4 and sum(len(call) for call in calls) == 5


def test_too_many_bodies_in_one_request_is_422(served):
    client, _ = served
    answer = client.post("/v1/titles", json={"bodies": ["x"] * (MAX_BODIES + 1)})
    assert answer.status_code == 422 and str(MAX_BODIES) in answer.json()["error"]


def test_a_failing_batch_fails_its_requests_and_the_next_ones_still_get_answers():
    calls = []

    def process(items):
        calls.append(list(items))
        if len(calls) == 1:
            return items[:-1]  # One result short: every request of the batch gets the error.
        return [item * 2 for item in items]

    async def scenario():
        batcher = DynamicBatcher(process, BatchingSettings(max_batch=4, max_wait=0.0), ThreadPoolExecutor(1))
        with pytest.raises(RuntimeError, match="answered 1 items for a batch of 2"):
            await batcher.submit([1, 2], timeout=5)
        assert batcher.depth == 0
        assert await batcher.submit([3], timeout=5) == [6]
        await batcher.stop()
        return batcher.depth

    assert asyncio.run(scenario()) == 0
