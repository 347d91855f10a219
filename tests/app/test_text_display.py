from issue_summarizer.app.text_display import escape_markdown, seen_tokens_frame, seen_tokens_html, seen_tokens_summary
from issue_summarizer.inference.summarizer import SeenToken

TOKENS = [SeenToken("the", False, True), SeenToken("<frobnicator>", True, True), SeenToken("later", False, False)]


def test_escape_markdown_keeps_text_literal():
    assert escape_markdown("fix *bold* [link](x) #1") == r"fix \*bold\* \[link\]\(x\) \#1"
    assert escape_markdown("plain words") == "plain words"


def test_tokens_html_marks_rare_words_and_the_cut():
    html = seen_tokens_html(TOKENS)
    assert '<span class="rare"' in html and "&lt;frobnicator&gt;" in html
    assert html.count("truncation") == 2 and html.index("✂ cut") < html.index(">later<")
    assert '<span class="cut"' in html
    assert "✂" not in seen_tokens_html(TOKENS[:2])


def test_tokens_table_and_summary():
    frame = seen_tokens_frame(TOKENS)
    assert frame["rare"].tolist() == [False, True, False] and frame["read by the model"].tolist() == [True, True, False]
    assert seen_tokens_summary(TOKENS) == (
        "The model read 2 tokens; 1 of them is rare. The body is longer than that, so the rest was cut."
    )
    assert seen_tokens_summary(TOKENS[:1]) == "The model read 1 tokens; 0 of them are rare."


def test_opening_words_are_the_bodys_own_words_without_markdown_noise():
    from issue_summarizer.app.text_display import opening_words

    body = (
        "### Describe the bug\n<!-- Write below this line -->\n**Installing** react@18.2.0 with "
        "[the guide](https://example.com/guide) doesn't work on Windows 11, see `setup.py` and error[E0382].\n"
        "```\nTraceback (most recent call last)\n```\nMore words after the code."
    )
    # Template headings, HTML comments, link targets, emphasis and code fences are gone; case,
    # numbers, contractions and versions stay as written.
    assert opening_words(body) == "Installing react@18.2.0 with the guide doesn't work on Windows 11, see setup.py"
    assert opening_words(body, 3) == "Installing react@18.2.0 with"
    assert opening_words("No description provided.") == "No description provided."
    assert opening_words("") == ""
    # A body that starts with a long code block still shows the words after it.
    assert opening_words("```\n" + "x = 1\n" * 400 + "```\nThe loop never ends.") == "The loop never ends."


def test_no_repeat_sizes_read_as_a_person_says_them():
    from issue_summarizer.app.text_display import no_repeat_label

    assert [no_repeat_label(size) for size in (0, 1, 2, 3)] == [
        "Allowed",
        "No repeated words",
        "No repeated 2-word phrases",
        "No repeated 3-word phrases",
    ]
