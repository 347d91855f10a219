"""Token-length histograms, coverage curves and suggested pad lengths.

Only aggregate counts are stored, so the app can draw the histograms without any data.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_COVERAGE = 0.9  # ktext's heuristic: pad to the length that covers 90% of documents.


@dataclass
class LengthHistogram:
    """How many documents have each token length."""

    counts: dict[int, int]

    @classmethod
    def from_lengths(cls, lengths: Iterable[int]) -> LengthHistogram:
        return cls(dict(sorted(Counter(int(length) for length in lengths).items())))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def coverage_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Lengths in increasing order and the share of documents no longer than each."""
        lengths = np.array(sorted(self.counts), dtype=np.int64)
        if lengths.size == 0:
            return lengths, np.array([], dtype=np.float64)
        cumulative = np.cumsum([self.counts[length] for length in lengths])
        return lengths, cumulative / cumulative[-1]

    def coverage_at(self, length: int) -> float:
        """The share of documents that fit in `length` tokens without truncation."""
        total = self.total
        return sum(count for value, count in self.counts.items() if value <= length) / total if total else 1.0

    def suggest_length(self, coverage: float = DEFAULT_COVERAGE) -> int:
        """The smallest length that covers at least `coverage` of the documents."""
        if not 0 < coverage <= 1:
            raise ValueError(f"coverage must be in (0, 1], got {coverage}")
        lengths, shares = self.coverage_curve()
        if lengths.size == 0:
            raise ValueError("cannot suggest a length from an empty histogram")
        return int(lengths[np.searchsorted(shares, coverage - 1e-12)])

    def percentile(self, share: float) -> int:
        return self.suggest_length(share)

    def to_dict(self) -> dict:
        return {"counts": {str(length): count for length, count in self.counts.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> LengthHistogram:
        return cls({int(length): int(count) for length, count in data["counts"].items()})


def save_length_stats(path: str | Path, histograms: dict[str, LengthHistogram], extra: dict | None = None) -> None:
    payload = {name: histogram.to_dict() for name, histogram in histograms.items()}
    payload["meta"] = extra or {}
    Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")


def load_length_stats(path: str | Path) -> tuple[dict[str, LengthHistogram], dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        meta = data.pop("meta", {})
        return {name: LengthHistogram.from_dict(value) for name, value in data.items()}, meta
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:
        raise ValueError(f"cannot read length statistics {path}: {error}") from error
