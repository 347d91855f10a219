"""Text to model inputs, and the body's own form of every token. The bodies are written for the tests."""

from issue_summarizer.config import CONFIGURATIONS, CleaningOptions
from issue_summarizer.text.encoding import SurfaceToken, encode_bodies, surface_forms
from issue_summarizer.text.tokenization import clean_and_tokenize_one
from issue_summarizer.text.vocabulary import RARE_ID, Vocabulary

OPTIONS = CleaningOptions()


def forms(text: str, max_tokens: int = 70) -> list[tuple[str, str, bool]]:
    tokens = clean_and_tokenize_one(text, OPTIONS, max_tokens=max_tokens)
    return [
        (token, form.text, form.space_after)
        for token, form in zip(tokens, surface_forms(text, tokens, OPTIONS), strict=True)
    ]


def test_each_token_keeps_the_case_and_numbers_the_body_wrote():
    assert forms("Windows 11 fails with ERR_OSSL_EVP_UNSUPPORTED") == [
        ("windows", "Windows", True),
        ("xxnum", "11", True),
        ("fails", "fails", True),
        ("with", "with", True),
        ("err_ossl_evp_unsupported", "ERR_OSSL_EVP_UNSUPPORTED", True),
    ]


def test_spaces_are_the_bodys_not_the_cleaners():
    # The number rule and the bracket rule set "64" and "(" apart; the body wrote them touching.
    assert forms("a 64-bit build: d.getMonth() is wrong") == [
        ("a", "a", True),
        ("xxnum", "64", False),
        ("-bit", "-bit", True),
        ("build", "build", False),
        (":", ":", True),
        ("d.getmonth", "d.getMonth", False),
        ("(", "(", False),
        (")", ")", True),
        ("is", "is", True),
        ("wrong", "wrong", True),
    ]


def test_the_same_word_in_two_cases_keeps_each_form_at_its_position():
    assert [form for _, form, _ in forms("The GPU and the gpu")] == ["The", "GPU", "and", "the", "gpu"]


def test_a_body_of_numbers_and_markers():
    assert [(token, form) for token, form, _ in forms("1 2.5 -3 1,000")] == [
        ("xxnum", "1"),
        ("xxnum", "2.5"),
        ("xxnum", "-3"),
        ("xxnum", "1,000"),
    ]
    text = "Mail me@example.com\n```\ncode\n```\ndone"
    assert [(token, form) for token, form, _ in forms(text)] == [
        ("mail", "Mail"),
        ("xxemail", "xxemail"),
        ("xxcode", "xxcode"),
        ("done", "done"),
    ]


def test_surface_forms_follow_the_truncated_window():
    text = "Word " * 200
    tokens = clean_and_tokenize_one(text, OPTIONS, max_tokens=70)
    surface = surface_forms(text, tokens, OPTIONS)
    assert len(surface) == 70 and surface[0] == SurfaceToken("Word", True)


def test_encode_bodies_pads_in_front_and_marks_rare_words():
    config = CONFIGURATIONS["tiny"]
    vocabulary = Vocabulary.fit([["crash", "parser"]], max_size=10, with_markers=False)
    ids = encode_bodies([["parser", "unknown", "crash"]], vocabulary, config)
    assert ids.shape == (1, config.body_length)
    assert ids[0, -3:].tolist() == [vocabulary.index["parser"], RARE_ID, vocabulary.index["crash"]]
    assert (ids[0, :-3] == 0).all()
