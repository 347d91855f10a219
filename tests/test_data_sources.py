import gzip
import json

import pandas as pd
import pytest

from issue_summarizer import data_sources
from issue_summarizer.data_loading import DataLoadError


def test_model_directory_defaults_to_model_beside_the_app_and_follows_the_environment(tmp_path):
    assert data_sources.model_directory({}) == data_sources.REPOSITORY_ROOT / "model"
    assert data_sources.model_directory({"ISSUE_SUMMARIZER_MODEL": str(tmp_path)}) == tmp_path
    assert data_sources.model_directory({"ISSUE_SUMMARIZER_MODEL": "  "}) == data_sources.REPOSITORY_ROOT / "model"


def test_data_path_comes_from_the_environment_even_when_empty(tmp_path):
    assert data_sources.default_data_path({"ISSUE_SUMMARIZER_DATA": str(tmp_path / "x.csv")}) == str(tmp_path / "x.csv")
    assert data_sources.default_data_path({"ISSUE_SUMMARIZER_DATA": ""}) == ""
    expected = str(data_sources.DEFAULT_DATA_PATH) if data_sources.DEFAULT_DATA_PATH.is_file() else ""
    assert data_sources.default_data_path({}) == expected


def test_identities_change_with_the_content(tmp_path):
    path = tmp_path / "data.csv"
    assert data_sources.file_identity(path).endswith(":missing")
    path.write_text("title,body\na,b\n")
    first = data_sources.file_identity(path)
    path.write_text("title,body\na,b\nc,d\n")
    assert data_sources.file_identity(path) != first
    assert data_sources.content_identity(b"a") != data_sources.content_identity(b"b")


def test_upload_suffix_prefers_the_longest_match():
    assert data_sources.upload_suffix("Issues.JSONL.GZ") == ".jsonl.gz"
    assert data_sources.upload_suffix("a.b.csv") == ".csv"
    with pytest.raises(DataLoadError, match="notes.txt: unknown file type"):
        data_sources.upload_suffix("notes.txt")


def test_load_upload_reads_each_format_and_names_the_upload():
    frame = pd.DataFrame({"title": ["t1", "t2"], "body": ["b1", "b2"]})
    csv = data_sources.load_upload("mine.csv", frame.to_csv(index=False).encode())
    assert csv.frame["title"].tolist() == ["t1", "t2"] and csv.path == "mine.csv"
    lines = "\n".join(json.dumps(record) for record in frame.to_dict("records")).encode()
    assert len(data_sources.load_upload("mine.jsonl.gz", gzip.compress(lines)).frame) == 2
    body_only = data_sources.load_upload(
        "bodies.jsonl", b'{"body": "text"}\n{"body": ""}', require_title=False, drop_bad_rows=False
    )
    assert body_only.frame["problem"].tolist() == ["", "empty body"]
    assert all(problem.startswith("bodies.jsonl: row 2") for problem in body_only.problems)


def test_a_wrong_upload_gives_one_line_about_the_upload_not_a_temporary_file():
    with pytest.raises(DataLoadError) as raised:
        data_sources.load_upload("wrong.csv", b"text\nhello\n")
    with pytest.raises(DataLoadError, match="^bodies.csv: missing body"):
        data_sources.load_upload("bodies.csv", b"text\nhello\n", require_title=False)
    message = str(raised.value)
    assert message.startswith("wrong.csv: missing title (column 'title'), body") and "\n" not in message
    assert "--columns" not in message and "Rename your columns" in message
    with pytest.raises(DataLoadError, match="broken.jsonl: line 1: not valid JSON"):
        data_sources.load_upload("broken.jsonl", b"{nope")


def test_usable_rows_drop_bodies_the_model_refuses():
    frame = pd.DataFrame({"body": ["a real body", "   ", "\x00\x01\x02\x03", "another"]})
    assert data_sources.usable_rows(frame)["body"].tolist() == ["a real body", "another"]
