"""Dynamic batching: requests that arrive together are decoded together.

Batched decoding titles several times more issues a second than decoding one at a time, but a
server gets one request at a time. `DynamicBatcher` holds each request's items in a bounded queue
and a single worker takes them in batches: it waits for the first item, takes whatever else is
waiting, and, when several clients are sending, keeps gathering while items arrive at most
`max_wait` apart (for at most 4 × `max_wait`) or until `max_batch` items. It runs the batch in a
worker thread, so the event loop keeps answering (health checks included) while the model decodes.
With `concurrency` above 1 (one per model process), that many batches decode at once, and a
batch gathered while several are free is shared out among them in near-equal parts.

- The queue is bounded (`max_queue` items): a request that would overflow it is refused at once
  with `Overloaded`, which the API answers with 503 and `Retry-After`, so memory stays flat
  however many clients push.
- A request that waits longer than its timeout is answered with `TimeoutError`; its items that
  were not yet decoded are dropped from later batches rather than decoded for no one.
- Items come back in their request's order, and an item's result never depends on its
  batch-mates (`Summarizer` decodes each body alone within a batch).

The model is not thread-safe for concurrent calls, so every batcher of one server shares one
executor with a thread per model process (`LocalBackend`), or a single thread when the model runs
in the server's own process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Overloaded(RuntimeError):
    """The queue is full: the caller should come back after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class BatchingSettings:
    """How requests are gathered into batches. Defaults measured in bench/service.py on 2 cores."""

    # The most items decoded together: past 32 the batch takes longer than a client waits
    # without gaining titles a second (bench/README.md, the summarize batch-size table).
    max_batch: int = 32
    # How long a batch waits for the next item once several clients are sending (a lone client
    # is never kept waiting), and a quarter of the longest it gathers. Measured in
    # bench/service.py: see docs/service.md.
    max_wait: float = 0.02
    # Items waiting beyond which new requests are refused with 503: about 8 batches of work, a
    # few seconds at most, so a refused client learns at once instead of timing out.
    max_queue: int = 256

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1")
        if self.max_wait < 0:
            raise ValueError(f"max_wait must be 0 or more seconds, got {self.max_wait}")


class DynamicBatcher(Generic[Item, Result]):
    """Gathers items from concurrent requests into batches for `process` (items → results, in order)."""

    def __init__(
        self,
        process: Callable[[list[Item]], list[Result]],
        settings: BatchingSettings,
        executor: Executor,
        on_batch: Callable[[int], None] | None = None,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.process = process
        self.settings = settings
        self.executor = executor
        self.on_batch = on_batch
        # Batches decoded at once: one per model process (`service/model_processes.py`).
        self.concurrency = concurrency
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        self._decoding: set[asyncio.Task] = set()
        self._pending = 0  # items queued or being decoded

    @property
    def depth(self) -> int:
        """Items waiting or being decoded now."""
        return self._pending

    def start(self) -> None:
        """Start the worker, or start it again if it ended (it never should: see `_run`)."""
        if self._worker is None or self._worker.done():
            if self._queue is None:
                self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; requests still queued are cancelled, so that none waits for ever."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for task in list(self._decoding):
            task.cancel()
        if self._decoding:
            await asyncio.gather(*self._decoding, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            future.cancel()
        self._pending = 0

    async def submit(self, items: Sequence[Item], timeout: float | None = None) -> list[Result]:
        """The results of `items`, decoded in batches with other requests' items.

        Raises `Overloaded` when the queue cannot take them all, and `TimeoutError` after `timeout` seconds.
        """
        self.start()
        if self._pending + len(items) > self.settings.max_queue:
            raise Overloaded(self._retry_after())
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._pending += len(items)
        for item, future in zip(items, futures, strict=True):
            self._queue.put_nowait((item, future))
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))
        except (TimeoutError, asyncio.CancelledError):
            for future in futures:
                future.cancel()
            raise

    def _retry_after(self) -> int:
        """Seconds until the queue has room: the batches ahead, at about a second each, at least 1."""
        return max(1, round(self._pending / max(self.settings.max_batch, 1)))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        previous = 1
        free = asyncio.Semaphore(self.concurrency)
        while True:
            batch: list[tuple[Item, asyncio.Future]] = []
            try:
                await free.acquire()
                batch.append(await self._queue.get())
                await self._gather(batch, wait_for_more=previous > 1 or not self._queue.empty())
                previous = len(batch)
                # A batch gathered while several model processes wait is shared out among them:
                # two batches of 16 decode side by side in about the time of one.
                parts = _split(batch, min(self.concurrency - len(self._decoding), len(batch)))
                for number, part in enumerate(parts):
                    if number:
                        await free.acquire()  # Free already: the slots were counted above.
                    task = loop.create_task(self._decode(loop, part))
                    self._decoding.add(task)
                    task.add_done_callback(self._decoding.discard)
                    task.add_done_callback(lambda _: free.release())
            except asyncio.CancelledError:
                # Stopped: the requests of a batch in hand are cancelled, not left waiting.
                for _, future in batch:
                    future.cancel()
                raise

    async def _gather(self, batch: list[tuple[Item, asyncio.Future]], wait_for_more: bool) -> None:
        """Add waiting items to `batch`, up to `max_batch`.

        A lone client (the last batch held one item and nothing else waits) is decoded at once.
        Otherwise the batch waits for company, as long as items keep coming at most `max_wait`
        apart: clients answered by the last batch send their next request a few milliseconds
        later, and without the wait the clients split into two groups that take turns in
        half-size batches.
        """
        stop_at = time.monotonic() + 4 * self.settings.max_wait
        while len(batch) < self.settings.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = min(self.settings.max_wait, stop_at - time.monotonic())
            if not wait_for_more or remaining <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                return

    async def _decode(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Item, asyncio.Future]]) -> None:
        """Decode one gathered batch and answer its requests, whatever happens: a failure of the
        model (or of the callback, or a wrong number of results) is every waiting request's
        error, never a worker that stops and leaves later requests to time out."""
        # Items whose request timed out or went away are not decoded.
        live = [(item, future) for item, future in batch if not future.done()]
        self._pending -= len(batch) - len(live)
        if not live:
            return
        try:
            if self.on_batch:
                self.on_batch(len(live))
            results = await loop.run_in_executor(self.executor, self.process, [item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"the model answered {len(results)} items for a batch of {len(live)}")
            for (_, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
        except asyncio.CancelledError:
            # Stopped: the batch's requests are cancelled, not left waiting.
            for _, future in live:
                future.cancel()
            raise
        except Exception as error:  # Each waiting request gets the error, not a hang.
            for _, future in live:
                if not future.done():
                    future.set_exception(error)
        finally:
            self._pending -= len(live)


def _split(batch: list, parts: int) -> list[list]:
    """`batch` in `parts` runs of near-equal size, in order."""
    size, larger = divmod(len(batch), parts)
    bounds = [0]
    for part in range(parts):
        bounds.append(bounds[-1] + size + (part < larger))
    return [batch[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
