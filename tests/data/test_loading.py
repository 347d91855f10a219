import json

import pandas as pd
import pytest

from issue_summarizer.data.loading import DataLoadError, load_issues, parse_column_mapping
from tests.conftest import make_rows, write_jsonl_gz


def test_reads_the_corpus_jsonl_gz(corpus_file):
    loaded = load_issues(corpus_file)
    assert len(loaded.frame) == 240 and {"title", "body", "repo"} <= set(loaded.frame.columns)
    assert loaded.dropped == {}


def test_kaggle_csv_preset_takes_the_repository_from_the_url(tmp_path):
    path = tmp_path / "kaggle.csv"
    pd.DataFrame(
        {
            "issue_url": ["https://github.com/a/b/issues/1", "https://github.com/c/d/issues/2"],
            "issue_title": ["t1", "t2"],
            "body": ["b1", "b2"],
        }
    ).to_csv(path, index=False)
    loaded = load_issues(path)
    assert loaded.frame["repo"].tolist() == ["a/b", "c/d"]
    assert loaded.frame["title"].tolist() == ["t1", "t2"]


def test_news_preset_and_parquet_and_mapping(tmp_path):
    pd.DataFrame({"headlines": ["h"], "text": ["some text"]}).to_parquet(tmp_path / "news.parquet")
    assert load_issues(tmp_path / "news.parquet").frame["title"].tolist() == ["h"]
    pd.DataFrame({"summary": ["s"], "description": ["d"]}).to_csv(tmp_path / "jira.csv", index=False)
    mapping = parse_column_mapping("title=summary,body=description")
    assert load_issues(tmp_path / "jira.csv", columns=mapping).frame["body"].tolist() == ["d"]


def test_bad_rows_are_dropped_and_counted_with_row_numbers(tmp_path):
    path = tmp_path / "rows.jsonl"
    records = [
        {"title": "ok", "body": "fine"},
        {"title": None, "body": "x"},
        {"title": "t", "body": 5},
        {"title": "t", "body": "   "},
        {"title": "ok2", "body": "fine2"},
    ]
    path.write_text("\n".join(json.dumps(record) for record in records))
    loaded = load_issues(path)
    assert loaded.frame["title"].tolist() == ["ok", "ok2"]
    assert sum(loaded.dropped.values()) == 3
    assert any("row 2: null title" in problem for problem in loaded.problems)
    assert any("row 3: non-text body (int)" in problem for problem in loaded.problems)
    assert "dropped 3" in loaded.summary()


def test_keeping_bad_rows_marks_them(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"body": ""}) + "\n" + json.dumps({"body": "text"}))
    loaded = load_issues(path, require_title=False, drop_bad_rows=False)
    assert loaded.frame["problem"].tolist() == ["empty body", ""]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "empty"),
        ("header_only.csv", b"title,body\n", "no rows"),
        ("wrong.csv", b"name,value\nx,1\n", "missing title"),
        ("latin1.csv", "title,body\nt,caf\xe9\n".encode("latin-1"), "line 2: the file is not UTF-8"),
        ("broken.jsonl", b'{"title": "a", "body": "b"}\n{"title": \n', "line 2: not valid JSON"),
        ("list.jsonl", b"[1, 2]\n", "expected a JSON object"),
        ("data.txt", b"hello", "unknown file type"),
        ("bad.jsonl.gz", b"not gzip at all", "cannot read"),
        ("bad.parquet", b"not parquet", "not a readable parquet"),
    ],
)
def test_file_problems_give_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataLoadError, match=message) as error:
        load_issues(path)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_all_rows_bad_is_an_error(tmp_path):
    path = tmp_path / "allbad.jsonl"
    path.write_text(json.dumps({"title": "", "body": ""}))
    with pytest.raises(DataLoadError, match="no usable rows"):
        load_issues(path)


def test_limit_and_unicode(tmp_path):
    rows = make_rows(10)
    rows[0]["body"] = "数据加载失败 😀 " + "x" * 1_000_000
    path = write_jsonl_gz(tmp_path / "u.jsonl.gz", rows)
    loaded = load_issues(path, limit=3)
    assert len(loaded.frame) == 3 and loaded.frame["body"][0].startswith("数据")


def test_bad_mapping():
    with pytest.raises(DataLoadError):
        parse_column_mapping("headline")
    assert parse_column_mapping(None) == {}


def test_without_required_titles_only_the_body_decides_and_missing_titles_are_empty(tmp_path):
    # The rows without a title are exactly the ones `summarize` and `embed` are for.
    path = tmp_path / "untitled.csv"
    path.write_text("title,body\n,The app crashes with a segfault when I click save on a large file\nKept,body\n")
    loaded = load_issues(path, require_title=False, drop_bad_rows=False)
    assert loaded.frame["title"].tolist() == ["", "Kept"]
    assert loaded.frame["problem"].tolist() == ["", ""] and loaded.problems == []
    records = [
        {"title": None, "body": "a null title"},
        {"title": 42, "body": "a number as title"},
        {"body": "no title key"},
        {"title": "t", "body": ""},
        {"title": "Real", "body": "titled"},
    ]
    path = tmp_path / "untitled.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records))
    loaded = load_issues(path, require_title=False)
    assert loaded.frame["title"].tolist() == ["", "42", "", "Real"]
    assert loaded.dropped == {"empty body": 1}
    # Where titles are required (training, evaluation) an untitled row is still dropped.
    required = load_issues(path)
    assert required.frame["title"].tolist() == ["Real"]
    assert required.dropped == {"null title": 2, "non-text title (int)": 1, "empty body": 1}


def test_a_json_file_may_be_one_array_of_objects(tmp_path):
    import gzip

    from issue_summarizer.data.loading import read_chunks, read_table

    records = [{"title": f"t{row}", "body": f"body {row}"} for row in range(5)]
    array = tmp_path / "issues.json"
    array.write_text("\ufeff\n  " + json.dumps(records, indent=2), encoding="utf-8")
    assert load_issues(array).frame["title"].tolist() == [f"t{row}" for row in range(5)]
    compressed = tmp_path / "issues.json.gz"
    compressed.write_bytes(gzip.compress(json.dumps(records).encode()))
    assert len(load_issues(compressed).frame) == 5
    # `summarize` and `embed` read in chunks; an array is parsed whole and then cut into them.
    assert [len(chunk) for chunk in read_chunks(array, 2)] == [2, 2, 1]
    assert [len(chunk) for chunk in read_chunks(compressed, 3)] == [3, 2]
    # JSON lines in a `.json` file still read as before.
    lines = tmp_path / "lines.json"
    lines.write_text("\n".join(json.dumps(record) for record in records))
    assert len(load_issues(lines).frame) == 5 and [len(chunk) for chunk in read_chunks(lines, 4)] == [4, 1]
    # The byte cap applies to an array as to any file.
    with pytest.raises(DataLoadError, match="issues.json: holds more than"):
        read_table(array, max_bytes=100)


@pytest.mark.parametrize(
    "content, message",
    [
        (b'[{"title": "a", "body": "b"}, 3]', "item 2 of the array: expected a JSON object, got int"),
        (b'[{"title": "a", "body": "b"},\n{"title": ]', "line 2: not valid JSON"),
        (b"[]", "the file has no rows"),
    ],
)
def test_a_json_array_that_is_not_one_of_objects_gives_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataLoadError, match=message) as error:
        load_issues(path)
    assert "bad.json" in str(error.value) and "\n" not in str(error.value)


def test_a_directory_given_as_data_is_called_a_directory(tmp_path):
    from issue_summarizer.data.loading import read_chunks

    for directory in (tmp_path / "issues", tmp_path / "issues.csv"):
        directory.mkdir()
        expected = f"{directory}: is a directory, not a data file; name a CSV, TSV, JSONL or parquet file"
        with pytest.raises(DataLoadError) as error:
            load_issues(directory)
        assert str(error.value) == expected
        with pytest.raises(DataLoadError) as error:
            next(read_chunks(directory, 10))
        assert str(error.value) == expected


TAB_SEPARATED = "title\tbody\nparser crash\tThe parser crashes, then exits.\ncache leak\tThe cache leaks, slowly.\n"


@pytest.mark.parametrize("name", ["issues.csv", "issues.tsv", "issues.tsv.gz"])
def test_tab_separated_files_are_read_as_such_even_when_named_csv(tmp_path, name):
    import gzip

    from issue_summarizer.data.loading import read_chunks

    path = tmp_path / name
    data = TAB_SEPARATED.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    expected = {
        "title": ["parser crash", "cache leak"],
        "body": ["The parser crashes, then exits.", "The cache leaks, slowly."],
    }
    loaded = load_issues(path)
    assert loaded.source_columns == ["title", "body"]
    assert loaded.frame[["title", "body"]].to_dict("list") == expected
    (chunk,) = list(read_chunks(path, 10))
    assert chunk.to_dict("list") == expected


def test_a_broken_csv_whose_header_holds_tabs_is_said_to_look_tab_separated(tmp_path):
    from issue_summarizer.data.loading import read_chunks

    # Tabs and a comma in the header: read as CSV, which fails on the third line's extra commas.
    path = tmp_path / "issues.csv"
    path.write_text(
        "title\tbody, notes\nparser crash\tIt crashes, then exits.\ncache leak\tIt leaks, and, then, stops.\n"
    )
    with pytest.raises(DataLoadError, match=r"not a valid CSV file: .*; the file looks tab-separated: name it \.tsv$"):
        load_issues(path)
    with pytest.raises(DataLoadError, match=r"; the file looks tab-separated: name it \.tsv$"):
        list(read_chunks(path, 10))
    # Read without an error, but as one column: the message about the missing columns says so too.
    path.write_text("title\tbody, notes\nparser crash\tIt crashes, then exits.\n")
    with pytest.raises(DataLoadError, match=r"missing title .* The file looks tab-separated: name it \.tsv\.$"):
        load_issues(path)


def test_output_checks_say_what_is_wrong_before_any_work(tmp_path):
    import os

    from issue_summarizer.data.loading import check_output_directory, check_output_file

    existing_file = tmp_path / "metrics.json"
    existing_file.write_text("{}")
    with pytest.raises(DataLoadError) as error:
        check_output_directory(existing_file, "--out")
    assert str(error.value) == f"{existing_file}: a file, not a directory; --out names the directory to write"
    with pytest.raises(DataLoadError) as error:
        check_output_directory(existing_file / "inside", "--out")
    expected = f"{existing_file / 'inside'}: cannot be written: {existing_file} is a file, not a directory"
    assert str(error.value) == expected + "; choose another --out"
    with pytest.raises(DataLoadError) as error:
        check_output_file(tmp_path, "--output", "titles.csv")
    assert (
        str(error.value)
        == f"{tmp_path}: is a directory; --output names the file to write, such as {tmp_path / 'titles.csv'}"
    )
    # Directories that do not exist yet, under a writable one, are fine: they are created.
    check_output_directory(tmp_path / "new" / "deeper", "--out")
    check_output_file(tmp_path / "new" / "titles.csv", "--output", "titles.csv")
    if os.geteuid() != 0:  # Root writes anywhere, so a read-only directory cannot be shown to it.
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(DataLoadError, match="locked is not writable"):
            check_output_directory(locked / "results", "--out")
        with pytest.raises(DataLoadError, match="locked is not writable"):
            check_output_file(locked / "titles.csv", "--output", "titles.csv")
