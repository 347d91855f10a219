"""Pad and truncate id sequences to one length, at the front ("pre") or the back ("post")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from issue_summarizer.vocabulary import PAD_ID

SIDES = ("pre", "post")


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    length: int,
    padding: str = "pre",
    truncating: str = "post",
    value: int = PAD_ID,
) -> np.ndarray:
    """Return an int32 array of shape (len(sequences), length).

    `truncating="post"` keeps the start of a long sequence (the first words of an issue
    are the most telling); `padding="pre"` puts the padding before the words, so that an
    encoder's last steps always see text.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    if padding not in SIDES or truncating not in SIDES:
        raise ValueError(f"padding and truncating must be 'pre' or 'post', got {padding!r} and {truncating!r}")
    result = np.full((len(sequences), length), value, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        kept = sequence[:length] if truncating == "post" else sequence[-length:]
        if len(kept) == 0:
            continue
        if padding == "post":
            result[row, : len(kept)] = kept
        else:
            result[row, length - len(kept) :] = kept
    return result
