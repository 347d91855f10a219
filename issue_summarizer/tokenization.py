"""Clean and tokenize texts with spaCy's rule-based English tokenizer, in parallel.

`spacy.blank("en")` needs no model download. Its tokenizer first splits on whitespace
and then applies its rules to each piece on its own, so the tokens of a text cut at a
whitespace boundary are exactly a prefix of the tokens of the whole text. That is what
makes `clean_and_tokenize(..., max_tokens=70)` fast: it cleans and tokenizes only as much
of each body as the model will read, widening the window whenever a cut leaves too few
tokens, and gives the same tokens as processing the whole body.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

from issue_summarizer.cleaning import CleaningOptions, clean_text

# A raw body yields roughly one token per 6-8 characters once cleaned, and cleaning removes
# code blocks, so the first window is generous; later windows grow fourfold.
RAW_CHARS_PER_TOKEN = 16
CLEAN_CHARS_PER_TOKEN = 7
# Extra tokens required past max_tokens before a cut window is trusted: the last line of a
# cut window may end in the middle of a construct that cleaning treats differently.
SAFETY_TOKENS = 8
PARALLEL_MIN_TEXTS = 2000
CHUNK_SIZE = 256


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def tokenize(text: str) -> list[str]:
    """Split already-cleaned text into spaCy tokens, dropping whitespace tokens."""
    return [token.text for token in _tokenizer()(text) if not token.is_space]


def _cut_at_whitespace(text: str, limit: int) -> tuple[str, bool]:
    """Return the text cut at the last line break (or space) before `limit`, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    if cut <= 0:
        cut = limit
    return text[:cut], True


def clean_and_tokenize_one(text: str, options: CleaningOptions, max_tokens: int | None = None) -> list[str]:
    """Clean and tokenize one text; with `max_tokens`, return only its first `max_tokens` tokens."""
    if max_tokens is None:
        return tokenize(clean_text(text, options))
    needed = max_tokens + SAFETY_TOKENS
    raw_limit = needed * RAW_CHARS_PER_TOKEN
    while True:
        raw, raw_was_cut = _cut_at_whitespace(text, raw_limit)
        cleaned = clean_text(raw, options)
        clean_window, clean_was_cut = _cut_at_whitespace(cleaned, needed * CLEAN_CHARS_PER_TOKEN)
        tokens = tokenize(clean_window)
        if clean_was_cut and len(tokens) < needed:
            tokens = tokenize(cleaned)
        if len(tokens) >= needed or not raw_was_cut:
            return tokens[:max_tokens]
        raw_limit *= 4


def _work_chunk(chunk: Sequence[str], options: CleaningOptions, max_tokens: int | None) -> list[list[str]]:
    return [clean_and_tokenize_one(text, options, max_tokens) for text in chunk]


def _pool_context() -> multiprocessing.context.BaseContext:
    # Forking a process that has already started TensorFlow's thread pools can deadlock,
    # so fall back to the slower "spawn" start once TensorFlow is loaded.
    if "tensorflow" in sys.modules or sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def clean_and_tokenize(
    texts: Sequence[str],
    options: CleaningOptions = CleaningOptions(),
    max_tokens: int | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[list[str]]:
    """Clean and tokenize many texts on all cores, keeping their order.

    `progress`, when given, is called with the number of texts finished after each chunk.
    """
    workers = workers or os.cpu_count() or 1
    chunks = [texts[start : start + CHUNK_SIZE] for start in range(0, len(texts), CHUNK_SIZE)]
    work = partial(_work_chunk, options=options, max_tokens=max_tokens)
    results: list[list[str]] = []
    if workers == 1 or len(texts) < PARALLEL_MIN_TEXTS:
        for chunk in chunks:
            results.extend(work(chunk))
            if progress:
                progress(len(chunk))
        return results
    with _pool_context().Pool(workers) as pool:
        for chunk_tokens in pool.imap(work, chunks):
            results.extend(chunk_tokens)
            if progress:
                progress(len(chunk_tokens))
    return results
