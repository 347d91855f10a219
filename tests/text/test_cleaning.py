import pytest

from issue_summarizer.config import CleaningOptions
from issue_summarizer.text.cleaning import CODE_TOKEN, EMAIL_TOKEN, NUMBER_TOKEN, clean_text
from issue_summarizer.text.tokenization import tokenize


def test_lowercases_and_normalises_whitespace():
    assert clean_text("Hello   World\n\n\tAgain") == "hello world again"


def test_numbers_become_a_placeholder_but_identifiers_stay():
    cleaned = clean_text("Failed 3 times on x86_64 with utf8 and v1.2.3 after 2.5 s")
    assert cleaned.split().count(NUMBER_TOKEN) == 2
    for identifier in ("x86_64", "utf8", "v1.2.3"):
        assert identifier in cleaned


def test_urls_become_their_domain_and_emails_a_token():
    cleaned = clean_text("See https://www.github.com/org/repo/issues/12?x=1 or mail me at mailto:a.b@example.org")
    assert "github.com" in cleaned and "issues" not in cleaned
    assert EMAIL_TOKEN in cleaned and "example.org" not in cleaned


def test_fenced_code_becomes_a_marker_and_keeps_an_error_line():
    body = "Steps below.\n```python\nimport os\nos.remove(x)\n```\nand\n```\nValueError: bad thing\nmore\n```"
    cleaned = clean_text(body)
    assert "import" not in cleaned
    assert cleaned.count(CODE_TOKEN) == 2
    assert "valueerror: bad thing" in cleaned


def test_code_block_modes():
    body = "Before\n```\nsecret_code()\n```\nafter"
    assert "secret_code" in clean_text(body, CleaningOptions(code_blocks="keep"))
    assert clean_text(body, CleaningOptions(code_blocks="drop")) == "before after"
    with pytest.raises(ValueError):
        CleaningOptions(code_blocks="bogus")


def test_inline_code_keeps_identifiers():
    assert clean_text("Calling `FooBar.baz()` fails") == "calling foobar.baz() fails"


def test_markdown_and_html_are_stripped():
    body = (
        "## Title here\n<!-- please fill in -->\n<details><b>bold</b></details> [the docs](http://x.io/a) ![img](a.png)"
    )
    cleaned = clean_text(body)
    assert "please fill" not in cleaned and "<" not in cleaned and "img" not in cleaned
    assert "title here" in cleaned and "bold" in cleaned and "the docs" in cleaned


def test_template_headings_are_removed_but_sentences_kept():
    body = (
        "**Describe the bug**\nThe parser crashes.\n### To Reproduce\nTo reproduce, run go test.\n## Expected behavior"
    )
    cleaned = clean_text(body)
    assert "describe the bug" not in cleaned and "expected behavior" not in cleaned
    assert "the parser crashes." in cleaned and "to reproduce, run go test." in cleaned


def test_punctuation_runs_collapse():
    assert clean_text("Why?!!!! ---- ok....") == "why?! - ok."


def test_short_punctuation_runs_are_kept():
    text = "C++ and std::vector with --dry-run fail..."
    assert clean_text(text) == "c++ and std::vector with --dry-run fail..."
    legacy = CleaningOptions(keep_short_punctuation_runs=False)
    assert clean_text(text, legacy) == "c+ and std:vector with -dry-run fail."


@pytest.mark.parametrize(
    "text", ["", "   ", "\x00\x01\x02", "😀🎉 emoji only", "Проблема с установкой", "数据加载失败"]
)
def test_odd_input_never_raises(text):
    assert isinstance(clean_text(text), str)


def test_non_latin_text_is_kept():
    assert clean_text("Проблема с установкой") == "проблема с установкой"


def test_megabyte_body_is_cleaned():
    body = ("word " * 200_000) + "\n```\n" + "x\n" * 1000
    cleaned = clean_text(body)
    assert cleaned.startswith("word word") and cleaned.endswith(CODE_TOKEN)


def test_rejects_non_strings():
    with pytest.raises(TypeError):
        clean_text(None)


def test_html_entities_become_characters_after_tags_are_gone():
    assert clean_text("if a &gt; b &amp; c &lt;= d") == "if a > b & c <= d"
    # An escaped tag is text the author meant to show, so it survives as text.
    assert clean_text("the &lt;div&gt; is empty") == "the < div > is empty"


def test_generics_are_not_mistaken_for_html_tags():
    cleaned = clean_text("Vec<String> and Option<T> break <b>here</b><br/>")
    assert cleaned == "vec < string > and option < t > break here"


def test_brackets_are_split_off_identifiers_but_arrows_stay():
    assert tokenize(clean_text("error[E0382]: borrow of moved value")) == [
        "error", "[", "e0382", "]", ":", "borrow", "of", "moved", "value",
    ]  # fmt: skip
    assert clean_text("a->b and x => y") == "a->b and x => y"


def test_identifiers_survive_cleaning_and_tokenization():
    tokens = tokenize(clean_text("foo_bar in FooBar.baz() since v1.2.3 raises ENOENT and ERR_OSSL_EVP_UNSUPPORTED"))
    for identifier in ("foo_bar", "foobar.baz", "v1.2.3", "enoent", "err_ossl_evp_unsupported"):
        assert identifier in tokens


def test_new_rules_can_be_switched_off_for_models_trained_without_them():
    legacy = CleaningOptions(
        unescape_entities=False, html_element_names_only=False, split_brackets=False, keep_short_punctuation_runs=False
    )
    assert clean_text("error[E0382] a &gt; b Vec<String>", legacy) == "error[e0382] a &gt; b vec"
