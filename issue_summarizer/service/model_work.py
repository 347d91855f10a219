"""The model calls a server makes: titles and checks for lists of inputs, and the answers' shapes.

`ModelWork` loads a model directory and answers synchronously; `LocalBackend` runs it in the
server's process or in worker processes (`service/model_processes.py`), and the Ray Serve
deployment in each replica.

A body the model cannot read (empty, binary: `check_body`, the CLI's rule) is answered without
decoding, with its reason in `problem`; a body with nothing to title (a placeholder, only a log)
is titled and flagged, as `summarize` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from issue_summarizer.data.input_checks import InputError, check_body


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
