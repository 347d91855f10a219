"""A calibrated confidence for every generated title: the probability that it is acceptable.

"Acceptable" is a proxy that can be measured on held-out issues: the title's ROUGE-L against
the issue's real title is at least 0.3, both cleaned and tokenized as `evaluate` scores them
(about a third of the words in common, in order). `python -m issue_summarizer calibrate`
fits the mapping from a title's features to that probability on the model's validation split
(`evaluation/calibration.py`) and keeps it in the model directory as `confidence.json`, so the
directory describes itself; this module computes the features and applies the fitted mapping.

The features are the model's own scores and cheap facts about the title and body
(`FEATURES`). The mapping is a logistic regression on standardised features whose coefficient
for `title_score` is never negative, so the confidence lies in [0, 1] and never falls when the
model's score rises with the other features fixed. A body with nothing to title
(`data.input_checks.nothing_to_title`: a placeholder, an empty template, only code or a trace,
not English) gets the share of such validation bodies whose titles were acceptable instead, which
is low, and its reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.data.input_checks import check_body, nothing_to_title
from issue_summarizer.inference.summarizer import GeneratedTitle, Summarizer, titles_digest

CONFIDENCE_FILE = "confidence.json"
CONFIDENCE_VERSION = 1
# The proxy for an acceptable title, and its description as the model directory records it.
ACCEPTABLE_ROUGE_L = 0.3
PROXY = "ROUGE-L >= 0.3 against the real title, both cleaned and tokenized as `evaluate` scores them"
# The body's first tokens, where a title's words most often come from.
OPENING_TOKENS = 30
FEATURES = (
    "title_score",  # The model's score: mean log-probability per token (length penalty 1).
    "margin",  # How far the best title's score lies above the second-best beam's.
    "title_words",
    "log_body_tokens",  # log(1 + tokens the model read).
    "known_share",  # Share of the body's tokens in the body vocabulary.
    "copy_share",  # Share of title words copied from the body (outside the title vocabulary).
    "opening_share",  # Share of title words found in the body's first `OPENING_TOKENS` tokens.
)
SCORE_FEATURE = "title_score"
CALIBRATE_COMMAND = "python -m issue_summarizer calibrate --model {model} --data FILE"


@dataclass(frozen=True)
class TitleFeatures:
    """What a confidence is computed from, for one generated title; `problem` is why the body gives
    nothing to title, or None."""

    title_score: float
    margin: float | None  # None when decoding kept one title (greedy): it takes its validation mean.
    title_words: int
    log_body_tokens: float
    known_share: float
    copy_share: float
    opening_share: float
    problem: str | None = None

    def values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in FEATURES}


def title_features(
    best: GeneratedTitle, second: GeneratedTitle | None, body_vocabulary: Mapping[str, int], problem: str | None
) -> TitleFeatures:
    """The features of `best`, a body's best title; `second` is the beam's next title, if it kept one.

    `body_vocabulary` is the body vocabulary's index (word to id): a body of words it does not know
    gives the model little to read.
    """
    body = list(best.body)
    words = list(best.tokens)
    opening = set(body[:OPENING_TOKENS])
    return TitleFeatures(
        title_score=float(best.score),
        margin=None if second is None else float(best.score - second.score),
        title_words=len(words),
        log_body_tokens=math.log1p(len(body)),
        known_share=sum(token in body_vocabulary for token in body) / len(body) if body else 0.0,
        copy_share=best.copied / len(words) if words else 0.0,
        opening_share=sum(word in opening for word in words) / len(words) if words else 0.0,
        problem=problem,
    )


def _sigmoid(value: float) -> float:
    # Written for either sign, so that a large score cannot overflow `exp`.
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)


@dataclass(frozen=True)
class LogisticLink:
    """`sigmoid(intercept + sum(coefficient * (value - mean) / scale))` over named features."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        count = len(self.features)
        if not count or any(len(part) != count for part in (self.means, self.scales, self.coefficients)):
            raise ValueError("a logistic link needs one mean, scale and coefficient per feature")
        if any(not scale > 0 for scale in self.scales):
            raise ValueError("every feature scale must be positive")
        values = (*self.means, *self.coefficients, self.intercept)
        if not all(math.isfinite(value) for value in values):
            raise ValueError("the link's means, coefficients and intercept must be finite numbers")
        # The guarantee the confidence makes: a higher model score never lowers it.
        if SCORE_FEATURE in self.features and self.coefficients[self.features.index(SCORE_FEATURE)] < 0:
            raise ValueError(f"the coefficient of {SCORE_FEATURE} must not be negative")

    def probability(self, values: Mapping[str, float | None]) -> float:
        """The probability for `values` (by feature name); a missing value (None) takes its mean."""
        total = self.intercept
        for name, mean, scale, coefficient in zip(
            self.features, self.means, self.scales, self.coefficients, strict=True
        ):
            value = values.get(name)
            if value is not None and math.isfinite(value):
                total += coefficient * (float(value) - mean) / scale
        return _sigmoid(total)

    @classmethod
    def from_dict(cls, data: Mapping) -> LogisticLink:
        return cls(
            tuple(str(name) for name in data["features"]),
            tuple(float(value) for value in data["means"]),
            tuple(float(value) for value in data["scales"]),
            tuple(float(value) for value in data["coefficients"]),
            float(data["intercept"]),
        )


@dataclass(frozen=True)
class Calibration:
    """The fitted mapping from a title's features to the probability that it is acceptable.

    `link` maps the features of a body with words to read; `nothing_to_title` is the probability
    given to a body with nothing to title (smoothed towards low when validation held few). `baseline`
    maps `title_score` alone, fitted on the same rows, to show what the other features add. `fit`
    records how it was fitted: rows, split, proxy, date, model digest, decoding.
    """

    link: LogisticLink
    nothing_to_title: float
    baseline: LogisticLink | None = None
    fit: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.nothing_to_title <= 1.0:
            raise ValueError("the confidence of a body with nothing to title must lie in [0, 1]")

    def confidence(self, features: TitleFeatures) -> float:
        """The probability, in [0, 1], that the title described by `features` is acceptable."""
        if features.problem:
            return self.nothing_to_title
        return self.link.probability(features.values())

    def baseline_confidence(self, title_score: float) -> float | None:
        """`title_score` alone mapped to [0, 1] (None without a baseline)."""
        return None if self.baseline is None else self.baseline.probability({SCORE_FEATURE: title_score})

    def to_dict(self) -> dict:
        return {
            "version": CONFIDENCE_VERSION,
            "proxy": PROXY,
            "acceptable_rouge_l": ACCEPTABLE_ROUGE_L,
            "link": "logistic",
            **_link_dict(self.link),
            "nothing_to_title": self.nothing_to_title,
            "baseline": None if self.baseline is None else _link_dict(self.baseline),
            "fit": self.fit,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        if data.get("version") != CONFIDENCE_VERSION or data.get("link") != "logistic":
            raise ValueError(f"unknown version or link ({data.get('version')!r}, {data.get('link')!r})")
        baseline = data.get("baseline")
        return cls(
            LogisticLink.from_dict(data),
            float(data["nothing_to_title"]),
            None if baseline is None else LogisticLink.from_dict(baseline),
            dict(data.get("fit") or {}),
        )

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIDENCE_FILE
        text = json.dumps(self.to_dict(), indent=1)
        write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
        return path


def _link_dict(link: LogisticLink) -> dict:
    return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(link).items()}


def calibration_problem(directory: str | Path | None) -> str | None:
    """Why the model directory gives no confidence, in one line, or None when it does."""
    if directory is None:
        return "the model was not loaded from a directory, so it has no confidence.json"
    path = Path(directory) / CONFIDENCE_FILE
    command = CALIBRATE_COMMAND.format(model=directory)
    if not path.is_file():
        return f"{directory}: no {CONFIDENCE_FILE}, so titles have no confidence; run `{command}` first"
    try:
        calibration = Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"{path}: not a readable confidence file ({error}); run `{command}` again"
    digest = calibration.fit.get("model_digest")
    if digest and digest != titles_digest(directory):
        return f"{path}: fitted for another version of the model (retrained or tuned since); run `{command}` again"
    return None


def load_calibration(directory: str | Path | None) -> Calibration | None:
    """The model directory's fitted confidence, or None when it has none that fits the model
    (`calibration_problem` says why)."""
    if calibration_problem(directory) is not None:
        return None
    return Calibration.from_dict(json.loads((Path(directory) / CONFIDENCE_FILE).read_text(encoding="utf-8")))


@dataclass
class ScoredTitle:
    """A body's best title with its features and confidence (None without a calibration)."""

    title: GeneratedTitle
    features: TitleFeatures
    confidence: float | None


def scored_titles(
    summarizer: Summarizer,
    texts: Sequence[str],
    calibration: Calibration | None,
    beam_width: int | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    **settings,
) -> list[ScoredTitle]:
    """The best title of each text with its features and, given a calibration, its confidence.

    Beam search keeps a second title for the margin; the best title is the same as without it.
    """
    width = summarizer.decoding_options(beam_width, settings.get("max_length")).beam_width
    settings.setdefault("num_alternatives", min(2, width))
    generated = summarizer.generate_titles(texts, beam_width, batch_size=batch_size, progress=progress, **settings)
    vocabulary = summarizer.body_vocabulary.index
    results = []
    for text, alternatives in zip(texts, generated, strict=True):
        best = alternatives[0]
        second = alternatives[1] if len(alternatives) > 1 else None
        features = title_features(best, second, vocabulary, nothing_to_title(check_body(text).text))
        confidence = None if calibration is None else calibration.confidence(features)
        results.append(ScoredTitle(best, features, confidence))
    return results


# How the app says a confidence in words: the lower bound of each level, highest first.
CONFIDENCE_LEVELS = ((0.55, "High"), (0.3, "Medium"), (0.0, "Low"))


def confidence_level(confidence: float) -> str:
    return next(name for bound, name in CONFIDENCE_LEVELS if confidence >= bound)


def describe_confidence(confidence: float | None) -> str:
    """A confidence in words a stakeholder reads, saying honestly what it measures."""
    if confidence is None or not math.isfinite(confidence):
        return "No confidence: this model has not been calibrated (run `calibrate`)."
    # In tens where that is not "0 times in 10" for a confidence that is low but not nil.
    often = f"{round(confidence * 10)} times in 10" if confidence >= 0.1 else f"{round(confidence * 100)} times in 100"
    return (
        f"{confidence_level(confidence)} confidence ({confidence:.0%}): on held-out issues, titles like this "
        f"came close to the real title (about a third of its words or more, in order) {often}."
    )
