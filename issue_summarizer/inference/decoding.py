"""Batched greedy decoding and beam search over a one-step decoder.

Both work on any `step(previous_ids, state) -> (probabilities, new_state)` function, where
`previous_ids` has shape (batch, 1), so they can be tested without a trained model. A whole
batch advances one token per step; nothing loops over issues in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from issue_summarizer.text.vocabulary import END_ID, PAD_ID, RARE_ID, START_ID

Step = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NEG_INF = -1e9


@dataclass(frozen=True)
class DecodingOptions:
    """How titles are generated.

    `beam_width=1` is greedy decoding. Scores are summed log-probabilities divided by
    `length ** length_penalty` (0 compares raw sums, 1 compares averages per token).
    `no_repeat_ngram_size=n` forbids any n-gram from appearing twice in a title.
    """

    beam_width: int = 1
    max_length: int = 12
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    num_alternatives: int = 1
    allow_rare: bool = False

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


def greedy_decode(step: Step, initial_state: np.ndarray, options: DecodingOptions) -> list[list[Hypothesis]]:
    """Pick the most probable token at every step, for a whole batch at once."""
    batch = initial_state.shape[0]
    state = initial_state
    previous = np.full((batch, 1), START_ID, dtype=np.int32)
    histories: list[list[int]] = [[] for _ in range(batch)]
    totals = np.zeros(batch)
    finished = np.zeros(batch, dtype=bool)
    for length in range(options.max_length):
        probabilities, state = step(previous, state)
        log_probabilities = _log_probabilities(np.asarray(probabilities), options, length)
        _block_repeated_ngrams(log_probabilities, histories, options.no_repeat_ngram_size)
        chosen = log_probabilities.argmax(axis=1)
        for row in np.flatnonzero(~finished):
            totals[row] += log_probabilities[row, chosen[row]]
            if chosen[row] == END_ID:
                finished[row] = True
            else:
                histories[row].append(int(chosen[row]))
        if finished.all():
            break
        previous = chosen.reshape(batch, 1).astype(np.int32)
        state = np.asarray(state)
    # A finished title's length counts its <end> token, as in beam search.
    lengths = [len(histories[row]) + int(finished[row]) for row in range(batch)]
    return [
        [
            Hypothesis(
                histories[row], float(totals[row]), _score(totals[row], lengths[row], options), bool(finished[row])
            )
        ]
        for row in range(batch)
    ]


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


def beam_search(step: Step, initial_state: np.ndarray, options: DecodingOptions) -> list[list[Hypothesis]]:
    """Keep the `beam_width` best partial titles per issue; return the best finished ones, best first.

    The batch of issues and their beams are flattened into one decoder batch. A hypothesis
    finishes when `<end>` is among the top `beam_width` candidates of its issue. An issue is done
    once it has `beam_width` finished hypotheses and no live one can still score better, so a
    width of 1 is exactly greedy.
    """
    width = options.beam_width
    batch, hidden = initial_state.shape
    state = np.repeat(initial_state, width, axis=0)
    previous = np.full((batch * width, 1), START_ID, dtype=np.int32)
    # Only the first beam of each issue is live at the start, so duplicates are not explored.
    beam_scores = np.full((batch, width), NEG_INF)
    beam_scores[:, 0] = 0.0
    histories: list[list[int]] = [[] for _ in range(batch * width)]
    trails: list[list[int]] = [[] for _ in range(batch * width)]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for length in range(options.max_length):
        probabilities, state = step(previous, state)
        state = np.asarray(state)
        log_probabilities = _log_probabilities(np.asarray(probabilities), options, length)
        _block_repeated_ngrams(log_probabilities, histories, options.no_repeat_ngram_size)
        vocabulary = log_probabilities.shape[1]
        candidates = (beam_scores.reshape(-1, 1) + log_probabilities).reshape(batch, width * vocabulary)
        top = _top_candidates(candidates, 2 * width)
        next_previous = np.full((batch * width, 1), PAD_ID, dtype=np.int32)
        next_scores = np.full((batch, width), NEG_INF)
        next_histories: list[list[int]] = [[] for _ in range(batch * width)]
        next_trails: list[list[int]] = [[] for _ in range(batch * width)]
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
                source_rows[row] = source
                filled += 1
                if filled == width:
                    break
            done[issue] = filled == 0 or _cannot_improve(finished[issue], next_scores[issue].max(), length + 1, options)
        if done.all():
            break
        state = state[source_rows]
        previous, beam_scores, histories, trails = next_previous, next_scores, next_histories, next_trails
    results = []
    for issue in range(batch):
        hypotheses = list(finished[issue])
        if not done[issue]:
            # Titles still open at max_length compete too, scored as they stand.
            for beam in range(width):
                total = beam_scores[issue, beam]
                if total > NEG_INF / 2:
                    row = issue * width + beam
                    history = histories[row]
                    score = _score(total, len(history), options)
                    hypotheses.append(Hypothesis(list(history), total, score, finished=False, rows=tuple(trails[row])))
        # Finished titles come first: the length limit is a safety net, not a way for a title to end.
        hypotheses.sort(key=lambda hypothesis: (not hypothesis.finished, -hypothesis.score))
        results.append(hypotheses[: options.num_alternatives])
    return results


def decode(step: Step, initial_state: np.ndarray, options: DecodingOptions) -> list[list[Hypothesis]]:
    """Greedy decoding for a width of 1 (faster, same result), beam search otherwise."""
    if options.beam_width == 1:
        return greedy_decode(step, initial_state, options)
    return beam_search(step, initial_state, options)
