"""What the HTTP service asks of the model: titles and checks for lists of inputs, off the event loop.

`LocalBackend` decodes through two `DynamicBatcher`s (titles, checks) that share the model: by
default in worker processes (`ModelProcesses`), one batch in each at a time, or in this
process's one model thread. The Ray Serve deployment (`service/ray_serve.py`) gives the same
methods with `@serve.batch` instead, so the FastAPI application (`service/api.py`) is the same
either way.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from issue_summarizer.service.batching import BatchingSettings, DynamicBatcher
from issue_summarizer.service.model_processes import ModelProcesses, first_line
from issue_summarizer.service.model_work import CheckAnswer, ModelWork, TitleAnswer

logger = logging.getLogger("issue_summarizer.service")


def default_model_processes() -> int:
    """Worker processes for this machine: one per core, at most 2 (each holds a copy of the model;
    2 is what was measured, on 2 cores)."""
    return max(1, min(2, os.cpu_count() or 1))


class LocalBackend:
    """The model, loaded in the background, behind dynamic batching.

    With `processes` of 1 or more, each of that many worker processes holds the model and decodes
    one batch at a time, with `threads` TensorFlow threads (default: the cores shared out). With
    0 the model runs in this process, in one thread: Keras models are not safe to call from two
    threads at once.
    """

    def __init__(
        self,
        model_directory: str | Path,
        batching: BatchingSettings | None = None,
        beam_width: int | None = None,
        on_batch=None,
        processes: int = 0,
        threads: int | None = None,
    ) -> None:
        if processes < 0:
            raise ValueError(f"processes must be 0 (this process) or more, got {processes}")
        self.model_directory = Path(model_directory)
        self.batching = batching or BatchingSettings()
        self.beam_width = beam_width
        self.error: str | None = None
        self._work: ModelWork | None = None
        self._processes: ModelProcesses | None = None
        if processes:
            threads = threads or max(1, (os.cpu_count() or 1) // processes)
            self._processes = ModelProcesses(self.model_directory, beam_width, processes, threads)
        # The threads only wait on the workers' pipes, one per worker; without workers, one runs the model.
        concurrency = max(processes, 1)
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="model")
        self._titles = DynamicBatcher(self._title_batch, self.batching, self._executor, on_batch, concurrency)
        self._checks = DynamicBatcher(self._check_batch, self.batching, self._executor, on_batch, concurrency)
        self._loaded = threading.Event()

    @property
    def ready(self) -> bool:
        return self._loaded.is_set() and self.error is None

    @property
    def queue_depth(self) -> int:
        return self._titles.depth + self._checks.depth

    def load(self) -> None:
        """Load the model (seconds); `ready` turns true, or `error` says why it cannot."""
        try:
            if self._processes is not None:
                self._processes.start()
            else:
                self._work = ModelWork(self.model_directory, self.beam_width)
        except Exception as error:  # Any failure, so that /readyz says failed rather than loading for ever.
            self.error = first_line(error)
            logger.error("cannot load the model from %s: %s", self.model_directory, self.error)
        finally:
            self._loaded.set()

    def _title_batch(self, bodies: list[str]) -> list[TitleAnswer]:
        if self._processes is not None:
            return self._processes.call("titles", bodies)
        return self._work.titles(bodies)

    def _check_batch(self, pairs: list[tuple[str, str]]) -> list[CheckAnswer]:
        if self._processes is not None:
            return self._processes.call("checks", pairs)
        return self._work.checks(pairs)

    async def titles(self, bodies: list[str], timeout: float | None = None) -> list[TitleAnswer]:
        return await self._titles.submit(bodies, timeout)

    async def checks(self, pairs: list[tuple[str, str]], timeout: float | None = None) -> list[CheckAnswer]:
        return await self._checks.submit(pairs, timeout)

    async def close(self) -> None:
        await self._titles.stop()
        await self._checks.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:
            self._processes.close()
