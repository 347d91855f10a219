from issue_summarizer.app.examples import EXAMPLE_ISSUES
from issue_summarizer.config import CleaningOptions
from issue_summarizer.data.input_checks import check_body
from issue_summarizer.text.tokenization import clean_and_tokenize


def test_every_example_is_a_clean_english_body_long_enough_to_summarize():
    assert len(EXAMPLE_ISSUES) >= 4
    for name, body in EXAMPLE_ISSUES.items():
        assert check_body(body).warnings == [], name
        assert len(clean_and_tokenize([body], CleaningOptions(), workers=1)[0]) >= 25, name
