"""Pad and truncate id sequences to one length, at the front ("pre") or the back ("post")."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from issue_summarizer.text.vocabulary import PAD_ID

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


def bucket_lengths(bodies: np.ndarray, buckets: int, full: int | None = None) -> np.ndarray:
    """Each padded body's length rounded up to one of `buckets` evenly spaced lengths up to
    `full` (by default the rows' width; give the model's body length for rows already cut).

    Padding is id 0 and sits on one side only, so a body's length is its count of other ids.
    """
    return round_up_to_bucket((bodies != 0).sum(axis=1), bodies.shape[1] if full is None else full, buckets)


def round_up_to_bucket(lengths: np.ndarray, full: int, buckets: int) -> np.ndarray:
    """Sequence lengths rounded up to one of `buckets` evenly spaced lengths up to `full`."""
    width = -(-full // buckets)
    lengths = np.maximum(np.asarray(lengths), 1)
    return np.minimum(-(-lengths // width) * width, full)


def cut_padding(padded: np.ndarray, length: int, padding: str = "pre") -> np.ndarray:
    """The last (`padding="pre"`) or first (`"post"`) `length` columns of padded rows.

    Only padding goes when every row is at most `length` ids long (`bucket_lengths`): a batch of
    short bodies is cut to its bucket, as length-bucketed training cut it, so that the encoder
    skips steps that hold nothing.
    """
    columns = kept_columns(padded.shape[1], length, padding)
    if length >= padded.shape[1]:
        return padded
    return padded[:, columns]


def kept_columns(width: int, length: int, padding: str = "pre") -> slice:
    """The columns of rows `width` wide that `cut_padding` keeps at `length`: the last ones for
    pre-padding, the first ones for post-padding (all of them when `length` is not shorter)."""
    if padding not in SIDES:
        raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}")
    length = min(length, width)
    return slice(width - length, width) if padding == "pre" else slice(0, length)
