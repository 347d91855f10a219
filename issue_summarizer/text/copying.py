"""Extended vocabularies that let a pointer-generator copy body words into a title.

See et al. (2017): each example extends the title vocabulary with the body words it does
not know. A body word gets its title-vocabulary id when it has one, and otherwise the id
`len(title_vocabulary) + k`, where k numbers that body's unknown words in order of first
appearance. Title words get the same ids, so a title word that is rare for the vocabulary
but present in the body (an identifier, an error code) becomes a target the model can copy.
"""

from __future__ import annotations

from collections.abc import Sequence

from issue_summarizer.text.vocabulary import END_ID, RARE_ID, START_ID, Vocabulary


def extend_body(tokens: Sequence[str], title_vocabulary: Vocabulary) -> tuple[list[int], list[str]]:
    """Extended ids of a (truncated) body's tokens, and the body's unknown words in id order."""
    base = len(title_vocabulary)
    unknown: dict[str, int] = {}
    ids = []
    for token in tokens:
        known = title_vocabulary.index.get(token)
        if known is None or known == RARE_ID:
            known = base + unknown.setdefault(token, len(unknown))
        ids.append(known)
    return ids, list(unknown)


def extend_title(tokens: Sequence[str], title_vocabulary: Vocabulary, body_unknown: Sequence[str]) -> list[int]:
    """Extended ids of a title, with markers; words in neither vocabulary nor body are rare."""
    base = len(title_vocabulary)
    position = {word: base + offset for offset, word in enumerate(body_unknown)}
    ids = []
    for token in tokens:
        known = title_vocabulary.index.get(token)
        ids.append(known if known is not None else position.get(token, RARE_ID))
    return [START_ID, *ids, END_ID]


def words_from_ids(
    ids: Sequence[int], title_vocabulary: Vocabulary, body_unknown: Sequence[str], show_rare: bool = False
) -> list[str]:
    """Title words for extended ids: vocabulary words, or body words for ids past the vocabulary."""
    base = len(title_vocabulary)
    words = []
    for token_id in ids:
        if token_id >= base:
            offset = token_id - base
            if offset < len(body_unknown):
                words.append(body_unknown[offset])
            elif show_rare:
                words.append(title_vocabulary.tokens[RARE_ID])
        else:
            words.extend(title_vocabulary.decode([token_id], show_rare=show_rare))
    return words


def to_decoder_input(ids, vocabulary_size: int):
    """Copied ids fed back to the decoder become the rare-word id: its embedding knows no others."""
    import numpy as np

    ids = np.asarray(ids)
    return np.where(ids >= vocabulary_size, RARE_ID, ids).astype(np.int32)
