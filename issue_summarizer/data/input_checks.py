"""Checks on user-supplied issue text before it reaches the model.

The app and the CLI use these to give a friendly message instead of a traceback or a
meaningless title: empty or whitespace-only text is refused, binary junk is refused (a report
that only quotes some gets a warning), huge text is capped (only the first words are read
anyway), and text that is mostly not Latin script gets a warning, since the model learned from
English issues.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_BODY_CHARS = 100_000
_BINARY_SHARE = 0.1
# A real report can quote a stretch of mojibake (U+FFFD, control characters) and still be mostly
# English. Binary data decoded as text has at most about a quarter of ASCII letters (a fifth of
# the byte values), real reports four tenths and more, so such a text passes, with a warning.
_READABLE_LETTER_SHARE = 0.3
_NON_LATIN_SHARE = 0.5


class InputError(ValueError):
    """The text cannot be summarized; the message says why in plain words."""


@dataclass
class CheckedText:
    text: str
    warnings: list[str] = field(default_factory=list)


# ASCII characters are classified by regular expressions and only the rest one by one, which
# makes the check about 20 times faster on typical (mostly ASCII) issue text.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _is_binary_character(character: str) -> bool:
    if character in "\n\r\t":
        return False
    category = unicodedata.category(character)
    return category in ("Cc", "Cs", "Co", "Cn") or character == "\ufffd"


def _is_latin_letter(character: str) -> bool:
    return character.isascii() or "LATIN" in unicodedata.name(character, "")


def check_body(text: object, max_chars: int = MAX_BODY_CHARS) -> CheckedText:
    """Return the text to summarize (capped) and warnings, or raise `InputError`."""
    if text is None:
        raise InputError("The issue body is empty. Paste the text of an issue.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("This looks like binary data, not text. Paste the text of an issue.") from None
    if not isinstance(text, str):
        raise InputError(f"Expected text, got {type(text).__name__}.")
    if not text.strip():
        raise InputError("The issue body is empty. Paste the text of an issue.")
    warnings = []
    if len(text) > max_chars:
        warnings.append(
            f"The text is {len(text):,} characters long; only the first {max_chars:,} were read "
            "(the model looks at the first words only)."
        )
        text = text[:max_chars]
    sample = text[:20_000]
    others = _NON_ASCII.findall(sample)
    binary = len(_ASCII_CONTROL.findall(sample)) + sum(map(_is_binary_character, others))
    ascii_letters = len(_ASCII_LETTER.findall(sample))
    if binary > _BINARY_SHARE * len(sample):
        if ascii_letters < _READABLE_LETTER_SHARE * len(sample):
            raise InputError("This looks like binary data, not text. Paste the text of an issue.")
        warnings.append(
            "Part of this text is unreadable characters (binary data or a broken encoding), "
            "so the title may be less accurate."
        )
    other_letters = [character for character in others if character.isalpha()]
    letters = ascii_letters + len(other_letters)
    if not letters:
        warnings.append("The text has no letters, so the title will be a guess.")
    elif sum(1 for character in other_letters if not _is_latin_letter(character)) > _NON_LATIN_SHARE * letters:
        warnings.append("Most of this text is not in Latin script. The model was trained on English issues.")
    return CheckedText(text, warnings)


def is_summarizable(text: object) -> bool:
    """Whether `check_body` accepts the text (it refuses empty and binary text)."""
    try:
        check_body(text)
    except InputError:
        return False
    return True


def summarizable_mask(bodies) -> np.ndarray:
    """A boolean array saying which bodies `check_body` accepts.

    An array, not a list: it selects rows with `.loc` even for an empty table, where an empty
    list would select columns."""
    return np.array([is_summarizable(body) for body in bodies], dtype=bool)


def usable_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a table whose body the model accepts (`check_body` refuses empty and binary text)."""
    return frame.loc[summarizable_mask(frame["body"])]


# The columns each command adds to what it writes. An input that already has one would lose
# its own cells to ours (or, for `embed`, be read as ours), so it is refused instead.
SUMMARIZE_COLUMNS = ("predicted_title", "title_score", "problem")
EMBED_COLUMNS = ("row", "vector")


def columns_written_over(columns: Iterable[object], written: Iterable[str]) -> list[str]:
    """The input's columns, in its own order, that a command writing `written` would replace."""
    written = set(written)
    return [str(column) for column in columns if str(column) in written]


def refuse_columns_written_over(
    source: object, columns: Iterable[object], written: Iterable[str], command: str, again: str = "run again"
) -> None:
    """Raise `DataLoadError` naming the input's columns that `command` would write over.

    The same rule for `summarize`, `embed` and the app's batch mode: the user's cells are never
    replaced or emptied, and nothing is renamed behind their back, so they choose new names.
    """
    from issue_summarizer.data.loading import DataLoadError

    clashes = columns_written_over(columns, written)
    if not clashes:
        return
    if len(clashes) == 1:
        what, them = f"a column {clashes[0]}", "it"
    else:
        what, them = f"columns {', '.join(clashes)}", "them"
    raise DataLoadError(
        f"{source}: already has {what}, which {command} writes; rename {them} in the file (or drop {them}) and {again}"
    )
