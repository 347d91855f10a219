"""Whether a title reads as finished. The titles and bodies here are written for the tests."""

import pytest

from issue_summarizer.text.title_form import (
    FUNCTION_WORDS,
    advance_marks,
    body_words,
    ends_on_function_word,
    is_function_word,
    is_unbalanced,
    last_complete_phrase,
    leading_prefix,
    may_end_after,
    stray_prefix,
    unclosed_marks,
)


@pytest.mark.parametrize(
    "title",
    [
        "ios: app crashes when the simulator or iPad is",
        "f.read() of a log file that has the",
        "build fails with",
        "Crash when loading the.",
        "Can we have an error when trying to create a?",
        "Build doesn't",
        "I think it's",
        "Parser does not",
    ],
)
def test_titles_that_stop_on_a_function_word(title):
    assert ends_on_function_word(title)


@pytest.mark.parametrize(
    "title",
    [
        "Parser crashes on empty input",
        "Turn the screen off",  # A particle, not a preposition.
        "log out",
        "Build failing with BUILD_EXAMPLES=ON",  # The last word is part of `X=ON`.
        "missing static library libzlib.a",
        "Add support for `with`",  # Ends on code.
        "Fix the (in the)",
        "Remove TODO's",
        "",
        "???",
    ],
)
def test_titles_that_end_on_a_content_word(title):
    assert not ends_on_function_word(title)


def test_function_words_cover_the_kinds_the_issue_names():
    for word in ("the", "an", "of", "with", "and", "or", "is", "be", "has", "their", "that", "which", "when", "if"):
        assert word in FUNCTION_WORDS
    # Tokens as the model writes them.
    assert is_function_word("n't") and is_function_word("'re") and is_function_word("The")
    assert not is_function_word("crash") and not is_function_word("'s")


@pytest.mark.parametrize(
    "title",
    [
        'Error loading "system cannot find the file',
        "ValueError: not enough values to unpack (expected 4",
        "IndexError: string index out of range OS [Linux",
        "typeerror: no module named 'tensor",
        "undefined reference to `ngraph::op",
        "Unhandled promise rejection: Out of memory]",  # Closes nothing.
        "Lack of ”dataset“",
        "crossed (marks [here) too]",
    ],
)
def test_unbalanced_titles(title):
    assert is_unbalanced(title)


@pytest.mark.parametrize(
    "title",
    [
        "doesn't work on users' data",
        "It's the parser's fault",
        "No module named 'tensor'",
        'Error loading "system" file',
        "f.read() returns [] on {} input",
        "`foo(` is not parsed",  # Code may hold any mark.
        "“quoted” and ‘single’",
        "egs2/ 's newly update",  # A clitic written apart, not a quote.
        "Rust lifetimes such as 'a'",
    ],
)
def test_balanced_titles(title):
    assert not is_unbalanced(title)


def test_unclosed_marks_are_listed_outermost_first():
    assert unclosed_marks('fails (in "foo') == ("(", '"')
    assert unclosed_marks("fine") == ()


def test_marks_advance_token_by_token_as_the_joined_title_reads():
    stack = ()
    for previous, token in [(None, "error"), ("error", "'"), ("'", "int64")]:
        stack = advance_marks(stack, token, previous)
    assert stack == ("'",)
    assert advance_marks(stack, "'", "int64") == ()
    # After a word ending in s a lone quote is a plural possessive.
    assert advance_marks((), "'", "users") == ()
    assert advance_marks((), "(", "f") == ("(",) and advance_marks(("(",), ")", "x") == ()
    assert advance_marks((), ")", "x") == ()  # Nothing to close: the stack stays as it is.
    assert advance_marks(("`",), "(", "x") == ("`",)  # Inside code nothing else counts.


def test_the_last_complete_phrase():
    assert last_complete_phrase(["parser", "crashes", "when", "the"]) == 2
    assert last_complete_phrase(["error", "in", "("]) == 1
    assert last_complete_phrase(["error", "in", "(", "foo", ")"]) == 5
    assert last_complete_phrase(["create", "a", "?"]) == 1
    assert last_complete_phrase(["works", "?"]) == 2
    assert last_complete_phrase(["the"]) == 0
    assert last_complete_phrase(["why", "it", "'s"]) == 2
    assert last_complete_phrase(["user", "'s"]) == 2
    assert not may_end_after(",") and not may_end_after("-") and may_end_after(")")


@pytest.mark.parametrize(
    ("title", "text", "words"),
    [
        ("ios: app crashes", "ios:", ("ios",)),
        ("cmd/gc: bad code", "cmd/gc:", ("cmd", "gc")),
        ("x / mobile : cannot build", "x / mobile :", ("x", "mobile")),
        ("runtime(gc): slow", "runtime(gc):", ("runtime", "gc")),
        ("[Bug] net/http: hangs", "net/http:", ("net", "http")),
        ("Bug: ios: crash", "ios:", ("ios",)),
    ],
)
def test_leading_prefixes(title, text, words):
    prefix = leading_prefix(title)
    assert prefix is not None and prefix.text == text and prefix.words == words


@pytest.mark.parametrize(
    "title",
    [
        "Bug: crash",  # A kind tag, not a component.
        "fix(types): a",
        "app crashes: why",  # Two words are no prefix.
        "see http://example.com",
        "C:\\temp fails",
        "10:30 is wrong",
        "crash",
    ],
)
def test_titles_without_a_component_prefix(title):
    assert leading_prefix(title) is None


def test_a_prefix_is_stray_when_the_body_never_names_it():
    body = "Electron app crashes when I open the DevTools window on macOS."
    assert stray_prefix("ios: app crashes", body) == "ios:"
    assert stray_prefix("macOS: app crashes", body) is None  # Any case.
    assert stray_prefix("electron/devtools: crash", body) is None
    assert stray_prefix("electron/gc: crash", body) == "electron/gc:"  # Every word must be named.
    assert stray_prefix("app crashes on macOS", body) is None
    assert stray_prefix("Bug: app crashes", body) is None
    assert stray_prefix("ios: app crashes", body_words(body)) == "ios:"
    assert body_words("Net/HTTP client") == frozenset({"net", "http", "client"})
