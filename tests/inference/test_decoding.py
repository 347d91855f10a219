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


@pytest.mark.parametrize("finish_titles", [False, True])
def test_alternatives_are_sorted_and_distinct(finish_titles):
    options = DecodingOptions(beam_width=5, max_length=6, num_alternatives=3)
    # The rules read the vocabulary of the scripted decoders below.
    step, rules = (random_chain(3), rules_for(16)) if finish_titles else (random_step(), None)
    for hypotheses in beam_search(step, states(), options, rules):
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


# Titles finished as people write them (`TitleRules`), on a scripted decoder: a Markov chain over a
# small title vocabulary, where each token's next-token probabilities are written out by hand.

WORDS = ["<pad>", "<rare>", "<start>", "<end>", "the", "parser", "crashes", "when", "app", '"', "(", ")", ":", "ios"]
WORDS += ["xxnum", "xxcode", "?", "[", "]", "with", "and", "cmd", "/", "gc", "fails"]
TOKEN = {word: token_id for token_id, word in enumerate(WORDS)}


def chain(transitions: dict[str, dict[str, float]], copied: int = 0):
    """A step whose next-token probabilities depend only on the previous token.

    `transitions[previous]` gives the likely next tokens; every other token gets a little
    probability, so that masked tokens always leave something to choose.
    """
    width = len(WORDS) + copied
    table = np.full((width, width), 1e-4)
    for previous, following in transitions.items():
        row = TOKEN[previous] if previous in TOKEN else len(WORDS) + int(previous.removeprefix("copy"))
        for word, probability in following.items():
            column = TOKEN[word] if word in TOKEN else len(WORDS) + int(word.removeprefix("copy"))
            table[row, column] = probability
    table /= table.sum(axis=1, keepdims=True)

    def step(previous_ids, state):
        return table[previous_ids[:, 0]], state

    return step


def scripted(words: list[str], second_choices: dict[int, str]):
    """A step that writes `words` in order, whatever came before, with a second choice at some steps.

    The state counts the steps (every row of a batch, and every beam, is at the same step).
    """

    def step(previous_ids, state):
        length = int(state[0, 0])
        probabilities = np.full((len(previous_ids), len(WORDS)), 1e-4)
        probabilities[:, TOKEN[words[min(length, len(words) - 1)]]] = 0.9
        if length in second_choices:
            probabilities[:, TOKEN[second_choices[length]]] = 0.05
        return probabilities / probabilities.sum(axis=1, keepdims=True), state + 1

    return step


def rules_for(batch: int, body: str = "", copied: tuple[str, ...] = ()):
    from issue_summarizer.inference.decoding import TitleRules, TokenForms
    from issue_summarizer.text.title_form import body_words

    forms = TokenForms.from_tokens(WORDS)
    return TitleRules(forms, [list(copied)] * batch, [body_words(body)] * batch)


def words_of(hypothesis, copied: tuple[str, ...] = ()) -> list[str]:
    return [WORDS[token] if token < len(WORDS) else copied[token - len(WORDS)] for token in hypothesis.ids]


def titles(step, options, rules, batch: int = 2, copied: tuple[str, ...] = ()) -> list[list[str]]:
    # A scripted step counts steps in the state, so it starts from zeros.
    decoded = decode(step, np.zeros((batch, 4)), options, rules)
    return [words_of(alternatives[0], copied) for alternatives in decoded]


WIDTHS = [1, 2, 4]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_title_never_ends_on_a_function_word(width):
    step = chain(
        {
            "<start>": {"parser": 0.9},
            "parser": {"crashes": 0.9},
            "crashes": {"when": 0.9},
            "when": {"the": 0.9},
            "the": {"<end>": 0.9, "app": 0.05},
            "app": {"<end>": 0.9},
        }
    )
    options = DecodingOptions(beam_width=width, max_length=8)
    assert titles(step, options, None) == [["parser", "crashes", "when", "the"]] * 2
    assert titles(step, options, rules_for(2)) == [["parser", "crashes", "when", "the", "app"]] * 2
    off = DecodingOptions(beam_width=width, max_length=8, finish_titles=False)
    assert titles(step, off, rules_for(2)) == [["parser", "crashes", "when", "the"]] * 2


@pytest.mark.parametrize("width", WIDTHS)
def test_a_title_cut_by_the_length_limit_backs_off_to_its_last_complete_phrase(width):
    step = chain(
        {
            "<start>": {"parser": 0.9},
            "parser": {"crashes": 0.9},
            "crashes": {"when": 0.9},
            "when": {"the": 0.9},
            "the": {"when": 0.9},
        }
    )
    options = DecodingOptions(beam_width=width, max_length=5)
    hypothesis = decode(step, states(1), options, rules_for(1))[0][0]
    assert words_of(hypothesis) == ["parser", "crashes"]
    if width == 1:
        # Greedy decoding ran into the limit; its score is that of the phrase it kept.
        assert not hypothesis.finished
        assert hypothesis.score == pytest.approx(hypothesis.log_probability / 2)
    # Beams cut back to the same phrase do not come back as two alternatives.
    three = DecodingOptions(beam_width=3, max_length=5, num_alternatives=3)
    kept = [tuple(words_of(alternative)) for alternative in decode(step, states(1), three, rules_for(1))[0]]
    assert len(set(kept)) == len(kept) and ("parser", "crashes") in kept


@pytest.mark.parametrize("width", WIDTHS)
def test_a_quote_is_closed_even_when_no_word_may_repeat(width):
    step = chain({"<start>": {'"': 0.9}, '"': {"parser": 0.9}, "parser": {"<end>": 0.6, '"': 0.3}})
    options = DecodingOptions(beam_width=width, max_length=6, no_repeat_ngram_size=1)
    assert titles(step, options, None)[0] == ['"', "parser"]
    assert titles(step, options, rules_for(2))[0] == ['"', "parser", '"']


@pytest.mark.parametrize("width", WIDTHS)
def test_brackets_close_what_is_open_and_nothing_else(width):
    step = chain(
        {
            "<start>": {"(": 0.9},
            "(": {"parser": 0.9},
            "parser": {"<end>": 0.6, "]": 0.3, ")": 0.05},
            ")": {"crashes": 0.9},
            "crashes": {")": 0.9, "<end>": 0.05},
        }
    )
    options = DecodingOptions(beam_width=width, max_length=6)
    assert titles(step, options, None)[0] == ["(", "parser"]
    assert titles(step, options, rules_for(2))[0] == ["(", "parser", ")", "crashes"]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_prefix_is_written_only_when_the_body_names_it(width):
    step = chain(
        {
            "<start>": {"ios": 0.9},
            "ios": {":": 0.9, "app": 0.05},
            ":": {"app": 0.9},
            "app": {"crashes": 0.9},
            "crashes": {"<end>": 0.9},
        }
    )
    options = DecodingOptions(beam_width=width, max_length=6)
    electron = rules_for(2, "The Electron app crashes on start.")
    assert titles(step, options, electron)[0] == ["ios", "app", "crashes"]
    ios = rules_for(2, "The app crashes on iOS 17.")
    assert titles(step, options, ios)[0] == ["ios", ":", "app", "crashes"]
    # A path prefix needs each of its words in the body.
    path = chain(
        {
            "<start>": {"cmd": 0.9},
            "cmd": {"/": 0.9},
            "/": {"gc": 0.9},
            "gc": {":": 0.9, "fails": 0.05},
            ":": {"fails": 0.9},
            "fails": {"<end>": 0.9},
        }
    )
    assert titles(path, options, rules_for(2, "cmd/go fails"))[0] == ["cmd", "/", "gc", "fails"]
    assert titles(path, options, rules_for(2, "the gc in cmd fails"))[0] == ["cmd", "/", "gc", ":", "fails"]
    # However long the path (`cmd/compile/internal/obj/arm64:`).
    long_path = scripted(["cmd", "/", "gc", "/", "cmd", "/", "gc", "/", "cmd", ":", "fails", "<end>"], {9: "app"})
    options = DecodingOptions(beam_width=width, max_length=14)
    assert titles(long_path, options, None)[0][9] == ":"
    assert titles(long_path, options, rules_for(2, "cmd fails"))[0][9] == "app"


@pytest.mark.parametrize("width", WIDTHS)
def test_copied_function_words_and_placeholders_restoration_would_drop(width):
    step = chain(
        {
            "<start>": {"parser": 0.9},
            "parser": {"copy0": 0.9},
            "copy0": {"<end>": 0.9, "copy1": 0.05},
            "copy1": {"xxcode": 0.5, "xxnum": 0.3, "<end>": 0.1},
            "xxcode": {"<end>": 0.9},
            "xxnum": {"<end>": 0.9},
        },
        copied=2,
    )
    copied = ("whom", "gizmo")
    options = DecodingOptions(beam_width=width, max_length=6)
    # A copied function word may not end a title; code never enters one (restoration would drop
    # it), and a number only from a body that has one.
    assert titles(step, options, rules_for(2, "parser whom gizmo", copied), copied=copied)[0] == [
        "parser",
        "whom",
        "gizmo",
    ]
    with_number = rules_for(2, "parser whom gizmo xxnum", copied)
    assert titles(step, options, with_number, copied=copied)[0][-1] == "xxnum"


def random_chain(seed: int):
    """A decoder that likes function words, quotes and brackets, and likes ending after them."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(len(WORDS), 0.3), size=len(WORDS))
    for word in ("the", "when", "with", "and", '"', "(", "["):
        table[TOKEN[word], TOKEN["<end>"]] += 1.0
    table /= table.sum(axis=1, keepdims=True)

    def step(previous_ids, state):
        return table[previous_ids[:, 0]], state

    return step


@pytest.mark.parametrize("width", WIDTHS)
def test_every_title_ends_complete_and_balanced(width):
    from issue_summarizer.text.detokenization import detokenize
    from issue_summarizer.text.title_form import ends_on_function_word, is_unbalanced, last_complete_phrase

    for seed in range(12):
        for no_repeat in (0, 1):
            options = DecodingOptions(beam_width=width, max_length=7, no_repeat_ngram_size=no_repeat)
            for alternatives in decode(random_chain(seed), states(8, seed), options, rules_for(8)):
                hypothesis = alternatives[0]
                words = words_of(hypothesis)
                complete = last_complete_phrase(words)
                # A title cut by the length limit with no complete phrase has nothing to back off to.
                assert complete == len(words) or (not hypothesis.finished and complete == 0), words
                if complete:
                    assert not ends_on_function_word(" ".join(words)) and not is_unbalanced(detokenize(words))
                assert len(hypothesis.rows) in (0, len(words) + int(hypothesis.finished))


def test_beam_width_one_equals_greedy_under_the_rules():
    for seed in range(5):
        options = DecodingOptions(beam_width=1, max_length=7)
        greedy = greedy_decode(random_chain(seed), states(8, seed), options, rules_for(8))
        beam = beam_search(random_chain(seed), states(8, seed), options, rules_for(8))
        assert [g[0].ids for g in greedy] == [b[0].ids for b in beam]


def test_rules_for_another_batch_size_are_refused():
    with pytest.raises(ValueError, match="3 issues"):
        decode(random_chain(0), states(2), DecodingOptions(), rules_for(3))
