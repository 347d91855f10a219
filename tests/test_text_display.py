from issue_summarizer.summarizer import SeenToken
from issue_summarizer.text_display import escape_markdown, seen_tokens_frame, seen_tokens_html, seen_tokens_summary

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
