import numpy as np

from issue_summarizer.text.copying import extend_body, extend_title, to_decoder_input, words_from_ids
from issue_summarizer.text.vocabulary import END_ID, RARE_ID, START_ID, Vocabulary

TITLES = Vocabulary.fit([["crash", "in", "parser"], ["leak", "in", "cache"]], with_markers=True)
BASE = len(TITLES)


def test_body_words_missing_from_the_title_vocabulary_get_extended_ids():
    ids, unknown = extend_body(["crash", "in", "foo_bar()", "and", "foo_bar()"], TITLES)
    assert unknown == ["foo_bar()", "and"]
    assert ids == [TITLES.index["crash"], TITLES.index["in"], BASE, BASE + 1, BASE]


def test_title_words_found_in_the_body_become_copy_targets():
    _, unknown = extend_body(["crash", "in", "foo_bar()"], TITLES)
    ids = extend_title(["crash", "in", "foo_bar()", "elsewhere"], TITLES, unknown)
    assert ids == [START_ID, TITLES.index["crash"], TITLES.index["in"], BASE, RARE_ID, END_ID]
    assert words_from_ids(ids[1:-1], TITLES, unknown) == ["crash", "in", "foo_bar()"]
    assert words_from_ids(ids[1:-1], TITLES, unknown, show_rare=True)[-1] == "<rare>"


def test_copied_ids_are_fed_back_as_the_rare_word():
    assert to_decoder_input(np.array([[2, BASE + 3, 5]]), BASE).tolist() == [[2, RARE_ID, 5]]
