import pandas as pd
import pytest

from issue_summarizer.__main__ import main
from tests.conftest import REPO_ROOT, make_rows

pytestmark = pytest.mark.slow


def test_summarize_keeps_every_row_and_column(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=8))[["body"]].assign(ticket=range(8))
    rows.loc[3, "body"] = "   "
    rows.to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "summarize",
                "--model",
                str(trained_tiny_model),
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["ticket"].tolist() == list(range(8))
    assert list(out.columns) == ["body", "ticket", "predicted_title", "title_score", "problem"]
    assert out.loc[3, "predicted_title"] == "" and "empty" in out.loc[3, "problem"]
    assert all(out.loc[row, "predicted_title"] for row in range(8) if row != 3)
    assert "1 without a title" in capsys.readouterr().out


def test_summarize_jsonl_with_the_shipped_model(tmp_path):
    pd.DataFrame(make_rows(count=5)).to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    assert (
        main(
            [
                "summarize",
                "--input",
                str(tmp_path / "in.jsonl"),
                "--output",
                str(tmp_path / "out.jsonl"),
                "--model",
                str(REPO_ROOT / "model"),
                "--beam-width",
                "3",
            ]
        )
        == 0
    )
    out = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert len(out) == 5 and out["predicted_title"].str.len().gt(0).all() and "repo" in out.columns


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nowhere"], "no such model directory"),
        (["--output", "out.txt"], "unknown output type"),
    ],
)
def test_summarize_errors_are_one_line(tmp_path, capsys, args, message):
    pd.DataFrame(make_rows(count=2)).to_csv(tmp_path / "in.csv", index=False)
    base = {
        "--model": str(REPO_ROOT / "model"),
        "--input": str(tmp_path / "in.csv"),
        "--output": str(tmp_path / "o.csv"),
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["summarize"] + [item for pair in base.items() for item in pair]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_summarize_wrong_csv_schema(tmp_path, capsys):
    pd.DataFrame({"name": ["x"]}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "summarize",
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "o.csv"),
                "--model",
                str(REPO_ROOT / "model"),
            ]
        )
        == 2
    )
    assert "missing body" in capsys.readouterr().err
