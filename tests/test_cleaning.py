import pytest

from issue_summarizer.cleaning import CODE_TOKEN, EMAIL_TOKEN, NUMBER_TOKEN, CleaningOptions, clean_text


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
