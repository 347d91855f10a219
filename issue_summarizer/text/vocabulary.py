"""A word vocabulary: index 0 is padding, 1 a rare word, and titles get start/end markers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

PAD = "<pad>"
RARE = "<rare>"
START = "<start>"
END = "<end>"
PAD_ID = 0
RARE_ID = 1
START_ID = 2
END_ID = 3


class Vocabulary:
    """Maps tokens to integer ids and back.

    A vocabulary with markers (for titles) reserves ids 2 and 3 for `<start>` and `<end>`,
    and `encode` wraps every sequence in them.
    """

    def __init__(self, tokens: Sequence[str], with_markers: bool) -> None:
        reserved = [PAD, RARE] + ([START, END] if with_markers else [])
        if list(tokens[: len(reserved)]) != reserved:
            raise ValueError(f"a vocabulary must start with the reserved tokens {reserved}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary must not contain the same token twice")
        self.tokens = list(tokens)
        self.with_markers = with_markers
        self.index = {token: position for position, token in enumerate(self.tokens)}
        self.num_reserved = len(reserved)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens and self.with_markers == other.with_markers

    @classmethod
    def fit(
        cls,
        documents: Iterable[Sequence[str]],
        with_markers: bool,
        max_size: int | None = None,
        min_count: int = 1,
    ) -> Vocabulary:
        """Build a vocabulary from tokenized training documents.

        `max_size` counts every id, the reserved ones included (Hamel's setup: 8,000 for
        bodies, 4,500 for titles). `min_count` drops words seen fewer times (the news
        tutorial uses 5). Ties in frequency are broken alphabetically so fitting is
        deterministic.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(token for document in documents for token in document)
        reserved = [PAD, RARE] + ([START, END] if with_markers else [])
        if max_size is not None and max_size <= len(reserved):
            raise ValueError(f"max_size must leave room for words after the {len(reserved)} reserved ids")
        for token in reserved:
            counts.pop(token, None)
        ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[: max_size - len(reserved)]
        vocabulary = cls(reserved + [token for token, _ in ranked], with_markers)
        vocabulary.counts = {token: count for token, count in ranked}
        vocabulary.total_count = sum(counts.values())
        return vocabulary

    def coverage(self, documents: Iterable[Sequence[str]]) -> float:
        """The share of tokens in `documents` that the vocabulary knows (not mapped to rare)."""
        known = total = 0
        for document in documents:
            total += len(document)
            known += sum(1 for token in document if token in self.index)
        return known / total if total else 1.0

    def encode(self, tokens: Sequence[str]) -> list[int]:
        ids = [self.index.get(token, RARE_ID) for token in tokens]
        return [START_ID, *ids, END_ID] if self.with_markers else ids

    def decode(self, ids: Iterable[int], show_rare: bool = False) -> list[str]:
        """Turn ids back into tokens.

        Padding and markers never appear in the output and decoding stops at `<end>`. The
        rare-word marker is dropped unless `show_rare` is set.
        """
        tokens = []
        for token_id in np.asarray(list(ids)).tolist():
            if self.with_markers and token_id == END_ID:
                break
            if token_id == PAD_ID or (self.with_markers and token_id == START_ID):
                continue
            if token_id == RARE_ID and not show_rare:
                continue
            if not 0 <= token_id < len(self.tokens):
                raise ValueError(f"id {token_id} is outside a vocabulary of {len(self.tokens)}")
            tokens.append(self.tokens[token_id])
        return tokens

    def to_dict(self) -> dict:
        return {"with_markers": self.with_markers, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        try:
            return cls(data["tokens"], bool(data["with_markers"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a vocabulary: missing field {error}") from error

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read vocabulary {path}: {error}") from error
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
