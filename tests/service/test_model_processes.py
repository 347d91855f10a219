"""The model in worker processes: the same answers as in the server's process, batches decoded
side by side, a clear error for a model that cannot load, and a dead worker replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from issue_summarizer.service.api import ServiceState, create_app
from issue_summarizer.service.backend import LocalBackend
from issue_summarizer.service.batching import BatchingSettings, DynamicBatcher
from issue_summarizer.service.model_processes import ModelProcessError, ModelProcesses
from issue_summarizer.service.model_work import ModelWork

MODEL = Path(__file__).resolve().parents[2] / "model"
BODIES = [
    "When I run the training script on a GPU, memory keeps growing every epoch until the process is killed.",
    "The dashboard page takes 30 seconds to load when there are more than 1000 projects.",
    "Installing the package with pip fails on Windows while it builds the wheel for numpy.",
    "Clicking the save button in the settings dialog does nothing in Firefox, while it works in Chrome.",
    "",
]
needs_model = pytest.mark.skipif(not (MODEL / "model.keras").is_file(), reason="needs the shipped model")


@pytest.fixture(autouse=True)
def plain_main_module(monkeypatch):
    """A spawned worker imports the parent's main module first; the app's tests leave `app.py`
    there (Streamlit runs it as `__main__`), which would start the app in every worker."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def test_a_batch_gathered_while_two_workers_wait_is_shared_out_and_decoded_side_by_side():
    spans = []
    lock = threading.Lock()

    def process(items):
        started = time.monotonic()
        time.sleep(0.2)
        with lock:
            spans.append((len(items), started, time.monotonic()))
        return [item * 10 for item in items]

    async def scenario():
        batcher = DynamicBatcher(
            process, BatchingSettings(max_batch=8, max_wait=0.05), ThreadPoolExecutor(2), concurrency=2
        )
        # A first lone request, so that the eight that follow are gathered as a group.
        assert await batcher.submit([0]) == [0]
        results = await asyncio.gather(*(batcher.submit([item]) for item in range(1, 9)))
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert results == [[item * 10] for item in range(1, 9)]
    together = spans[1:]
    assert sum(size for size, _, _ in together) == 8 and len(together) >= 2
    # Two batches ran at the same time: the second started before the first ended.
    first, second = sorted(together, key=lambda span: span[1])[:2]
    assert second[1] < first[2]


@needs_model
def test_workers_answer_as_the_model_does_in_this_process_and_a_dead_one_is_replaced():
    expected = ModelWork(MODEL).titles(BODIES)
    workers = ModelProcesses(MODEL, None, count=1, threads=1)
    workers.start()
    try:
        assert workers.call("titles", BODIES) == expected
        checks = workers.call("checks", [("Memory leak", BODIES[0])])
        assert checks[0].verdict in {"fine", "vague", "mismatch"}
        # A worker killed mid-life fails the batch it is given, and another takes its place.
        dead = workers._idle.queue[0].process
        os.kill(dead.pid, signal.SIGKILL)
        dead.join(10)
        with pytest.raises(ModelProcessError, match="stopped while decoding"):
            workers.call("titles", BODIES[:1])
        assert workers.call("titles", BODIES[:1]) == expected[:1]  # Waits for the replacement to load.
    finally:
        workers.close()


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    workers = ModelProcesses(tmp_path, None, count=1)
    with pytest.raises(ModelProcessError) as raised:
        workers.start()
    assert "Traceback" not in str(raised.value) and str(raised.value)


@needs_model
def test_a_server_with_two_model_processes_answers_each_body_as_alone():
    backend = LocalBackend(MODEL, BatchingSettings(max_batch=8, max_wait=0.01), processes=2, threads=1)
    alone = ModelWork(MODEL).titles(BODIES[:4])
    with TestClient(create_app(ServiceState(backend))) as client:
        deadline = time.monotonic() + 300
        while client.get("/readyz").status_code != 200 and backend.error is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert backend.ready, backend.error
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda body: client.post("/v1/titles", json={"body": body}).json(), BODIES[:4] * 3))
    assert [answer["title"] for answer in answers] == [answer.title for answer in alone] * 3
