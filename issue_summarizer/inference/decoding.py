"""Batched greedy decoding and beam search over a one-step decoder.

Both work on any `step(previous_ids, state) -> (probabilities, new_state)` function, where
`previous_ids` has shape (batch, 1), so they can be tested without a trained model. A whole
batch advances one token per step; nothing loops over issues in Python.

Given `TitleRules`, both finish titles as people write them (`text/title_form.py`): a title
may not end on a function word or with a quote, backtick or bracket open, a closing mark is
written only to close what is open, `:` does not close a leading prefix that the body never
names, and a title that reaches the length limit is backed off to its last complete phrase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from issue_summarizer.text.cleaning import CODE_TOKEN, EMAIL_TOKEN, NUMBER_TOKEN
from issue_summarizer.text.detokenization import detokenize
from issue_summarizer.text.title_form import (
    CLOSING,
    MARK_CHARACTERS,
    SENTENCE_MARKS,
    Prefix,
    advance_marks,
    closing_mark,
    leading_prefix,
    may_end_after,
    names_all,
)
from issue_summarizer.text.vocabulary import END_ID, PAD_ID, RARE_ID, START_ID

Step = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NEG_INF = -1e9


@dataclass(frozen=True)
class DecodingOptions:
    """How titles are generated.

    `beam_width=1` is greedy decoding. Scores are summed log-probabilities divided by
    `length ** length_penalty` (0 compares raw sums, 1 compares averages per token).
    `no_repeat_ngram_size=n` forbids any n-gram from appearing twice in a title.
    `finish_titles` applies the `TitleRules` a caller passes (off: titles as the model writes them).
    """

    beam_width: int = 1
    max_length: int = 12
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_alternatives: int = 1
    allow_rare: bool = False
    finish_titles: bool = True

    def __post_init__(self) -> None:
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {self.beam_width}")
        if self.max_length < 1 or self.min_length < 0 or self.min_length > self.max_length:
            raise ValueError(f"need 0 <= min_length <= max_length and max_length >= 1, got {self}")
        if not 1 <= self.num_alternatives <= self.beam_width:
            raise ValueError("num_alternatives must be between 1 and beam_width")


# The settings `python -m issue_summarizer tune` chooses and metrics files record.
TUNED_SETTINGS = ("beam_width", "length_penalty", "no_repeat_ngram_size", "min_length")


@dataclass
class Hypothesis:
    ids: list[int]
    log_probability: float
    score: float
    finished: bool = True  # False when the title hit the length limit instead of ending.
    # Beam search only: the decoder batch row that computed each step of this title (its words,
    # then <end> when finished). Beams change rows every step; this lets a caller pick out what
    # each step attended to.
    rows: tuple[int, ...] = ()


# Tokens that may end a leading tag (`bug :`, `[ bug ]`, `bug -`), after which a prefix may start.
_TAG_SEPARATORS = frozenset({":", "]", "-"})


def _is_word(token: str) -> bool:
    return token[:1].isalnum() and token[-1:].isalnum()


@dataclass(frozen=True, eq=False)
class TokenForms:
    """What each token of a title vocabulary means for a title's form; computed once per vocabulary.

    `ends_badly[id]`: a title may not stop right after the token (a function word or `,`).
    `mark_ids`: tokens that open or close a quote, backtick or bracket. `closers`: for each open
    mark, the id of the token that closes it. `bracket_closers`: closing bracket ids and the
    bracket each closes; they are written only when that bracket is the innermost one open.
    `dropped_ids`: placeholders that restoration always drops (code, e-mail addresses), so a
    title holding one would read with a hole; `number` is dropped too when the body has no number.
    """

    tokens: tuple[str, ...]
    ends_badly: np.ndarray
    contextual_ids: frozenset[int]
    mark_ids: frozenset[int]
    closers: dict[str, int]
    bracket_closers: dict[int, str]
    colon: int | None
    dropped_ids: tuple[int, ...] = ()
    number: int | None = None

    @classmethod
    def from_tokens(cls, tokens: Sequence[str]) -> TokenForms:
        tokens = tuple(tokens)
        index = {token: token_id for token_id, token in enumerate(tokens)}
        ends_badly = np.array([not may_end_after(token) for token in tokens], dtype=bool)
        ends_badly[[PAD_ID, START_ID, END_ID]] = False
        openers = ("(", "[", "{", '"', "'", "`", "\u201c", "\u2018")
        closers = {mark: index[closing_mark(mark)] for mark in openers if closing_mark(mark) in index}
        # Marks that close only what they pair with; a straight quote may also open, and `’` is
        # also an apostrophe, so those two are left to `advance_marks`.
        paired = {**CLOSING, "\u201d": "\u201c"}
        return cls(
            tokens=tokens,
            ends_badly=ends_badly,
            # Whether a title may stop after "'s" depends on the word before it ("it 's").
            contextual_ids=frozenset(index[token] for token in ("'s", "\u2019s") if token in index),
            mark_ids=frozenset(
                token_id for token_id, token in enumerate(tokens) if MARK_CHARACTERS.intersection(token)
            ),
            closers=closers,
            bracket_closers={index[mark]: opener for mark, opener in paired.items() if mark in index},
            colon=index.get(":"),
            dropped_ids=tuple(index[token] for token in (CODE_TOKEN, EMAIL_TOKEN) if token in index),
            number=index.get(NUMBER_TOKEN),
        )


@dataclass(frozen=True, eq=False)
class TitleRules:
    """What decoding needs to hold one batch's titles to `text/title_form.py`'s rules.

    `copied_words[i]` are the words of issue i's ids past the vocabulary (the body words it can
    copy), `body_words[i]` the words its body holds (`title_form.body_words`); without them
    prefixes are not checked.
    """

    forms: TokenForms
    copied_words: Sequence[Sequence[str]]
    body_words: Sequence[frozenset[str]] | None = None

    def __post_init__(self) -> None:
        if self.body_words is not None and len(self.copied_words) != len(self.body_words):
            raise ValueError("copied_words and body_words need one entry per issue")

    def word(self, issue: int, token_id: int) -> str:
        """The text of a token id in issue `issue`'s extended vocabulary ("" for one it does not hold)."""
        tokens = self.forms.tokens
        if token_id < len(tokens):
            return tokens[token_id]
        copied = self.copied_words[issue]
        offset = token_id - len(tokens)
        return copied[offset] if offset < len(copied) else ""


class _Form(NamedTuple):
    """A partial title's form: the marks open, and its longest prefix that may end a title."""

    length: int = 0
    stack: tuple[str, ...] = ()
    complete: int = 0  # The longest prefix that may end the title (0: none yet).
    complete_total: float = 0.0  # That prefix's summed log-probability.
    last: str | None = None  # The last token's text.
    # Two words in a row since the last tag separator: the title no longer starts with a prefix.
    past_prefix: bool = False


def _advance(rules: TitleRules, form: _Form, issue: int, token_id: int, total: float) -> _Form:
    """The form after one more token; `total` is the title's summed log-probability with it."""
    forms = rules.forms
    word = rules.word(issue, token_id)
    known = token_id < len(forms.tokens)
    stack = form.stack
    if token_id in forms.mark_ids or (not known and MARK_CHARACTERS.intersection(word)):
        stack = advance_marks(stack, word, form.last)
    if word in SENTENCE_MARKS:
        can_end = form.length > 0 and form.complete == form.length
    elif known and token_id not in forms.contextual_ids:
        can_end = not forms.ends_badly[token_id]
    else:
        can_end = may_end_after(word, form.last)
    length = form.length + 1
    past_prefix = word not in _TAG_SEPARATORS and (
        form.past_prefix or (form.last is not None and _is_word(form.last) and _is_word(word))
    )
    if can_end and not stack:
        return _Form(length, stack, length, total, word, past_prefix)
    return _Form(length, stack, form.complete, form.complete_total, word, past_prefix)


@lru_cache(maxsize=1 << 16)
def _prefix_closed_by_colon(words: tuple[str, ...]) -> Prefix | None:
    """The leading prefix that a `:` after these title words would close, or None.

    The words are joined as restoration joins them (`x / mobile - test` reads `x/mobile-test`).
    """
    if leading_prefix(detokenize(list(words))) is not None:
        return None  # An earlier colon closed the prefix already.
    return leading_prefix(detokenize([*words, ":"]))


def _hold_to_form(
    log_probabilities: np.ndarray,
    unblocked_closers: np.ndarray,
    rules: TitleRules,
    forms: list[_Form],
    histories: list[list[int]],
    issue_of_row: Callable[[int], int],
) -> None:
    """Mask, for each row, the tokens that would break the title's form (see the module docstring).

    `unblocked_closers` holds the closing tokens' log-probabilities before repeated n-grams were
    blocked: a closing quote repeats the opening one, and a title with no repeated words must
    still be able to close it.
    """
    token_forms = rules.forms
    rows = len(forms)
    log_probabilities[:, list(token_forms.dropped_ids)] = NEG_INF
    if token_forms.number is not None and rules.body_words is not None:
        numberless = [row for row in range(rows) if NUMBER_TOKEN not in rules.body_words[issue_of_row(row)]]
        log_probabilities[numberless, token_forms.number] = NEG_INF
    unfinished = np.fromiter((form.complete != form.length for form in forms), dtype=bool, count=rows)
    log_probabilities[unfinished, END_ID] = NEG_INF
    tops = [form.stack[-1] if form.stack else None for form in forms]
    for closer, opener in token_forms.bracket_closers.items():
        wrong = np.fromiter((top != opener for top in tops), dtype=bool, count=rows)
        log_probabilities[wrong, closer] = NEG_INF
    open_rows: dict[str, list[int]] = {}
    for row, top in enumerate(tops):
        if top is not None:
            open_rows.setdefault(top, []).append(row)
    # `unblocked_closers` has one column per open mark, in the order of `closers`.
    for column, (mark, closer) in enumerate(token_forms.closers.items()):
        if mark in open_rows:
            log_probabilities[open_rows[mark], closer] = unblocked_closers[open_rows[mark], column]
    colon = token_forms.colon
    if colon is None or rules.body_words is None:
        return
    for row, form in enumerate(forms):
        # A prefix is one path after any tags (`cmd / gc`): two words in a row, as in most titles, end the check.
        if form.past_prefix or form.length == 0 or log_probabilities[row, colon] <= NEG_INF / 2:
            continue
        issue = issue_of_row(row)
        prefix = _prefix_closed_by_colon(tuple(rules.word(issue, token) for token in histories[row]))
        if prefix is not None and not names_all(prefix.words, rules.body_words[issue]):
            log_probabilities[row, colon] = NEG_INF


def _closer_columns(log_probabilities: np.ndarray, rules: TitleRules | None) -> np.ndarray | None:
    if rules is None:
        return None
    return log_probabilities[:, list(rules.forms.closers.values())].copy()


def _backed_off(history: list[int], total: float, form: _Form | None) -> tuple[list[int], float]:
    """A title cut by the length limit, backed off to its last complete phrase when it has one."""
    if form is None or not 0 < form.complete < len(history):
        return list(history), total
    return history[: form.complete], form.complete_total


def _log_probabilities(probabilities: np.ndarray, options: DecodingOptions, length: int) -> np.ndarray:
    """Log-probabilities with tokens that must not be produced at this step masked out."""
    # float32 like the model's output: float64 would double the cost of the largest array per step.
    log_probabilities = np.log(np.maximum(probabilities.astype(np.float32, copy=False), np.float32(1e-12)))
    log_probabilities[:, [PAD_ID, START_ID]] = NEG_INF
    if not options.allow_rare:
        log_probabilities[:, RARE_ID] = NEG_INF
    if length < options.min_length:
        log_probabilities[:, END_ID] = NEG_INF
    return log_probabilities


def _block_repeated_ngrams(log_probabilities: np.ndarray, histories: list[list[int]], size: int) -> None:
    """Forbid, for each row, every token that would complete an n-gram the row already holds."""
    if size < 1:
        return
    for row, history in enumerate(histories):
        if len(history) < size - 1:
            continue
        prefix = tuple(history[len(history) - size + 1 :]) if size > 1 else ()
        for start in range(len(history) - size + 1):
            if tuple(history[start : start + size - 1]) == prefix:
                log_probabilities[row, history[start + size - 1]] = NEG_INF


def _score(log_probability: float, length: int, options: DecodingOptions) -> float:
    return log_probability / max(length, 1) ** options.length_penalty


def _cannot_improve(finished: list[Hypothesis], best_live_total: float, length: int, options: DecodingOptions) -> bool:
    """True once `beam_width` titles are finished and even the best live one scores below them.

    Log-probabilities only fall as a title grows, so the best live title's current score is
    an upper bound for a length penalty of 0 and a good heuristic (Hugging Face's) otherwise.
    """
    if len(finished) < options.beam_width:
        return False
    worst_kept = sorted((hypothesis.score for hypothesis in finished), reverse=True)[options.beam_width - 1]
    return worst_kept >= _score(best_live_total, length, options)


def _active_rules(rules: TitleRules | None, options: DecodingOptions, batch: int) -> TitleRules | None:
    if rules is None or not options.finish_titles:
        return None
    if len(rules.copied_words) != batch:
        raise ValueError(f"the title rules cover {len(rules.copied_words)} issues, the batch holds {batch}")
    return rules


def greedy_decode(
    step: Step, initial_state: np.ndarray, options: DecodingOptions, rules: TitleRules | None = None
) -> list[list[Hypothesis]]:
    """Pick the most probable token at every step, for a whole batch at once."""
    batch = initial_state.shape[0]
    rules = _active_rules(rules, options, batch)
    state = initial_state
    previous = np.full((batch, 1), START_ID, dtype=np.int32)
    histories: list[list[int]] = [[] for _ in range(batch)]
    forms = [_Form() for _ in range(batch)]
    totals = np.zeros(batch)
    finished = np.zeros(batch, dtype=bool)
    for length in range(options.max_length):
        probabilities, state = step(previous, state)
        log_probabilities = _log_probabilities(np.asarray(probabilities), options, length)
        unblocked = _closer_columns(log_probabilities, rules)
        _block_repeated_ngrams(log_probabilities, histories, options.no_repeat_ngram_size)
        if rules is not None:
            _hold_to_form(log_probabilities, unblocked, rules, forms, histories, lambda row: row)
        chosen = log_probabilities.argmax(axis=1)
        for row in np.flatnonzero(~finished):
            totals[row] += log_probabilities[row, chosen[row]]
            if chosen[row] == END_ID:
                finished[row] = True
            else:
                histories[row].append(int(chosen[row]))
                if rules is not None:
                    forms[row] = _advance(rules, forms[row], row, int(chosen[row]), float(totals[row]))
        if finished.all():
            break
        previous = chosen.reshape(batch, 1).astype(np.int32)
        state = np.asarray(state)
    results = []
    for row in range(batch):
        ids, total = histories[row], float(totals[row])
        if not finished[row]:
            ids, total = _backed_off(ids, total, forms[row] if rules is not None else None)
        # A finished title's length counts its <end> token, as in beam search.
        length = len(ids) + int(finished[row])
        results.append([Hypothesis(ids, total, _score(total, length, options), bool(finished[row]))])
    return results


def _top_candidates(candidates: np.ndarray, count: int) -> np.ndarray:
    """Column indices of each row's `count` largest values, largest first, ties by lower index.

    A partial partition first: sorting all beam × vocabulary candidates at every step would
    cost more than the model itself.
    """
    count = min(count, candidates.shape[1])
    if count < candidates.shape[1]:
        top = np.argpartition(-candidates, count - 1, axis=1)[:, :count]
    else:
        top = np.tile(np.arange(count), (len(candidates), 1))
    values = np.take_along_axis(candidates, top, axis=1)
    order = np.lexsort((top, -values), axis=1)
    return np.take_along_axis(top, order, axis=1)


def beam_search(
    step: Step, initial_state: np.ndarray, options: DecodingOptions, rules: TitleRules | None = None
) -> list[list[Hypothesis]]:
    """Keep the `beam_width` best partial titles per issue; return the best finished ones, best first.

    The batch of issues and their beams are flattened into one decoder batch. A hypothesis
    finishes when `<end>` is among the top `beam_width` candidates of its issue. An issue is done
    once it has `beam_width` finished hypotheses and no live one can still score better, so a
    width of 1 is exactly greedy.
    """
    width = options.beam_width
    batch = initial_state.shape[0]
    rules = _active_rules(rules, options, batch)
    state = np.repeat(initial_state, width, axis=0)
    previous = np.full((batch * width, 1), START_ID, dtype=np.int32)
    # Only the first beam of each issue is live at the start, so duplicates are not explored.
    beam_scores = np.full((batch, width), NEG_INF)
    beam_scores[:, 0] = 0.0
    histories: list[list[int]] = [[] for _ in range(batch * width)]
    trails: list[list[int]] = [[] for _ in range(batch * width)]
    forms = [_Form() for _ in range(batch * width)]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for length in range(options.max_length):
        probabilities, state = step(previous, state)
        state = np.asarray(state)
        log_probabilities = _log_probabilities(np.asarray(probabilities), options, length)
        unblocked = _closer_columns(log_probabilities, rules)
        _block_repeated_ngrams(log_probabilities, histories, options.no_repeat_ngram_size)
        if rules is not None:
            _hold_to_form(log_probabilities, unblocked, rules, forms, histories, lambda row: row // width)
        vocabulary = log_probabilities.shape[1]
        candidates = (beam_scores.reshape(-1, 1) + log_probabilities).reshape(batch, width * vocabulary)
        top = _top_candidates(candidates, 2 * width)
        next_previous = np.full((batch * width, 1), PAD_ID, dtype=np.int32)
        next_scores = np.full((batch, width), NEG_INF)
        next_histories: list[list[int]] = [[] for _ in range(batch * width)]
        next_trails: list[list[int]] = [[] for _ in range(batch * width)]
        next_forms = [_Form() for _ in range(batch * width)]
        source_rows = np.zeros(batch * width, dtype=np.int64)
        for issue in range(batch):
            if done[issue]:
                continue
            filled = 0
            for rank, flat in enumerate(top[issue]):
                total = candidates[issue, flat]
                if total <= NEG_INF / 2:
                    break
                beam, token = divmod(int(flat), vocabulary)
                source = issue * width + beam
                history = histories[source]
                if token == END_ID:
                    if rank < width:
                        score = _score(total, len(history) + 1, options)
                        finished[issue].append(Hypothesis(list(history), total, score, rows=(*trails[source], source)))
                    continue
                row = issue * width + filled
                next_previous[row, 0] = token
                next_scores[issue, filled] = total
                next_histories[row] = history + [token]
                next_trails[row] = trails[source] + [source]
                if rules is not None:
                    next_forms[row] = _advance(rules, forms[source], issue, token, float(total))
                source_rows[row] = source
                filled += 1
                if filled == width:
                    break
            done[issue] = filled == 0 or _cannot_improve(finished[issue], next_scores[issue].max(), length + 1, options)
        if done.all():
            break
        state = state[source_rows]
        previous, beam_scores, histories, trails = next_previous, next_scores, next_histories, next_trails
        forms = next_forms
    results = []
    for issue in range(batch):
        hypotheses = list(finished[issue])
        if not done[issue]:
            # Titles still open at max_length compete too, backed off to their last complete phrase.
            for beam in range(width):
                total = beam_scores[issue, beam]
                if total > NEG_INF / 2:
                    row = issue * width + beam
                    ids, total = _backed_off(histories[row], float(total), forms[row] if rules is not None else None)
                    score = _score(total, len(ids), options)
                    rows = tuple(trails[row][: len(ids)])
                    hypotheses.append(Hypothesis(ids, total, score, finished=False, rows=rows))
        # Finished titles come first: the length limit is a safety net, not a way for a title to end.
        hypotheses.sort(key=lambda hypothesis: (not hypothesis.finished, -hypothesis.score))
        # Two cut titles can back off to the same phrase; the better-ranked one stands for both.
        seen: set[tuple[int, ...]] = set()
        distinct = [h for h in hypotheses if not (tuple(h.ids) in seen or seen.add(tuple(h.ids)))]
        results.append(distinct[: options.num_alternatives])
    return results


def decode(
    step: Step, initial_state: np.ndarray, options: DecodingOptions, rules: TitleRules | None = None
) -> list[list[Hypothesis]]:
    """Greedy decoding for a width of 1 (faster, same result), beam search otherwise."""
    if options.beam_width == 1:
        return greedy_decode(step, initial_state, options, rules)
    return beam_search(step, initial_state, options, rules)
