import random

import pandas as pd
import pytest

from issue_summarizer.data.input_checks import MAX_BODY_CHARS, InputError, check_body, is_summarizable, usable_rows


@pytest.mark.parametrize("text", [None, "", "   \n\t ", b"\xff\xfe\x00\x01", "\x00\x01\x02\x03" * 50])
def test_empty_and_binary_text_is_refused_in_plain_words(text):
    with pytest.raises(InputError) as error:
        check_body(text)
    assert "Traceback" not in str(error.value) and str(error.value).endswith(".")


def test_huge_text_is_capped_with_a_warning():
    checked = check_body("word " * 300_000)
    assert len(checked.text) == MAX_BODY_CHARS and "only the first" in checked.warnings[0]


def test_non_latin_text_gets_a_warning_but_passes():
    checked = check_body("Ошибка при установке пакета на сервере")
    assert checked.text and any("Latin" in warning for warning in checked.warnings)


def test_english_text_and_emoji_pass_cleanly():
    assert check_body("The installer crashes on Windows 😀").warnings == []
    assert check_body(b"bytes that are utf-8").text == "bytes that are utf-8"


def test_is_summarizable_says_what_check_body_would_do():
    assert is_summarizable("The parser crashes on an empty file.")
    assert not is_summarizable("   ") and not is_summarizable(None) and not is_summarizable("\x00\x01\x02\x03" * 40)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_random_bytes_decoded_as_text_are_refused(encoding):
    data = random.Random(0).randbytes(20_000).decode(encoding, errors="replace")
    with pytest.raises(InputError, match="binary"):
        check_body(data)


def test_a_report_that_quotes_mojibake_passes_with_a_warning():
    """Real reports about encoding bugs quote what the program printed; they are still issues."""
    report = (
        "When I send a message with accented letters to the chat bot, the reply shows garbage "
        "instead of the text I typed. Steps: open the chat, type a greeting with an accent, press "
        "send. The server log prints this:\n" + "\ufffd\x08\ufffd\x03" * 25 + "\nExpected the message as typed."
    )
    checked = check_body(report)
    assert checked.text == report
    assert any("unreadable" in warning for warning in checked.warnings)


def test_usable_rows_drop_bodies_the_model_refuses():
    frame = pd.DataFrame({"body": ["a real body", "   ", "\x00\x01\x02\x03", "another"]})
    assert usable_rows(frame)["body"].tolist() == ["a real body", "another"]
    # With no row left, or none to begin with, still a table of rows with its columns.
    refused = usable_rows(frame.iloc[1:3].assign(title="t"))
    assert refused.empty and list(refused.columns) == ["body", "title"]
    empty = usable_rows(pd.DataFrame({"title": [], "body": []}, dtype=object))
    assert empty.empty and list(empty.columns) == ["title", "body"]


def test_columns_a_command_writes_are_named_in_the_files_order_and_refused():
    from issue_summarizer.data.input_checks import (
        EMBED_COLUMNS,
        SUMMARIZE_COLUMNS,
        columns_written_over,
        refuse_columns_written_over,
    )
    from issue_summarizer.data.loading import DataLoadError

    columns = ["title", "problem", "body", "predicted_title"]
    assert columns_written_over(columns, SUMMARIZE_COLUMNS) == ["problem", "predicted_title"]
    with pytest.raises(DataLoadError) as error:
        refuse_columns_written_over("input.csv", columns, SUMMARIZE_COLUMNS, "summarize")
    assert str(error.value) == (
        "input.csv: already has columns problem, predicted_title, which summarize writes; "
        "rename them in the file (or drop them) and run again"
    )
    with pytest.raises(DataLoadError) as error:
        refuse_columns_written_over("up.csv", ["row", "body"], EMBED_COLUMNS, "embed", again="upload it again")
    assert str(error.value) == (
        "up.csv: already has a column row, which embed writes; rename it in the file (or drop it) and upload it again"
    )
    # Columns that are only read (title, body, repo) are no clash.
    assert refuse_columns_written_over("ok.csv", ["title", "body", "repo"], SUMMARIZE_COLUMNS, "summarize") is None
