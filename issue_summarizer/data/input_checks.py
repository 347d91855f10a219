"""Checks on user-supplied issue text before it reaches the model.

The app and the CLI use these to give a friendly message instead of a traceback or a
meaningless title: empty or whitespace-only text is refused, binary junk is refused (a report
that only quotes some gets a warning), huge text is capped (only the first words are read
anyway), and text that is mostly not Latin script gets a warning, since the model learned from
English issues. `nothing_to_title` says when a body that passes gives the model nothing to title
(a placeholder such as "N/A", an empty template, only code or a stack trace, another language).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from issue_summarizer.config import CleaningOptions
from issue_summarizer.text.cleaning import PLACEHOLDERS, clean_text

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
SUMMARIZE_COLUMNS = ("predicted_title", "title_score", "confidence", "problem")
EMBED_COLUMNS = ("row", "vector")
# What `check` adds to each row (`inference.title_check`); `problem` says why a body could not be read.
CHECK_COLUMNS = ("verdict", "reasons", "suggested_title", "confidence", "problem")


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


# Bodies with nothing to title. The model reads a body's words to write its title; a body that
# holds none (a placeholder, a template left empty, only code or a stack trace, another
# language) still gets a title, but one that is mostly a guess. These detectors say so in words,
# so that the title can be flagged (`problem`) and its confidence held low. They are small pure
# functions of the raw text, cheap enough to run on every row of a large file.

# Whole bodies that say nothing, compared lowercased and without surrounding punctuation.
# "No description provided." is what GitHub shows for a pull request without a description.
NOTHING_PHRASES = frozenset(
    {
        "n/a", "na", "n.a", "none", "nothing", "null", "nil", "empty", "no", "nope", "tbd", "todo", "wip",
        "test", "testing", "title", "see title", "as title", "same as title", "as per title", "as in title",
        "title says it all", "see above", "see below", "no description", "no description provided",
        "no details", "no body", "description", "details", "-", "...", "?", ".",
    }
)  # fmt: skip
# Few enough prose words that nothing but code, a trace or a template's headings is left.
_FEWEST_PROSE_WORDS = 3
# The opening of a body that the checks read: several times the 250 tokens the model reads.
_CHECKED_CHARS = 6_000
_QUOTE_CHARS = 40
_EDGE_PUNCTUATION = " \t\r\n.!*_#`'\"~:;,>"
_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)")
_WORD_OF_LETTERS = re.compile(r"[^\W\d_]+")
# Lines that are code rather than prose: statements, declarations, markup, data, shell prompts.
_CODE_LINE = re.compile(
    r"""[;{}\[(]\s*$                                       # ends like a statement or a block
    |\w\(.*\)\s*;?\s*$                                       # ends with a call, not "(as in prose)"
    |^\s*(?:import|from\s+\S+\s+import|def|class|function|const|let|var|return|public|private|protected
        |static|package|using|fn|func|impl|struct|enum|sudo|pip|npm|yarn|cargo|docker|SELECT|INSERT)\s
    |^\s*(?:\#include|\#define|@\w+\(|if\s*\(|for\s*\(|while\s*\(|print\(|console\.|<\?php|\$\s|>>>|PS\s|C:\\)
    |^\s*<[/!]?[A-Za-z][^>]*>\s*$                          # a line of markup
    |^\s*[\w.\[\]"']+\s*[+\-*/]?=\s*\S                     # an assignment
    |^\s*[{}\[\]"]                                         # JSON and friends
    """,
    re.VERBOSE,
)
_PROSE_TOKEN = re.compile(r"[^\W\d_]{2,}")
_SENTENCE_END = re.compile(r"[.?!]\s*$|[.?!]\s+[A-Z]")


def _reads_as_prose(line: str) -> bool:
    """A line of eight words or more, mostly words, with a sentence's end: prose even when it starts
    like a command ("pip install fails on Windows while ...") or ends with a call ("... delete()")."""
    tokens = line.split()
    words = [token for token in tokens if _PROSE_TOKEN.fullmatch(token.strip(".,;:!?()\"'`"))]
    return len(words) >= 8 and len(words) >= 0.7 * len(tokens) and _SENTENCE_END.search(line) is not None


def _is_code_line(line: str) -> bool:
    return _CODE_LINE.search(line) is not None and not _reads_as_prose(line)


# The lines of a stack trace: the headers and frames of Python, Java, .NET, JavaScript, Go and Rust,
# and an exception's summary line (`ValueError: ...`).
_TRACE_HEADER = re.compile(
    r"^\s*(?:Traceback \(most recent call last\):|During handling of the above exception"
    r"|The above exception was the direct cause|goroutine \d+ \[|thread '.*' panicked at|panic:|Caused by:"
    r"|Exception in thread|Stack trace:|stack backtrace:)"
)
_TRACE_FRAME = re.compile(
    r"""^\s*(?:File\ ".*",\ line\ \d+             # Python
    |at\ \S.*(?:\(.*\)|:\d+(?::\d+)?\)?)$         # Java, .NET, JavaScript
    |\S+\.(?:go|rs|c|cc|cpp|h|py|js|ts):\d+\b     # Go, Rust, C: path:line
    |\d+:\s+0x[0-9a-f]+                           # Rust backtrace frames
    |\.\.\.\ \d+\ more$)""",
    re.VERBOSE,
)
_EXCEPTION_LINE = re.compile(r"^\s*[\w.$]*(?:Error|Exception|Warning|Exit|Interrupt|Fault)\b\S*(?::.*)?$")
# Words much more common in English prose than in the languages of the other issues people
# file in Latin script (Spanish, Portuguese, French, German, Italian), and those languages' own.
# Words two of them share with English ("a", "in", "no", "on") count for neither.
ENGLISH_WORDS = frozenset(
    "the and is are was be to of it this that with for when not but have has can should would if does "
    "there from i you we my an or at by".split()
)
OTHER_LANGUAGE_WORDS = frozenset(
    "el la los las del que y es por para con una se al lo como pero está cuando muy también "
    "os um uma não em do dos das é mas quando também você eu ela ele porém muito "
    "le les des est et pas je ne dans pour avec sur ce qui il nous vous une "
    "der die das und ist nicht ein eine ich mit zu den auf für es wenn bei wird auch "
    "il che di non sono gli della questo".split()
)
_LANGUAGE_WORDS_NEEDED = 3
_LANGUAGE_WORDS_SHARE = 0.1
# The language of a report is that of its opening: a report in English may quote data in another.
_LANGUAGE_WINDOW = 80


def _quoted(text: str) -> str:
    """A short quotation of the body, for a problem that cites it."""
    text = " ".join(text.split())
    return repr(text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…")


def says_nothing(text: str) -> str | None:
    """The problem of a body that is only a placeholder ('N/A', 'No description provided.'), else None."""
    stripped = text.strip()
    bare = " ".join(stripped.lower().split()).strip(_EDGE_PUNCTUATION)
    if len(bare) <= 40 and (bare in NOTHING_PHRASES or not _WORD_OF_LETTERS.search(bare)):
        return f"the body says nothing: {_quoted(stripped)}"
    return None


# The checks of `nothing_to_title` read the same body's prose and code in turn; a small cache
# computes each once per body (a string's hash is kept by the string, so looking it up is cheap).
@functools.lru_cache(maxsize=16)
def _prose_words(text: str) -> tuple[str, ...]:
    """The words of a body's prose, as the model's cleaning leaves them: without code blocks, HTML
    comments, template headings and lines that are code, lowercased."""
    lines = [line for line in text.splitlines() if not _is_code_line(line)]
    cleaned = clean_text("\n".join(lines), CleaningOptions(code_blocks="drop"))
    return tuple(word for word in _WORD_OF_LETTERS.findall(cleaned) if word not in PLACEHOLDERS)


@functools.lru_cache(maxsize=16)
def _has_code(text: str) -> bool:
    return any(_FENCE_LINE.match(line) or _is_code_line(line) for line in text.splitlines() if line.strip())


def _without_trace(text: str) -> tuple[str, int]:
    """The body without the lines of stack traces, and how many trace lines it had.

    A Python frame is followed by the line of code it ran, which goes with it."""
    kept, trace_lines, after_frame = [], 0, False
    for line in text.splitlines():
        if _TRACE_HEADER.match(line) or _TRACE_FRAME.match(line):
            trace_lines += 1
            after_frame = line.lstrip().startswith("File ")
            continue
        if (after_frame and line.startswith((" ", "\t"))) or (trace_lines and _EXCEPTION_LINE.match(line)):
            trace_lines += 1
        elif not _FENCE_LINE.match(line):
            kept.append(line)
        after_frame = False
    return "\n".join(kept), trace_lines


def only_traceback(text: str) -> str | None:
    """The problem of a body that is a stack trace with (almost) no words of its own, else None."""
    rest, trace_lines = _without_trace(text)
    if trace_lines >= 2 and len(_prose_words(rest)) < _FEWEST_PROSE_WORDS:
        return "the body is only a traceback"
    return None


def only_code(text: str) -> str | None:
    """The problem of a body that is code with (almost) no words of its own, else None."""
    if _has_code(text) and len(_prose_words(text)) < _FEWEST_PROSE_WORDS:
        return "the body is only code"
    return None


def empty_template(text: str) -> str | None:
    """The problem of a body that is an issue template's headings and hidden instructions, left
    unfilled, else None."""
    # A body that is short in itself ("Fix typo") is not a template: its few words are its content.
    if len(_WORD_OF_LETTERS.findall(text)) < _FEWEST_PROSE_WORDS or _has_code(text):
        return None
    if len(_prose_words(text)) < _FEWEST_PROSE_WORDS:
        return "the body is only an empty issue template"
    return None


def not_english(text: str) -> str | None:
    """The problem of a body whose prose is not English, else None: mostly letters of another
    script (Cyrillic, Chinese…), or Latin script with more of another language's common words
    than of English's. The model learned from English issues."""
    words = _prose_words(text)[:_LANGUAGE_WINDOW]
    letters = "".join(words)
    if not letters:
        return None
    other_script = sum(1 for character in letters if not _is_latin_letter(character))
    if other_script > _NON_LATIN_SHARE * len(letters):
        return "the body is not in English"
    english = sum(word in ENGLISH_WORDS for word in words)
    other = sum(word in OTHER_LANGUAGE_WORDS for word in words)
    if other >= max(_LANGUAGE_WORDS_NEEDED, _LANGUAGE_WORDS_SHARE * len(words)) and other > 2 * english:
        return "the body is not in English"
    return None


# In the order they are tried: the first that applies names the problem.
NOTHING_TO_TITLE_CHECKS = (says_nothing, only_traceback, only_code, empty_template, not_english)


def nothing_to_title(text: str) -> str | None:
    """Why a body gives the model nothing to title, in words, or None for a body with prose to read.

    Such a body is still titled (the title may name the error a trace ends with), but the title
    is flagged with this reason and its confidence is held low (`inference.confidence`). Only the
    body's opening is read: the model reads no more, and the checks stay fast on long logs.
    """
    text = text[:_CHECKED_CHARS]
    for check in NOTHING_TO_TITLE_CHECKS:
        problem = check(text)
        if problem:
            return problem
    return None
