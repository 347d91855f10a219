"""`similar`: the k most similar other rows of every row of a file, by the hybrid search."""

import json

import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from tests.conftest import make_rows


def write_rows(path, rows: pd.DataFrame):
    rows.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.slow
def test_similar_writes_k_other_rows_for_every_row_and_keeps_the_input(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=25, seed=4)).assign(note=[f"cell {number}" for number in range(25)])
    rows.loc[6, "body"] = "   "
    source = write_rows(tmp_path / "in.jsonl", rows)
    output = tmp_path / "similar.csv"
    argv = ["similar", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(output)]
    assert main([*argv, "--k", "5"]) == 0
    assert "wrote 25 rows" in capsys.readouterr().out
    written = pd.read_csv(output, keep_default_na=False)
    # Every row, in order, with its own cells.
    assert written["note"].tolist() == rows["note"].tolist() and written["title"].tolist() == rows["title"].tolist()
    neighbours = [json.loads(cell) for cell in written["neighbour_rows"]]
    scores = [json.loads(cell) for cell in written["neighbour_scores"]]
    for number, (found, fused) in enumerate(zip(neighbours, scores, strict=True), start=1):
        if number == 7:  # Row 7 (counted from 1) has no body: no neighbours, and a reason.
            assert found == [] and fused == [] and "empty" in written.loc[6, "problem"]
            continue
        assert len(found) == 5 and len(set(found)) == 5
        assert number not in found and 7 not in found and all(1 <= row <= 25 for row in found)
        assert fused == sorted(fused, reverse=True) and written.loc[number - 1, "problem"] == ""


@pytest.mark.slow
def test_similar_writes_lists_in_parquet(trained_tiny_model, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", pd.DataFrame(make_rows(count=12, seed=2)))
    output = tmp_path / "similar.parquet"
    argv = ["similar", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(output)]
    assert main([*argv, "--k", "3"]) == 0
    written = pd.read_parquet(output)
    assert [len(found) for found in written["neighbour_rows"]] == [3] * 12


def test_a_file_of_fewer_than_k_plus_one_usable_rows_is_refused_in_one_line_before_the_model_loads(tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=5))
    rows.loc[0, "body"] = ""
    source = write_rows(tmp_path / "in.jsonl", rows)
    argv = [
        "similar",
        "--model",
        str(tmp_path / "no-model"),
        "--input",
        str(source),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert main([*argv, "--k", "4"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"error: {source}: --k 4 needs at least 5 rows with a usable body (a row's neighbours are other rows), "
        "and the file has 4; add rows or lower --k"
    )
    assert not (tmp_path / "o.csv").exists()


def test_similar_refuses_an_input_with_a_column_it_writes(tmp_path, capsys):
    source = write_rows(tmp_path / "in.jsonl", pd.DataFrame(make_rows(count=5)).assign(neighbour_rows=1))
    argv = [
        "similar",
        "--model",
        str(tmp_path / "no-model"),
        "--input",
        str(source),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert main(argv) == 2
    assert "already has a column neighbour_rows, which similar writes" in capsys.readouterr().err
