"""Clean and tokenize texts with spaCy's rule-based English tokenizer, in parallel.

`spacy.blank("en")` needs no model download. Its tokenizer first splits on whitespace
and then applies its rules to each piece on its own, so the tokens of a text cut at a
whitespace boundary are exactly a prefix of the tokens of the whole text. Cleaning works
line by line (apart from code blocks and HTML comments, which run to the end of a cut text),
so a raw body cut at a line break cleans to a prefix of its whole cleaned form. That is what
makes `clean_and_tokenize(..., max_tokens=70)` fast: it cleans and tokenizes only as much
of each body as the model will read, widening the window whenever a cut leaves too few
tokens, and gives the same tokens as processing the whole body.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

from issue_summarizer.config import CleaningOptions

# The first raw window, in characters per token needed: cleaned issue text averages a little
from issue_summarizer.text.cleaning import clean_text

# The first raw window, in characters per token needed: cleaned issue text averages a little
# under six characters per token, and cleaning shrinks raw markdown further. A window that turns
# out too short grows fourfold; 10 was the fastest start of those tried on the GitHub corpus.
RAW_CHARS_PER_TOKEN = 10
# Extra tokens required past max_tokens before a cut raw window is trusted: the last line of a
# cut window may end in the middle of a construct that cleaning treats differently.
SAFETY_TOKENS = 4
PARALLEL_MIN_TEXTS = 2000
_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
CHUNK_SIZE = 256


# spaCy's vocabulary keeps every string it has seen, so a process that tokenizes millions of
# distinct bodies (streaming `summarize`, the app over weeks) would grow without bound: about
# 7 strings and 3 KB per body. Once the tokenizer holds this many strings (about 13,000
# bodies' worth, 50 MB) it is replaced by a fresh one, which takes 0.1 s. Tokens are plain
# `str` slices of the text, so nothing refers to the old one, and a call still using it
# (another thread) keeps it alive until it returns.
MAX_TOKENIZER_STRINGS = 100_000


@lru_cache(maxsize=1)
def _fresh_tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def _tokenizer():
    tokenizer = _fresh_tokenizer()
    if len(tokenizer.vocab.strings) > MAX_TOKENIZER_STRINGS:
        _fresh_tokenizer.cache_clear()
        tokenizer = _fresh_tokenizer()
    return tokenizer


def tokenize(text: str) -> list[str]:
    """Split already-cleaned text into spaCy tokens.

    Cleaning leaves single spaces only, so spaCy makes no whitespace tokens. Slicing the text
    by the tokens' offsets is about twice as fast as creating a Python `Token` per word.
    """
    from spacy.attrs import IDX, LENGTH

    offsets = _tokenizer()(text).to_array([IDX, LENGTH]).tolist()
    return [text[start : start + length] for start, length in offsets]


def tokenize_with_spaces(text: str) -> tuple[list[str], list[bool]]:
    """The tokens of cleaned text and, for each, whether a space follows it in the text."""
    from spacy.attrs import IDX, LENGTH, SPACY

    offsets = _tokenizer()(text).to_array([IDX, LENGTH, SPACY]).tolist()
    return [text[start : start + length] for start, length, _ in offsets], [bool(space) for _, _, space in offsets]


def _cut_at_line_end(text: str, limit: int) -> tuple[str, bool]:
    """The text up to the first line break at or after `limit`, and whether it was cut.

    Cleaning rules such as inline code and emphasis pair up marks within a line, so a window
    must never end inside a line.
    """
    if len(text) <= limit:
        return text, False
    cut = text.find("\n", limit)
    if cut < 0:
        return text, False
    return text[:cut], True


def _tokenize_prefix(cleaned: str, needed: int, spaces: list[bool] | None = None) -> list[str]:
    """At least `needed` tokens from the start of `cleaned` (all of them when it is shorter).

    Words are tokenized in rounds. A word yields one token or more, so a round of `needed - have`
    words always finishes; the first round takes fewer, because the average word yields about
    1.3 tokens and tokenizing words that are then cut off is the single largest cost here.
    With `spaces`, it is filled with whether a space follows each token.
    """
    words = cleaned.split(" ", needed)
    tokens: list[str] = []
    start = 0
    take = max(1, (needed * 3) // 4)
    while len(tokens) < needed and start < len(words):
        if start + take >= len(words) and len(words) > needed:
            # The last element of the split holds the rest of the text, unsplit.
            words = words[:-1] + words[-1].split(" ", needed)
        piece = " ".join(words[start : start + take])
        if spaces is None:
            tokens.extend(tokenize(piece))
        else:
            piece_tokens, piece_spaces = tokenize_with_spaces(piece)
            tokens.extend(piece_tokens)
            # Rounds are cut at spaces, so each round's last token is followed by one.
            spaces.extend(piece_spaces[:-1] + [True] if piece_spaces else [])
        start += take
        take = needed - len(tokens)
    return tokens


def _prose_window_end(text: str, budget: int) -> int:
    """The index by which `text` holds `budget` characters outside fenced code blocks.

    Cleaning turns a whole code block into one marker, so code should not use up the window.
    Only the window's size depends on this; the token-count check keeps the result exact.
    """
    position = prose = 0
    inside = False
    for match in _FENCE_LINE.finditer(text):
        if not inside:
            prose += match.start() - position
            if prose >= budget:
                return match.start() - (prose - budget)
        inside = not inside
        position = match.end()
    return len(text) if inside else position + budget - prose


def clean_and_tokenize_one(text: str, options: CleaningOptions, max_tokens: int | None = None) -> list[str]:
    """Clean and tokenize one text; with `max_tokens`, return only its first `max_tokens` tokens."""
    if max_tokens is None:
        return tokenize(clean_text(text, options))
    return _windowed(text, options, max_tokens, None)


def surface_tokens_one(
    text: str, options: CleaningOptions, max_tokens: int | None = None
) -> tuple[list[str], list[bool]]:
    """The same tokens as `clean_and_tokenize_one`, as the text wrote them (case and numbers kept),
    with whether a space follows each one."""
    if max_tokens is None:
        tokens, spaces = tokenize_with_spaces(clean_text(text, options, keep_surface=True))
        return tokens, _spaces_as_written(tokens, spaces, text, options)
    spaces: list[bool] = []
    tokens = _windowed(text, options, max_tokens, spaces)
    return tokens, _spaces_as_written(tokens, spaces[: len(tokens)], text, options)


def _spaces_as_written(tokens: list[str], spaces: list[bool], text: str, options: CleaningOptions) -> list[bool]:
    """Which tokens a space follows in the cleaned text before the number and bracket rules set tokens apart.

    The number rule puts spaces around every number it marks, so that "64-bit" reads as a number
    and "-bit"; the body wrote no space there, and a title copying both should not add one.
    """
    if not options.replace_numbers and not options.split_brackets:
        return spaces
    written = clean_text(
        text, dataclasses.replace(options, replace_numbers=False, split_brackets=False), keep_surface=True
    )
    result = list(spaces)
    cursor = 0
    for index, token in enumerate(tokens):
        found = written.find(token, cursor)
        if found < 0:
            break  # The two cleanings differ here (rare); keep the tokenizer's spacing from here on.
        cursor = found + len(token)
        result[index] = cursor >= len(written) or written[cursor] == " "
    return result


def _windowed(text: str, options: CleaningOptions, max_tokens: int, spaces: list[bool] | None) -> list[str]:
    """The first `max_tokens` tokens, cleaning only a window of the text that is widened until it holds them."""
    needed = max_tokens + SAFETY_TOKENS
    budget = needed * RAW_CHARS_PER_TOKEN
    while True:
        raw, raw_was_cut = _cut_at_line_end(text, _prose_window_end(text, budget))
        if spaces is not None:
            spaces.clear()
        tokens = _tokenize_prefix(clean_text(raw, options, keep_surface=spaces is not None), needed, spaces)
        if len(tokens) >= needed or not raw_was_cut:
            return tokens[:max_tokens]
        budget *= 4


def _process_one(
    text: str, options: CleaningOptions, max_tokens: int | None, transform: Callable[[list[str]], Any] | None
) -> Any:
    tokens = clean_and_tokenize_one(text, options, max_tokens)
    return transform(tokens) if transform else tokens


# Each worker process receives its job (options and transform) once, at start-up, rather than
# with every chunk: a vocabulary is much larger than a chunk of ids.
_worker_job: Callable[[str], Any] | None = None


def _start_worker(job: Callable[[str], Any]) -> None:
    global _worker_job
    _worker_job = job
    _tokenizer()


def _run_chunk(chunk: Sequence[str]) -> list[Any]:
    return [_worker_job(text) for text in chunk]


def _can_fork() -> bool:
    # Forking a process that has started TensorFlow's thread pools can deadlock, and "spawn"
    # would re-run the caller's main module (a Streamlit page, a script without a main guard),
    # so once TensorFlow is loaded the work stays in this process.
    return sys.platform == "linux" and "tensorflow" not in sys.modules


def clean_and_tokenize(
    texts: Sequence[str],
    options: CleaningOptions = CleaningOptions(),
    max_tokens: int | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    transform: Callable[[list[str]], Any] | None = None,
) -> list[Any]:
    """Clean and tokenize many texts on all cores, keeping their order.

    Small batches, and any call once TensorFlow is loaded, run in this process instead.

    `transform`, when given, is applied to each token list inside the worker processes (for
    example `Vocabulary.encode`, so that ids rather than strings travel back). `progress`, when
    given, is called with the number of texts finished after each chunk.
    """
    workers = workers or os.cpu_count() or 1
    job = partial(_process_one, options=options, max_tokens=max_tokens, transform=transform)
    chunks = [texts[start : start + CHUNK_SIZE] for start in range(0, len(texts), CHUNK_SIZE)]
    results: list[Any] = []
    if workers == 1 or len(texts) < PARALLEL_MIN_TEXTS or not _can_fork():
        for chunk in chunks:
            results.extend(job(text) for text in chunk)
            if progress:
                progress(len(chunk))
        return results
    _tokenizer()  # Loaded once here, the forked workers share it (and its cache) instead of each loading it.
    with multiprocessing.get_context("fork").Pool(workers, initializer=_start_worker, initargs=(job,)) as pool:
        for chunk_results in pool.imap(_run_chunk, chunks):
            results.extend(chunk_results)
            if progress:
                progress(len(chunk_results))
    return results
