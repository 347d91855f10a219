import json
import os

import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from issue_summarizer.evaluation.metrics import repeats_a_word, score_titles, surface_measures
from tests.conftest import REPO_ROOT, SHARED_CORPUS, has_shared_corpus, make_rows, write_jsonl_gz


def test_scores_of_perfect_and_empty_predictions():
    metrics, rows = score_titles(["parser crash on linux", ""], ["parser crash on linux", "cache leak"])
    assert rows["rougeL"].tolist() == [1.0, 0.0]
    assert metrics["empty_share"] == 0.5 and metrics["rows"] == 2


def test_nothing_to_score_is_refused_before_sacrebleu_fails_on_it():
    from issue_summarizer.evaluation.metrics import evaluate_frame

    with pytest.raises(ValueError, match="no titles to score"):
        score_titles([], [])
    # Refused before the model is touched, so no model is needed to see it.
    empty = pd.DataFrame({"repo": [], "title": [], "body": []}, dtype=object)
    with pytest.raises(ValueError, match="no issues to evaluate"):
        evaluate_frame(None, empty)


def test_repeats_a_word():
    assert repeats_a_word("error error error") and not repeats_a_word("error in error handling")


def test_surface_measures_count_unfinished_unbalanced_and_stray_prefixed_titles():
    titles = [
        "app crashes when the",
        'fails on "foo',
        "ios: app crashes",
        "macOS: app crashes on start",
    ]
    bodies = ["The Electron app crashes on start on macOS."] * 4
    measures = surface_measures(titles, titles, [False] * 4, bodies)
    assert measures["function_word_share"] == 0.25
    assert measures["unbalanced_share"] == 0.25
    assert measures["stray_prefix_share"] == 0.25  # ios: is stray; the body names macOS.
    # Without the bodies there is no telling a stray prefix.
    assert surface_measures(titles, titles, [False] * 4)["stray_prefix_share"] is None
    with pytest.raises(ValueError, match="4 titles but 1 bodies"):
        surface_measures(titles, titles, [False] * 4, bodies[:1])


@pytest.mark.slow
def test_evaluate_writes_metrics_and_predictions_with_the_lead_baseline(trained_tiny_model, tmp_path, capsys):
    data = tmp_path / "eval.jsonl.gz"
    # A body the model refuses (binary) keeps its row with an empty title instead of stopping the run.
    binary = {"repo": "owner0/project0", "title": "crash dump", "body": "\x00\x01\x02\x03" * 40, "source": "tests"}
    write_jsonl_gz(data, [*make_rows(count=60, seed=7), binary])
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(trained_tiny_model),
                "--data",
                str(data),
                "--split",
                "all",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "out" / "metrics_all.json").read_text())
    assert set(metrics) >= {"model", "lead_12"} and metrics["model"]["rows"] == 61
    assert metrics["model"]["refused_bodies"] == 1
    assert metrics["model"]["rougeL"] > metrics["lead_12"]["rougeL"]
    predictions = pd.read_json(tmp_path / "out" / "predictions_all.jsonl.gz", lines=True)
    assert {"predicted_title", "title", "body", "rougeL", "repo"} <= set(predictions.columns)
    assert predictions["predicted_title"].iloc[-1] == "" and predictions["rougeL"].iloc[-1] == 0
    assert "ROUGE-L" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_on_foreign_data_explains_the_split_option(trained_tiny_model, tmp_path, capsys):
    data = write_jsonl_gz(tmp_path / "other.jsonl.gz", [dict(row, repo="new/repo") for row in make_rows(20)])
    assert main(["evaluate", "--model", str(trained_tiny_model), "--data", str(data)]) == 2
    assert "--split all" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_runs_on_the_shipped_model(tmp_path):
    data = write_jsonl_gz(tmp_path / "few.jsonl.gz", make_rows(count=12, seed=3))
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(REPO_ROOT / "model"),
                "--data",
                str(data),
                "--split",
                "all",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )


def copy_of_model(model, directory):
    import shutil

    shutil.copytree(model, directory, ignore=shutil.ignore_patterns("checkpoints"))
    return directory


@pytest.mark.slow
def test_a_partial_or_non_default_evaluation_never_replaces_the_model_card(trained_tiny_model, tmp_path, capsys):
    from issue_summarizer.config import SummarizerConfig
    from issue_summarizer.evaluation.metrics import metrics_directory

    model = copy_of_model(trained_tiny_model, tmp_path / "model")
    card = (model / "metrics.json").read_bytes()
    predictions = (model / "predictions_test.jsonl.gz").read_bytes()
    own = SummarizerConfig.load(model).beam_width
    data = trained_tiny_model.parent.parent / "tiny_train.jsonl.gz"
    evaluate = ["evaluate", "--model", str(model), "--data", str(data)]
    for extra, reason in [
        (["--limit", "60"], "--limit 60 reads only part of the data"),
        (["--beam-width", str(own + 2)], f"--beam-width {own + 2} is not the model's own width ({own})"),
        (["--limit", "60", "--out", str(model / ".")], "--limit 60"),
    ]:
        assert main([*evaluate, *extra]) == 2
        error = capsys.readouterr().err
        assert reason in error and "--out DIR" in error and len(error.strip().splitlines()) == 1
    assert (model / "metrics.json").read_bytes() == card
    assert (model / "predictions_test.jsonl.gz").read_bytes() == predictions
    # Only the test split's metrics.json is the card: a quick look at validation may go beside it.
    assert metrics_directory(model, None, "validation", own + 2, 60) == model
    # Elsewhere, the same quick evaluation runs, and the model's own files stay as they were.
    assert main([*evaluate, "--limit", "60", "--beam-width", str(own + 2), "--out", str(tmp_path / "quick")]) == 0
    assert json.loads((tmp_path / "quick" / "metrics.json").read_text())["decoding"]["beam_width"] == own + 2
    assert (model / "metrics.json").read_bytes() == card
    # Naming the model's own width is still its standard evaluation.
    assert metrics_directory(model, None, "test", own, None) == model
    with pytest.raises(ValueError, match="got 0"):
        metrics_directory(model, tmp_path / "elsewhere", "test", 0, None)


@pytest.mark.slow
def test_the_standard_evaluation_writes_the_model_card(trained_tiny_model, tmp_path):
    model = copy_of_model(trained_tiny_model, tmp_path / "model")
    (model / "metrics.json").unlink()
    data = trained_tiny_model.parent.parent / "tiny_train.jsonl.gz"
    assert main(["evaluate", "--model", str(model), "--data", str(data)]) == 0
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["model"]["rows"] > 0


@pytest.mark.slow
def test_limit_counts_the_rows_of_the_chosen_split_not_of_the_file(trained_tiny_model, tmp_path):
    from issue_summarizer.data.splitting import RepositorySplit

    data = trained_tiny_model.parent.parent / "tiny_train.jsonl.gz"
    validation = set(RepositorySplit.load(trained_tiny_model / "split.json").validation)
    first_rows = pd.read_json(data, lines=True).head(5)
    # The file's first 5 rows are not all validation rows, so a limit counted before the split fell short.
    assert not set(first_rows["repo"]) <= validation
    out = tmp_path / "quick"
    argv = ["evaluate", "--model", str(trained_tiny_model), "--data", str(data), "--split", "validation"]
    assert main([*argv, "--limit", "5", "--out", str(out)]) == 0
    assert json.loads((out / "metrics_validation.json").read_text())["model"]["rows"] == 5
    predictions = pd.read_json(out / "predictions_validation.jsonl.gz", lines=True)
    assert len(predictions) == 5 and set(predictions["repo"]) <= validation


@pytest.mark.slow
@pytest.mark.skipif(not has_shared_corpus(), reason="needs the shared corpus")
def test_a_limited_validation_evaluation_of_the_shipped_model_on_the_corpus(tmp_path):
    argv = ["evaluate", "--model", str(REPO_ROOT / "model"), "--data", str(SHARED_CORPUS), "--split", "validation"]
    assert main([*argv, "--limit", "4", "--beam-width", "1", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "metrics_validation.json").read_text())["model"]["rows"] == 4


def test_an_unusable_out_is_refused_before_the_model_loads(tmp_path, capsys):
    data = write_jsonl_gz(tmp_path / "few.jsonl.gz", make_rows(count=4))
    existing_file = tmp_path / "results"
    existing_file.write_text("not a directory")
    # The missing model shows that the check comes before the model is loaded.
    evaluate = ["evaluate", "--model", str(tmp_path / "no-model"), "--data", str(data), "--split", "all"]
    assert main([*evaluate, "--out", str(existing_file)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {existing_file}: a file, not a directory; --out names the directory to write\n"
    )
    assert main([*evaluate, "--out", str(existing_file / "inside")]) == 2
    assert capsys.readouterr().err == (
        f"error: {existing_file / 'inside'}: cannot be written: {existing_file} is a file, not a directory; "
        "choose another --out\n"
    )
    if os.geteuid() != 0:  # Root writes anywhere, so a read-only directory cannot be shown to it.
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        assert main([*evaluate, "--out", str(locked)]) == 2
        assert "locked is not writable (permission denied); choose another --out" in capsys.readouterr().err


@pytest.mark.slow
def test_a_split_without_rows_in_the_data_says_which_split(trained_tiny_model, tmp_path, capsys):
    from issue_summarizer.data.splitting import RepositorySplit

    names = RepositorySplit.load(trained_tiny_model / "split.json").name_of()
    data = trained_tiny_model.parent.parent / "tiny_train.jsonl.gz"
    rows = pd.read_json(data, lines=True)
    only_train = write_jsonl_gz(
        tmp_path / "train_only.jsonl.gz", rows[rows["repo"].map(names) == "train"].to_dict("records")
    )
    argv = ["evaluate", "--model", str(trained_tiny_model), "--data", str(only_train), "--split", "test"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {only_train}: none of its ") and "rows is in the model's test split" in error
