"""Text to model inputs: token ids, copy ids, and the body's own form of every token.

Both training (`prepare`) and inference (`Summarizer`) encode text here, so the two read
bodies identically. The ids are the model's view of a body: cleaned, lowercase, numbers as
`xxnum`. Beside them, `surface_forms` keeps how the body itself wrote each token (its case,
its numbers, whether a space followed), so that a title word copied from the body can be
written back as the issue's author wrote it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from issue_summarizer.config import CleaningOptions, SummarizerConfig
from issue_summarizer.text.cleaning import NUMBER_TOKEN
from issue_summarizer.text.copying import extend_body, extend_title
from issue_summarizer.text.padding import pad_sequences
from issue_summarizer.text.tokenization import clean_and_tokenize, surface_tokens_one
from issue_summarizer.text.vocabulary import Vocabulary

# A token the number rule turns into `xxnum` (the rule itself decides in context; this only
# recognises its result when lining the two token lists up).
_NUMBER_FORM = re.compile(r"[-+]?\d+(?:[.,:]\d+)*")


def pad_bodies(ids: list[list[int]], config: SummarizerConfig) -> np.ndarray:
    return pad_sequences(ids, config.body_length, padding=config.body_padding, truncating=config.body_truncating)


def encode_bodies(tokens: list[list[str]], vocabulary: Vocabulary, config: SummarizerConfig) -> np.ndarray:
    return pad_bodies([vocabulary.encode(document) for document in tokens], config)


def encode_texts(
    texts: list[str], vocabulary: Vocabulary, config: SummarizerConfig, workers: int | None = None
) -> np.ndarray:
    """Raw bodies to padded ids in one pass: clean, tokenize and encode run in the worker processes."""
    ids = clean_and_tokenize(
        texts, config.cleaning, max_tokens=config.body_length, workers=workers, transform=vocabulary.encode
    )
    return pad_bodies(ids, config)


def pad_titles(encoded: list[list[int]], config: SummarizerConfig) -> np.ndarray:
    # Truncation keeps the end marker: a title cut short must still teach the model to stop.
    length = config.title_length
    encoded = [ids[: length - 1] + ids[-1:] if len(ids) > length else ids for ids in encoded]
    return pad_sequences(encoded, length, padding=config.title_padding, truncating=config.title_truncating)


def encode_titles(tokens: list[list[str]], vocabulary: Vocabulary, config: SummarizerConfig) -> np.ndarray:
    return pad_titles([vocabulary.encode(document) for document in tokens], config)


def encode_for_copying(
    body_tokens: list[list[str]], title_tokens: list[list[str]] | None, vocabulary: Vocabulary, config: SummarizerConfig
) -> tuple[np.ndarray, np.ndarray | None, list[list[str]]]:
    """Copy ids of bodies (aligned with their padded ids), extended title ids, and each body's unknown words."""
    copy_ids, unknown_words = (
        zip(*(extend_body(tokens, vocabulary) for tokens in body_tokens), strict=True) if body_tokens else ((), ())
    )
    titles = None
    if title_tokens is not None:
        extended = [extend_title(t, vocabulary, u) for t, u in zip(title_tokens, unknown_words, strict=True)]
        titles = pad_titles(extended, config)
    return pad_bodies(list(copy_ids), config), titles, list(unknown_words)


@dataclass(frozen=True)
class SurfaceToken:
    """One body token as the body wrote it, and whether a space followed it there."""

    text: str
    space_after: bool


def _model_form(surface: str, options: CleaningOptions) -> str:
    if options.replace_numbers and _NUMBER_FORM.fullmatch(surface):
        return NUMBER_TOKEN
    return surface.lower() if options.lowercase else surface


def _matches(model: str, surface: str, options: CleaningOptions) -> bool:
    # The number rule looks at a number's neighbours, so a number it leaves alone (such as the
    # 5 in "file.5") is read as itself.
    return model == _model_form(surface, options) or model == _model_form(surface, options).replace(
        NUMBER_TOKEN, surface
    )


def surface_forms(text: str, tokens: list[str], options: CleaningOptions) -> list[SurfaceToken]:
    """The body's own form of each of `tokens` (the model's tokens of `text`), position by position.

    The text is cleaned again keeping case and numbers, which gives the same tokens in almost
    every body. Where a token differs in more than case or number (rare: a tokenizer rule that
    depends on case), the two lists are lined up and an unmatched token keeps the model's form.
    """
    surface, spaces = surface_tokens_one(text, options, max_tokens=len(tokens))
    if len(surface) == len(tokens) and all(_matches(m, s, options) for m, s in zip(tokens, surface, strict=True)):
        return [SurfaceToken(form, space) for form, space in zip(surface, spaces, strict=True)]
    result = [SurfaceToken(token, True) for token in tokens]
    normalised = [_model_form(token, options) for token in surface]
    matcher = difflib.SequenceMatcher(a=list(tokens), b=normalised, autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            result[block.a + offset] = SurfaceToken(surface[block.b + offset], spaces[block.b + offset])
    return result
