"""What the HTTP service asks of the model: titles and checks for lists of inputs, off the event loop.

`LocalBackend` loads a model directory in this process and decodes through two
`DynamicBatcher`s (titles, checks) that share one model thread. The Ray Serve deployment
(`service/ray_serve.py`) gives the same methods with `@serve.batch` instead, so the FastAPI
application (`service/api.py`) is the same either way.

A body the model cannot read (empty, binary: `check_body`, the CLI's rule) is answered without
decoding, with its reason in `problem`; a body with nothing to title (a placeholder, only a log)
is titled and flagged, as `summarize` does.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from issue_summarizer.data.input_checks import InputError, check_body
from issue_summarizer.service.batching import BatchingSettings, DynamicBatcher

logger = logging.getLogger("issue_summarizer.service")


@dataclass(frozen=True)
class TitleAnswer:
    title: str | None
    confidence: float | None
    problem: str | None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckAnswer:
    verdict: str
    reasons: list[str]
    suggested_title: str | None
    confidence: float | None
    problem: str | None

    def to_json(self) -> dict:
        return asdict(self)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


class ModelWork:
    """The model calls themselves, synchronous: load once, then title or check lists of inputs."""

    def __init__(self, model_directory: str | Path, beam_width: int | None = None) -> None:
        from issue_summarizer.inference.confidence import load_calibration
        from issue_summarizer.inference.summarizer import Summarizer

        self.summarizer = Summarizer.load(model_directory)
        # A server's batches mix body lengths: their graphs are compiled before the first request.
        self.summarizer.compile_mixed_batches()
        self.calibration = load_calibration(model_directory)
        self.beam_width = beam_width

    def titles(self, bodies: list[str]) -> list[TitleAnswer]:
        from issue_summarizer.inference.confidence import scored_titles

        answers: list[TitleAnswer | None] = [None] * len(bodies)
        readable = []
        for row, body in enumerate(bodies):
            try:
                check_body(body)
                readable.append(row)
            except InputError as error:
                answers[row] = TitleAnswer(None, None, str(error))
        scored = scored_titles(self.summarizer, [bodies[row] for row in readable], self.calibration, self.beam_width)
        for row, item in zip(readable, scored, strict=True):
            answers[row] = TitleAnswer(item.title.text, _rounded(item.confidence), item.features.problem)
        return answers

    def checks(self, pairs: list[tuple[str, str]]) -> list[CheckAnswer]:
        from issue_summarizer.inference.title_check import CheckSettings, check_titles

        # Every flagged title's suggestion comes back with its confidence; the caller applies its
        # own threshold (the request's, or the webhook's), so no threshold is fixed here.
        verdicts = check_titles(
            self.summarizer,
            [title for title, _ in pairs],
            [body for _, body in pairs],
            self.calibration,
            CheckSettings(min_confidence=0.0),
            beam_width=self.beam_width,
        )
        return [
            CheckAnswer(
                verdict.verdict,
                verdict.reasons,
                verdict.suggested_title or None,
                _rounded(verdict.confidence),
                verdict.problem,
            )
            for verdict in verdicts
        ]


class LocalBackend:
    """The model in this process, loaded in the background, with dynamic batching."""

    def __init__(
        self,
        model_directory: str | Path,
        batching: BatchingSettings | None = None,
        beam_width: int | None = None,
        on_batch=None,
    ) -> None:
        self.model_directory = Path(model_directory)
        self.batching = batching or BatchingSettings()
        self.beam_width = beam_width
        self.error: str | None = None
        self._work: ModelWork | None = None
        # One thread runs the model: Keras models are not safe to call from two threads at once.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._titles = DynamicBatcher(self._title_batch, self.batching, self._executor, on_batch)
        self._checks = DynamicBatcher(self._check_batch, self.batching, self._executor, on_batch)
        self._loaded = threading.Event()

    @property
    def ready(self) -> bool:
        return self._loaded.is_set() and self._work is not None

    @property
    def queue_depth(self) -> int:
        return self._titles.depth + self._checks.depth

    def load(self) -> None:
        """Load the model (seconds); `ready` turns true, or `error` says why it cannot."""
        try:
            self._work = ModelWork(self.model_directory, self.beam_width)
        except Exception as error:  # Any failure, so that /readyz says failed rather than loading for ever.
            logger.error("cannot load the model from %s: %s", self.model_directory, str(error).splitlines()[0][:300])
            self.error = (str(error).splitlines() or [type(error).__name__])[0][:300]
        finally:
            self._loaded.set()

    def _title_batch(self, bodies: list[str]) -> list[TitleAnswer]:
        return self._work.titles(bodies)

    def _check_batch(self, pairs: list[tuple[str, str]]) -> list[CheckAnswer]:
        return self._work.checks(pairs)

    async def titles(self, bodies: list[str], timeout: float | None = None) -> list[TitleAnswer]:
        return await self._titles.submit(bodies, timeout)

    async def checks(self, pairs: list[tuple[str, str]], timeout: float | None = None) -> list[CheckAnswer]:
        return await self._checks.submit(pairs, timeout)

    async def close(self) -> None:
        await self._titles.stop()
        await self._checks.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
