import gzip
import json

import pandas as pd
import pytest

from issue_summarizer.app import data_sources
from issue_summarizer.data.loading import DataLoadError


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


def gzip_bomb(expanded_megabytes: int) -> bytes:
    """A small gzip file that expands to `expanded_megabytes` MB of newlines.

    gzip readers read concatenated members as one stream, so one compressed megabyte is repeated.
    """
    member = gzip.compress(b"\n" * 1_000_000, compresslevel=9)
    return member * expanded_megabytes


def test_a_gzip_bomb_is_refused_after_reading_no_more_than_the_cap():
    import tracemalloc

    bomb = gzip_bomb(4_000)  # 4 GB of text in about 4 MB.
    assert len(bomb) < 5_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DataLoadError, match=r"bomb.jsonl.gz: holds more than 200 MB of text once decompressed"):
            data_sources.load_upload("bomb.jsonl.gz", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The reader stops one byte past the 200 MB cap instead of expanding 4 GB.
    assert peak < 2.5 * data_sources.MAX_UPLOAD_TEXT_BYTES


def test_a_csv_of_a_million_empty_rows_gets_a_clear_message():
    empty_rows = b"title,body\n" + b",\n" * 1_000_000
    with pytest.raises(DataLoadError, match=r"empty.csv: no usable rows: 1,000,000 empty title"):
        data_sources.load_upload("empty.csv", empty_rows)
    # Where titles are not required an empty title is fine, but empty bodies still leave nothing to use.
    with pytest.raises(DataLoadError, match=r"empty.csv: no usable rows: 1,000,000 empty body$"):
        data_sources.load_upload("empty.csv", empty_rows, require_title=False)
    # Batch mode keeps every row, each with its reason, and titles none of them.
    tickets = b"body,ticket\n" + b",7\n" * 1_000_000
    loaded = data_sources.load_upload("tickets.csv", tickets, require_title=False, drop_bad_rows=False)
    assert len(loaded.frame) == 1_000_000 and set(loaded.frame["problem"]) == {"empty body"}


def test_a_50_megabyte_csv_loads_and_uploads_are_capped_at_50_megabytes():
    import tomllib

    config = tomllib.loads((data_sources.REPOSITORY_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 50
    row = b'"Parser crash on start","The parser crashes with a segmentation fault when the input is empty."\n'
    rows = 50_000_000 // len(row)
    loaded = data_sources.load_upload("big.csv", b"title,body\n" + row * rows)
    assert len(loaded.frame) == rows and loaded.path == "big.csv"


def test_an_upload_of_more_text_than_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(data_sources, "MAX_UPLOAD_TEXT_BYTES", 1_000)
    with pytest.raises(DataLoadError, match=r"big.csv: holds more than 0 MB of text, more than can be read"):
        data_sources.load_upload("big.csv", b"title,body\n" + b"a,b\n" * 1_000)
    # About 0.1 MB of parquet that holds 2 MB of text.
    frame = pd.DataFrame({"title": ["t"] * 2_000, "body": ["x" * 1_000 + str(row) for row in range(2_000)]})
    monkeypatch.setattr(data_sources, "MAX_UPLOAD_TEXT_BYTES", 1_000_000)
    with pytest.raises(DataLoadError, match=r"big.parquet: holds more than 1 MB of text once decompressed"):
        data_sources.load_upload("big.parquet", frame.to_parquet())


def test_a_parquet_file_whose_dictionary_hides_gigabytes_is_refused():
    # One long string repeated: dictionary encoding stores it once, so file and footer are small.
    frame = pd.DataFrame({"title": ["t"] * 300_000, "body": ["x" * 1_000] * 300_000})
    data = frame.to_parquet()
    assert len(data) < 1_000_000
    with pytest.raises(DataLoadError, match=r"bomb.parquet: holds more than 200 MB of text once decompressed"):
        data_sources.load_upload("bomb.parquet", data)


def test_uploads_that_need_no_title_keep_untitled_rows():
    # The Similar issues and Lengths pages, and the Summarize page's file mode.
    upload = b"title,body\n,The app crashes with a segfault when I click save on a large file\nSave crash,Same\n"
    loaded = data_sources.load_upload("untitled.csv", upload, require_title=False)
    assert loaded.frame["title"].tolist() == ["", "Save crash"] and loaded.dropped == {}
    titling, links = data_sources.load_titling_upload("untitled.csv", upload)
    assert links is None and titling.frame["problem"].tolist() == ["", ""]
    # The Holdout browser compares with the real titles, so there a title is still needed.
    assert data_sources.load_upload("untitled.csv", upload).frame["title"].tolist() == ["Save crash"]


def test_a_json_upload_may_be_an_array_of_objects(monkeypatch):
    records = [{"title": "Parser crash", "body": "The parser crashes."}, {"title": "Slow", "body": "It is slow."}]
    loaded = data_sources.load_upload("issues.json", json.dumps(records, indent=2).encode())
    assert loaded.frame["title"].tolist() == ["Parser crash", "Slow"] and loaded.path == "issues.json"
    lines = "\n".join(json.dumps(record) for record in records).encode()
    assert len(data_sources.load_upload("issues.json", lines).frame) == 2
    with pytest.raises(DataLoadError, match=r"^bad.json: item 1 of the array: expected a JSON object, got list"):
        data_sources.load_upload("bad.json", b"[[1, 2]]")
    monkeypatch.setattr(data_sources, "MAX_UPLOAD_TEXT_BYTES", 50)
    with pytest.raises(DataLoadError, match=r"^issues.json: holds more than 0 MB of text"):
        data_sources.load_upload("issues.json", json.dumps(records).encode())
