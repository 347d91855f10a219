"""What a pad length means for a corpus: truncation, padding and a suggested length.

The Lengths page answers "if every body is padded or cut to L tokens, how many are cut,
how many are padded, and how much of the padded matrix is padding?" from the histograms in
`length_stats.json`, or from histograms computed here on a sample of a data file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from issue_summarizer.config import CleaningOptions
from issue_summarizer.data.length_stats import LengthHistogram
from issue_summarizer.text.tokenization import clean_and_tokenize

SAMPLE_ROWS = 20_000
DISPLAY_SHARE = 0.99  # Histograms are drawn up to this share of documents; the long tail is counted apart.


@dataclass(frozen=True)
class PadReport:
    """The effect of padding or truncating every document to `length` tokens."""

    length: int
    documents: int
    coverage: float  # Share of documents that fit without truncation.
    truncated_share: float  # Share of documents longer than `length`, which lose their end.
    padded_share: float  # Share of documents shorter than `length`, which get padding.
    padding_token_share: float  # Share of the padded matrix's cells that are padding.
    truncated_token_share: float  # Share of all tokens that truncation throws away.


def pad_report(histogram: LengthHistogram, length: int) -> PadReport:
    lengths = np.array(list(histogram.counts), dtype=np.int64)
    counts = np.array(list(histogram.counts.values()), dtype=np.int64)
    documents = int(counts.sum())
    if documents == 0:
        return PadReport(length, 0, 1.0, 0.0, 0.0, 0.0, 0.0)
    padding = (np.clip(length - lengths, 0, None) * counts).sum()
    cut = (np.clip(lengths - length, 0, None) * counts).sum()
    total_tokens = (lengths * counts).sum()
    return PadReport(
        length=length,
        documents=documents,
        coverage=float(counts[lengths <= length].sum() / documents),
        truncated_share=float(counts[lengths > length].sum() / documents),
        padded_share=float(counts[lengths < length].sum() / documents),
        padding_token_share=float(padding / (length * documents)) if length > 0 else 0.0,
        truncated_token_share=float(cut / total_tokens) if total_tokens else 0.0,
    )


def display_limit(histogram: LengthHistogram, share: float = DISPLAY_SHARE) -> int:
    """The length below which `share` of documents fall: a sensible right edge for a chart."""
    return histogram.suggest_length(share) if histogram.total else 1


def histogram_frame(histogram: LengthHistogram, limit: int | None = None) -> tuple[pd.DataFrame, int]:
    """(length, documents) rows up to `limit`, and how many documents are longer than `limit`."""
    limit = display_limit(histogram) if limit is None else limit
    rows = [(length, count) for length, count in histogram.counts.items() if length <= limit]
    longer = sum(count for length, count in histogram.counts.items() if length > limit)
    return pd.DataFrame(rows, columns=["length", "documents"]), longer


def coverage_frame(histogram: LengthHistogram, limit: int | None = None) -> pd.DataFrame:
    """(length, coverage) rows: the share of documents no longer than each length."""
    lengths, shares = histogram.coverage_curve()
    frame = pd.DataFrame({"length": lengths, "coverage": shares})
    return frame[frame["length"] <= limit] if limit is not None else frame


def histograms_from_texts(
    bodies: Sequence[str],
    titles: Sequence[str] | None,
    options: CleaningOptions,
    sample: int = SAMPLE_ROWS,
    seed: int = 0,
    workers: int | None = None,
    title_options: CleaningOptions | None = None,
) -> dict[str, LengthHistogram]:
    """Token-length histograms of up to `sample` bodies (and their titles), cleaned as the model cleans.

    Titles are cleaned with `title_options` where given (a model's `title_cleaning`), else like bodies.
    """
    indices = np.arange(len(bodies))
    if len(indices) > sample:
        indices = np.sort(np.random.default_rng(seed).choice(indices, size=sample, replace=False))
    chosen_bodies = [bodies[index] for index in indices]
    histograms = {"body": _histogram(chosen_bodies, options, workers)}
    if titles is not None:
        histograms["title"] = _histogram([titles[index] for index in indices], title_options or options, workers)
    return histograms


def _histogram(texts: list[str], options: CleaningOptions, workers: int | None) -> LengthHistogram:
    # Only the lengths travel back from the worker processes, not the token lists.
    return LengthHistogram.from_lengths(clean_and_tokenize(texts, options, workers=workers, transform=len))
