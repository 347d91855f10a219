"""Titles written back as the body wrote them. The bodies here are written for the tests."""

import numpy as np
import pytest

from issue_summarizer.config import CleaningOptions
from issue_summarizer.inference.title_restoration import (
    capitalize_first_word,
    restore_title,
    restore_words,
    trim_unfinished,
)
from issue_summarizer.text.encoding import surface_forms
from issue_summarizer.text.tokenization import clean_and_tokenize_one

OPTIONS = CleaningOptions()


def body(text: str) -> tuple[list[str], list]:
    tokens = clean_and_tokenize_one(text, OPTIONS, max_tokens=70)
    return tokens, surface_forms(text, tokens, OPTIONS)


def restore(words: str, text: str, attention=None, finished: bool = True) -> str:
    tokens, surface = body(text)
    return restore_title(words.split(), tokens, surface, attention, finished)


@pytest.mark.parametrize(
    ("words", "text", "expected"),
    [
        (
            "err_ossl_evp_unsupported on start",
            "npm start fails with ERR_OSSL_EVP_UNSUPPORTED.",
            "ERR_OSSL_EVP_UNSUPPORTED on start",
        ),
        (
            "installer crashes on windows xxnum",
            "The installer crashes on Windows 11 after the licence.",
            "installer crashes on Windows 11",
        ),
        (
            "platform : xxnum -bit ( windows ) does n't work",
            "Platform: 64-bit (Windows)\nIt fails.",
            "Platform: 64-bit (Windows) doesn't work",
        ),
        ("v1.2.3 breaks the build", "Since v1.2.3 the build breaks.", "v1.2.3 breaks the build"),
        ("setup.dll access violation", "The log says: access violation in setup.dll.", "setup.dll access violation"),
        (
            "d.getmonth ( ) returns wrong month",
            "d.getMonth() returns 0 in December.",
            "d.getMonth() returns wrong month",
        ),
        ("[ bug ] parser crash", "The Parser crashes.", "Parser crash"),
    ],
)
def test_copied_words_come_out_as_the_body_wrote_them(words, text, expected):
    assert restore(words, text) == expected


def test_the_most_attended_occurrence_gives_the_form():
    tokens, surface = body("The GPU is fine. The gpu driver crashes.")
    attention = np.zeros((2, len(tokens)))
    first, second = [position for position, token in enumerate(tokens) if token == "gpu"]
    attention[0, second] = 0.9
    attention[0, first] = 0.1
    assert restore_title(["gpu", "crashes"], tokens, surface, attention) == "gpu crashes"
    attention[0] = 0
    attention[0, first] = 0.9
    assert restore_title(["gpu", "crashes"], tokens, surface, attention) == "GPU crashes"
    # Without attention the first occurrence is used.
    assert restore_title(["gpu", "crashes"], tokens, surface) == "GPU crashes"


def test_no_placeholder_or_marker_ever_reaches_a_title():
    text = "1 2 3 4.5 100 2024"
    tokens, surface = body(text)
    assert set(tokens) == {"xxnum"}
    numbers = restore_title(["xxnum", "xxnum", "xxcode", "<rare>", "<end>"], tokens, surface)
    # Without attention, each number is the next one the body wrote.
    assert numbers == "1 2"
    assert restore("windows xxnum with xxnum -bit", "Windows 10 with 64-bit Python") == "Windows 10 with 64-bit"
    # A placeholder with no source in the body is dropped, as are code and e-mail markers.
    assert restore("crash on xxnum xxcode xxemail <pad>", "It crashes, see the log.") == "crash on"
    for title in (restore("xxnum", "Only words here."), restore("xxemail", "mail me@example.com now")):
        assert title == ""


def test_numbers_come_from_the_most_attended_position():
    tokens, surface = body("Python 3.11 works, Python 3.12 fails.")
    attention = np.zeros((2, len(tokens)))
    positions = [position for position, token in enumerate(tokens) if token == "xxnum"]
    attention[1, positions[1]] = 1.0
    assert restore_title(["python", "xxnum", "fails"], tokens, surface, np.vstack([attention, attention])) == (
        "Python 3.12 fails"
    )


def test_spacing_between_consecutive_copied_tokens_follows_the_body():
    # The body writes "node-gyp"; spaCy and the number rule set parts apart.
    assert restore("node-gyp fails on xxnum -bit", "node-gyp fails on 64-bit Linux") == "node-gyp fails on 64-bit"
    # Sentences copied across a full stop keep the space after it.
    assert (
        restore("works fine . but not on linux", "It works fine. But not on Linux.") == "works fine. But not on Linux"
    )


def test_an_unfinished_title_is_cut_back_to_its_last_complete_phrase():
    assert trim_unfinished(["parser", "crashes", "when", "the"]) == ["parser", "crashes"]
    assert trim_unfinished(["error", "in", "("]) == ["error"]
    assert trim_unfinished(["the"]) == ["the"]
    # Back to before a quote or bracket that never closed, and past a function word before it.
    assert trim_unfinished(["error", "in", '"', "foo", "bar"]) == ["error"]
    assert trim_unfinished(["fails", "(", "on", "linux", ")", "when"]) == ["fails", "(", "on", "linux", ")"]
    assert trim_unfinished(["create", "a", "?"]) == ["create"]
    assert restore("parser crashes when the", "The parser crashes when the file is empty.", finished=False) == (
        "parser crashes"
    )
    # A finished title keeps its words.
    assert restore("log in to", "I cannot log in to the site.") == "log in to"


def test_capitalisation_keeps_identifiers():
    assert capitalize_first_word("parser crashes") == "Parser crashes"
    assert capitalize_first_word("d.getMonth() is wrong") == "d.getMonth() is wrong"
    assert capitalize_first_word("v1.2 fails") == "v1.2 fails"
    assert capitalize_first_word("[Windows] crash") == "[Windows] crash"
    assert capitalize_first_word("") == ""


def test_words_record_where_they_came_from():
    tokens, surface = body("Calling Foo.bar raises KeyError")
    restored = restore_words(["foo.bar", "raises", "keyerror", "again"], tokens, surface)
    assert [(word.text, word.source) for word in restored] == [
        ("Foo.bar", 1),
        ("raises", 2),
        ("KeyError", 3),
        ("again", None),
    ]
