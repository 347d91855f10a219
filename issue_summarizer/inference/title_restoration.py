"""From the model's title tokens to a title a person reads.

The model writes lowercase spaCy tokens with placeholders (`xxnum`), so its raw output reads
`platform : xxnum -bit ( windows ) does n't work`. Restoring it takes four steps:

1. **Surface forms.** A title word that equals a body token is written as the body wrote it
   (`ERR_OSSL_EVP_UNSUPPORTED`, `d.getMonth`, `Windows`). Where the body holds it several
   times, the occurrence the model attended to most while writing that word wins. A generated
   `xxnum` becomes the number at the most-attended body position holding one; a placeholder
   with no such position (and every `xxcode` and `xxemail`) is dropped, as are the markers.
2. **Spacing.** Words copied from consecutive body positions that the body wrote together stay
   together (`64-bit`, `v1.2.3rc1`); every other gap follows `detokenization.detokenize`'s rules
   (`doesn't`, `f.read()`).
3. **Template tags.** Leading tags such as `[Bug]` or `fix(scope):` are removed
   (`title_tags.strip_title_tags`): the shipped model learned to stamp them on any title.
4. **Unfinished titles.** A title that hit the length limit instead of ending is cut back to
   its last complete phrase, so it does not end in "crashes when the" or with a bracket open
   (`title_form.last_complete_phrase`; decoding backs off the same way, so this only acts on
   titles decoded without `finish_titles`).

Generated words keep the model's lowercase; the first letter of the title is capitalised when
`capitalize` is set (the choice is measured by `bench/quality.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from issue_summarizer.text.cleaning import NUMBER_TOKEN, PLACEHOLDERS
from issue_summarizer.text.detokenization import detokenize
from issue_summarizer.text.encoding import SurfaceToken
from issue_summarizer.text.title_form import last_complete_phrase
from issue_summarizer.text.title_tags import strip_title_tags
from issue_summarizer.text.vocabulary import END, PAD, RARE, START

MARKERS = frozenset({PAD, RARE, START, END})
SENTENCE_ENDS = frozenset(".?!")


@dataclass(frozen=True)
class RestoredWord:
    """One word of a restored title: its text and the body position it was written from, if any."""

    text: str
    source: int | None


def restore_words(
    words: Sequence[str],
    body_tokens: Sequence[str],
    body_surface: Sequence[SurfaceToken],
    attention: np.ndarray | None = None,
) -> list[RestoredWord]:
    """Each title word in the body's own form, with markers and unresolvable placeholders dropped.

    `attention[i, j]`, when given, is title word i's weight on body token j; without it the
    first occurrence of a word in the body is used.
    """
    positions: dict[str, list[int]] = {}
    for position, token in enumerate(body_tokens):
        positions.setdefault(token, []).append(position)
    restored = []
    previous = -1  # Without attention, a repeated word or number is taken from after the last one used.
    for index, word in enumerate(words):
        if word in MARKERS:
            continue
        candidates = positions.get(word, [])
        if word in PLACEHOLDERS and (word != NUMBER_TOKEN or not candidates):
            continue  # Code blocks and e-mail addresses have no words to show; a number needs a source.
        if not candidates:
            restored.append(RestoredWord(word, None))
            continue
        if attention is not None and index < len(attention):
            source = max(candidates, key=lambda position: attention[index, position])
        else:
            source = next((position for position in candidates if position > previous), candidates[0])
        previous = source
        if body_surface[source].text in PLACEHOLDERS:
            continue  # The body's own form could not be recovered for this position.
        restored.append(RestoredWord(body_surface[source].text, source))
    return restored


def trim_unfinished(words: Sequence[str]) -> list[str]:
    """Cut a title that hit the length limit back to its last complete phrase: no function word at
    the end and no quote or bracket open. A title with no complete phrase stays as it is."""
    complete = last_complete_phrase(words)
    return list(words[:complete]) if complete else list(words)


def restore_title(
    words: Sequence[str],
    body_tokens: Sequence[str],
    body_surface: Sequence[SurfaceToken],
    attention: np.ndarray | None = None,
    finished: bool = True,
    capitalize: bool = False,
) -> str:
    """The title a person reads, from the model's title words and the body they were written from."""
    if not finished:
        words = trim_unfinished(words)
    restored = restore_words(words, body_tokens, body_surface, attention)
    # Cleaning sets some text apart (inline code, a link's domain), so a space between two body
    # tokens may be the cleaner's; the absence of one is certainly the author's, and so is the
    # space after a sentence's last mark ("works fine. But").
    spaces: list[bool | None] = []
    for current, following in zip(restored, restored[1:], strict=False):
        consecutive = current.source is not None and following.source == current.source + 1
        written = body_surface[current.source].space_after if consecutive else None
        spaces.append(written if written is False or (written and current.text in SENTENCE_ENDS) else None)
    title = strip_title_tags(detokenize([word.text for word in restored], spaces))
    return capitalize_first_word(title) if capitalize else title


def capitalize_first_word(title: str) -> str:
    """Start the title with a capital letter when its first word is a plain word.

    An identifier keeps its case ("d.getMonth() returns 0", "v1.2 fails", "[Windows] crash").
    """
    first = title.split(" ", 1)[0]
    if first.isalpha() and first.islower():
        return title[0].upper() + title[1:]
    return title
