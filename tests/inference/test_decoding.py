import numpy as np
import pytest

from issue_summarizer.inference.decoding import DecodingOptions, beam_search, decode, greedy_decode
from issue_summarizer.text.vocabulary import END_ID, PAD_ID, RARE_ID, START_ID

VOCABULARY = 12


def random_step(seed: int = 0):
    """A deterministic fake decoder: next-token probabilities depend on the state and the previous token."""
    rng = np.random.default_rng(seed)
    state_weights = rng.normal(size=(4, VOCABULARY))
    token_weights = rng.normal(size=(VOCABULARY, VOCABULARY)) * 2
    mixing = rng.normal(size=(VOCABULARY, 4)) * 0.5

    def step(previous_ids, state):
        logits = state @ state_weights + token_weights[previous_ids[:, 0]]
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities, np.tanh(state + mixing[previous_ids[:, 0]])

    return step


def states(batch=16, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, 4))


def test_beam_width_one_equals_greedy():
    for seed in range(5):
        options = DecodingOptions(beam_width=1, max_length=10)
        greedy = greedy_decode(random_step(seed), states(seed=seed), options)
        beam = beam_search(random_step(seed), states(seed=seed), options)
        assert [g[0].ids for g in greedy] == [b[0].ids for b in beam]
        assert np.allclose([g[0].score for g in greedy], [b[0].score for b in beam])


def test_wider_beams_find_titles_at_least_as_likely():
    options = DecodingOptions(beam_width=1, max_length=8, length_penalty=0.0)
    greedy = greedy_decode(random_step(), states(), options)
    wide = beam_search(random_step(), states(), DecodingOptions(beam_width=6, max_length=8, length_penalty=0.0))
    assert all(w[0].score >= g[0].score - 1e-9 for w, g in zip(wide, greedy, strict=True))


def test_output_never_holds_special_tokens_and_respects_lengths():
    for width in (1, 4):
        options = DecodingOptions(beam_width=width, max_length=7, min_length=3, num_alternatives=1)
        for hypotheses in decode(random_step(2), states(), options):
            ids = hypotheses[0].ids
            assert not {PAD_ID, RARE_ID, START_ID, END_ID} & set(ids)
            assert 3 <= len(ids) <= 7


def test_rare_marker_only_when_allowed():
    def rare_loving_step(previous_ids, state):
        probabilities = np.full((len(previous_ids), VOCABULARY), 0.01)
        probabilities[:, RARE_ID] = 0.9
        return probabilities, state

    options = DecodingOptions(max_length=3)
    assert RARE_ID not in greedy_decode(rare_loving_step, states(2), options)[0][0].ids
    allowed = DecodingOptions(max_length=3, allow_rare=True)
    assert RARE_ID in greedy_decode(rare_loving_step, states(2), allowed)[0][0].ids


@pytest.mark.parametrize("width", [1, 3])
def test_ngram_blocking_prevents_repeats(width):
    def repeating_step(previous_ids, state):
        probabilities = np.full((len(previous_ids), VOCABULARY), 0.001)
        probabilities[:, 5] = 0.9  # The model always wants the same word.
        return probabilities, state

    repeated = decode(repeating_step, states(2), DecodingOptions(beam_width=width, max_length=6))[0][0]
    if width == 1:
        assert repeated.ids.count(5) == 6 and not repeated.finished
    else:
        # Beam search prefers a title that ended to one that ran into the length limit.
        assert repeated.finished
    for size in (1, 2):
        ids = decode(
            repeating_step, states(2), DecodingOptions(beam_width=width, max_length=6, no_repeat_ngram_size=size)
        )[0][0].ids
        ngrams = [tuple(ids[i : i + size]) for i in range(len(ids) - size + 1)]
        assert len(ngrams) == len(set(ngrams))


def test_alternatives_are_sorted_and_distinct():
    options = DecodingOptions(beam_width=5, max_length=6, num_alternatives=3)
    for hypotheses in beam_search(random_step(), states(), options):
        keys = [(not hypothesis.finished, -hypothesis.score) for hypothesis in hypotheses]
        assert keys == sorted(keys)
        assert len({tuple(hypothesis.ids) for hypothesis in hypotheses}) == len(hypotheses)


def test_bad_options():
    with pytest.raises(ValueError):
        DecodingOptions(beam_width=0)
    with pytest.raises(ValueError):
        DecodingOptions(min_length=5, max_length=3)
    with pytest.raises(ValueError):
        DecodingOptions(beam_width=2, num_alternatives=3)


def test_a_title_cut_by_the_length_limit_is_never_preferred_to_a_finished_one():
    def step(previous_ids, state):
        # Word 5 is always likelier than ending, so the best-scoring title never ends by itself,
        # while ending after the first word is only slightly less likely.
        probabilities = np.full((len(previous_ids), VOCABULARY), 0.001)
        probabilities[:, 5] = 0.5
        probabilities[:, END_ID] = 0.45
        return probabilities, state

    for width in (2, 4):
        options = DecodingOptions(beam_width=width, max_length=4, num_alternatives=2)
        hypotheses = beam_search(step, states(3), options)[0]
        assert hypotheses[0].finished
        finished = [hypothesis.finished for hypothesis in hypotheses]
        assert finished == sorted(finished, reverse=True)  # Every finished title before any cut one.
    greedy = greedy_decode(step, states(1), DecodingOptions(max_length=4))[0][0]
    assert greedy.ids == [5, 5, 5, 5] and not greedy.finished  # Greedy reports it; restoration trims it.
