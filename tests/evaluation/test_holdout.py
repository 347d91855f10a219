import numpy as np
import pandas as pd
import pytest

from issue_summarizer.data.loading import DataLoadError, load_issues
from issue_summarizer.data.splitting import split_repositories
from issue_summarizer.evaluation import holdout
from tests.conftest import make_rows, write_jsonl_gz


def predictions(count: int = 6) -> pd.DataFrame:
    rows = {
        "repo": ["a/x", "a/x", "b/y", "b/y", "c/z", "c/z"][:count],
        "title": ["Parser crash", "Slow cache", "Memory leak", "Docs typo", "Install fails", "Hang on exit"][:count],
        "body": ["the parser crashes", "cache is slow", "it leaks memory", "typo", "pip fails", "hangs"][:count],
        "reference": ["parser crash", "slow cache", "memory leak", "docs typo", "install fails", "hang on exit"][
            :count
        ],
        "predicted_title": ["parser crash", "cache", "leak", "typo in docs", "", "hang"][:count],
        "score": [-0.5, -1.0, -1.5, -2.0, -2.5, -0.1][:count],
        "lead": ["the parser crashes", "cache is slow", "it leaks memory", "typo", "pip fails", "hangs"][:count],
        "rougeL": [1.0, 0.67, 0.5, 0.8, 0.0, 0.5][:count],
        "lead_rougeL": [0.5, 0.4, 0.6, 0.7, 0.3, 0.0][:count],
    }
    return holdout.prepare_predictions(pd.DataFrame(rows))


def test_save_and_load_round_trip(tmp_path):
    table = predictions()
    path = holdout.cached_predictions_path(tmp_path, "model:1:2", "data:3:4")
    assert path.parent == tmp_path / "predictions" and path.name.endswith(".jsonl.gz")
    assert holdout.load_cached_predictions(path) is None
    saved = holdout.save_predictions(table, {"model": {"rougeL": 0.5}}, path)
    loaded, metrics = holdout.load_cached_predictions(saved)
    pd.testing.assert_frame_equal(loaded, table)
    assert metrics == {"model": {"rougeL": 0.5}}
    assert loaded["advantage"].tolist() == pytest.approx([0.5, 0.27, -0.1, 0.1, -0.3, 0.5])
    # Another model or another data file has its own cache entry.
    assert holdout.cached_predictions_path(tmp_path, "model:1:3", "data:3:4") != path
    assert holdout.cached_predictions_path(tmp_path, "model:1:2", "data:3:5") != path


def test_sessions_that_save_at_once_leave_one_complete_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = holdout.cached_predictions_path(tmp_path, "model", "data")
    tables = [predictions(count) for count in (2, 4, 6, 3, 5, 1)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda table: holdout.save_predictions(table, {"rows": len(table)}, path), tables * 3))
    loaded, metrics = holdout.load_cached_predictions(path)
    assert len(loaded) in {len(table) for table in tables}
    assert sorted(item.name for item in path.parent.iterdir()) == sorted([path.name, path.name[:-9] + ".metrics.json"])


def test_saving_into_a_cache_that_cannot_be_written_raises_and_leaves_nothing(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(OSError):
        holdout.save_predictions(predictions(), {}, blocked / "predictions" / "x.jsonl.gz")
    assert [item.name for item in tmp_path.iterdir()] == ["file"]


def test_a_file_that_is_not_a_predictions_file_is_refused(tmp_path):
    with pytest.raises(DataLoadError, match="no such file"):
        holdout.load_predictions(tmp_path / "nothing.jsonl.gz")
    pd.DataFrame({"title": ["t"]}).to_json(tmp_path / "other.jsonl", orient="records", lines=True)
    with pytest.raises(DataLoadError, match="missing columns repo, body"):
        holdout.load_predictions(tmp_path / "other.jsonl")


def test_filters_combine():
    table = predictions()
    assert len(holdout.filter_predictions(table)) == 6
    assert holdout.filter_predictions(table, (0.5, 0.8))["rougeL"].between(0.5, 0.8).all()
    assert holdout.filter_predictions(table, repositories=["b/y"])["repo"].unique().tolist() == ["b/y"]
    assert holdout.filter_predictions(table, search="LEAK")["title"].tolist() == ["Memory leak"]
    assert holdout.filter_predictions(table, search="in docs")["title"].tolist() == ["Docs typo"]
    assert holdout.filter_predictions(table, (0.9, 1.0), ["b/y"]).empty


def test_sort_orders():
    table = predictions()
    assert holdout.sort_predictions(table, "Worst ROUGE-L first")["rougeL"].iloc[0] == 0.0
    assert holdout.sort_predictions(table, "Best ROUGE-L first")["rougeL"].iloc[0] == 1.0
    assert holdout.sort_predictions(table, "Lead beats model by most")["advantage"].iloc[0] == pytest.approx(-0.3)
    assert holdout.sort_predictions(table, "Most confident first")["score"].iloc[0] == -0.1
    for order in holdout.SORT_ORDERS:
        assert len(holdout.sort_predictions(table, order)) == 6
    with pytest.raises(ValueError, match="unknown order"):
        holdout.sort_predictions(table, "Alphabetical")


def test_the_browser_opens_on_a_fixed_shuffled_order_that_filters_keep():
    table = holdout.prepare_predictions(pd.concat([predictions()] * 10, ignore_index=True))
    assert next(iter(holdout.SORT_ORDERS)) == holdout.SHUFFLED
    shuffled = holdout.sort_predictions(table, holdout.SHUFFLED)
    assert sorted(shuffled.index) == list(table.index)
    # Neither the file's order nor a score order, and the same on every rerun.
    assert list(shuffled.index) != list(table.index)
    assert not shuffled["rougeL"].is_monotonic_increasing and not shuffled["rougeL"].is_monotonic_decreasing
    assert list(holdout.sort_predictions(table, holdout.SHUFFLED).index) == list(shuffled.index)
    # A filter keeps the remaining rows in the same order, so rows do not jump about.
    kept = holdout.sort_predictions(holdout.filter_predictions(table, repositories=["a/x"]), holdout.SHUFFLED)
    assert list(kept.index) == [label for label in shuffled.index if label in set(kept.index)]


def test_a_file_without_repositories_is_recognised():
    assert holdout.has_repositories(predictions())
    assert not holdout.has_repositories(predictions().assign(repo="unknown"))
    mixed = predictions()
    mixed.loc[0, "repo"] = "unknown"
    assert holdout.has_repositories(mixed)


def test_the_highlighted_row_is_the_chosen_one():
    shown = holdout.sort_predictions(predictions(), "Best ROUGE-L first")
    drawn = shown.index.tolist()
    # A click on the third row of the table as drawn chooses the row shown there.
    chosen = holdout.clicked_row(drawn, [2])
    assert chosen == drawn[2]
    assert holdout.clicked_row(drawn, []) is None and holdout.clicked_row(None, [0]) is None
    assert holdout.clicked_row(drawn, [len(drawn)]) is None
    # The same row is highlighted wherever another order puts it, and none when a filter hides it.
    assert holdout.selected_positions(shown.index, chosen) == [2]
    reordered = holdout.sort_predictions(predictions(), "Worst ROUGE-L first")
    assert reordered.index[holdout.selected_positions(reordered.index, chosen)[0]] == chosen
    hidden = holdout.filter_predictions(predictions(), repositories=["c/z"])
    assert chosen not in hidden.index and holdout.selected_positions(hidden.index, chosen) == []
    assert holdout.selected_positions(shown.index, None) == []


def test_a_random_example_is_always_another_issue():
    rng = np.random.default_rng(0)
    shown = predictions().index
    current = None
    for _ in range(20):
        picked = holdout.random_row(shown, current, rng)
        assert picked in shown and picked != current
        current = picked
    assert holdout.random_row(shown[:1], shown[0], rng) == shown[0]  # The only row stays the only choice.


def test_summary_metrics():
    summary = holdout.summary_metrics(predictions())
    assert summary["rows"] == 6 and summary["repositories"] == 3
    assert summary["model_rougeL"] == pytest.approx(np.mean([1.0, 0.67, 0.5, 0.8, 0.0, 0.5]))
    assert summary["model_wins"] == pytest.approx(4 / 6)
    assert holdout.summary_metrics(predictions().iloc[:0])["rows"] == 0
    assert holdout.repository_choices(predictions(5))[0] in ("a/x", "b/y")


def test_rows_of_the_test_split_follow_split_json(tmp_path):
    rows = make_rows(count=120, repositories=12)
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", rows)
    split = split_repositories([row["repo"] for row in rows], validation_share=0.1, test_share=0.2)
    split.save(tmp_path / "split.json")
    test_rows = holdout.rows_of_test_split(data, tmp_path)
    assert set(test_rows["repo"]) == set(split.test) and len(test_rows) > 0
    assert len(holdout.rows_of_test_split(data, tmp_path, limit=3)) == 3
    assert len(holdout.evaluation_rows(load_issues(data).frame, limit=5)) == 5


def test_rows_of_the_test_split_need_a_split_and_matching_data(tmp_path):
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=20, repositories=4))
    with pytest.raises(DataLoadError, match="split.json: missing"):
        holdout.rows_of_test_split(data, tmp_path)
    split_repositories(["other/a", "other/b", "other/c"]).save(tmp_path / "split.json")
    with pytest.raises(DataLoadError, match="not in the model's split"):
        holdout.rows_of_test_split(data, tmp_path)


def test_an_upload_without_a_readable_body_is_refused_in_words():
    from issue_summarizer.app.data_sources import load_upload

    frame = pd.DataFrame({"title": ["a", "b", "c"], "body": ["\x01\x02\x03\x04" * 30] * 3})
    loaded = load_upload("binary.csv", frame.to_csv(index=False).encode())
    assert len(loaded.frame) == 3  # Loading keeps them: the bodies are text, only unreadable.
    with pytest.raises(DataLoadError, match=r"^binary.csv: no row has a readable body"):
        holdout.upload_evaluation_rows(loaded)
    frame.loc[1, "body"] = "The parser crashes on start."
    rows = holdout.upload_evaluation_rows(load_upload("mixed.csv", frame.to_csv(index=False).encode()), limit=10)
    assert rows["title"].tolist() == ["b"] and rows.index.tolist() == [0]


def test_bodies_cut_in_the_predictions_are_recognised():
    from issue_summarizer.evaluation.metrics import PREDICTIONS_BODY_CHARS

    assert holdout.body_is_cut("x" * PREDICTIONS_BODY_CHARS)
    assert not holdout.body_is_cut("x" * (PREDICTIONS_BODY_CHARS - 1)) and not holdout.body_is_cut("")


def test_confidence_orders_use_the_calibrated_confidence_where_there_is_one():
    table = pd.DataFrame({"score": [-0.5, -1.0, -2.0], "confidence": [0.2, 0.7, 0.4]})
    assert holdout.sort_predictions(table, "Most confident first")["confidence"].tolist() == [0.7, 0.4, 0.2]
    assert holdout.sort_predictions(table, "Least confident first")["confidence"].tolist() == [0.2, 0.4, 0.7]
    uncalibrated = table.assign(confidence=None)
    assert holdout.sort_predictions(uncalibrated, "Most confident first")["score"].tolist() == [-0.5, -1.0, -2.0]
    assert holdout.sort_predictions(table.drop(columns="confidence"), "Least confident first")["score"].tolist() == [
        -2.0,
        -1.0,
        -0.5,
    ]
