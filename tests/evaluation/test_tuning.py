"""`tune`: choose decoding defaults on validation rows and save them into the model's configuration."""

import json
import shutil

import pytest

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.evaluation.tuning import candidate_options, score_options
from issue_summarizer.inference.decoding import TUNED_SETTINGS, DecodingOptions
from issue_summarizer.inference.summarizer import Summarizer

pytestmark = pytest.mark.slow


def test_the_grid_skips_length_penalties_for_greedy_decoding():
    candidates = candidate_options(11)
    assert all(option.length_penalty == 1.0 for option in candidates if option.beam_width == 1)
    assert len({(o.beam_width, o.length_penalty, o.no_repeat_ngram_size, o.min_length) for o in candidates}) == len(
        candidates
    )


def test_tune_scores_restored_titles_and_saves_the_best_settings(trained_tiny_model, tmp_path):
    from issue_summarizer.cli.main import main

    model = tmp_path / "model"
    shutil.copytree(trained_tiny_model, model, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
    summarizer = Summarizer.load(model)
    body = "The parser crashes with a segmentation fault on windows."
    options = DecodingOptions(max_length=summarizer.config.title_length - 1)
    assert 0.0 <= score_options(summarizer, [body], ["parser crash on windows"], options) <= 1.0
    data = trained_tiny_model.parent.parent / "tiny_train.jsonl.gz"
    before = SummarizerConfig.load(model)
    arguments = ["tune", "--model", str(model), "--data", str(data), "--rows", "20", "--beam-widths", "1", "3"]
    assert main([*arguments, "--length-penalties", "1.4", "--ngram-blocks", "0", "1", "--min-lengths", "0"]) == 0
    tuning = json.loads((model / "tuning.json").read_text())
    results = tuning["results"]
    # The narrowed grid (greedy twice, beam 3 twice) plus the model's current setting, scored first.
    assert {(row["beam_width"], row["length_penalty"], row["no_repeat_ngram_size"]) for row in results} >= {
        (1, 1.0, 0),
        (1, 1.0, 1),
        (3, 1.4, 0),
        (3, 1.4, 1),
    }
    current = [row for row in results if row["current"]]
    assert len(current) == 1 and current[0]["gain"] == current[0]["gain_low"] == current[0]["gain_high"] == 0.0
    assert [row["rougeL"] for row in results] == sorted((row["rougeL"] for row in results), reverse=True)
    assert all(row["gain_low"] <= row["gain"] <= row["gain_high"] for row in results)
    assert all(0.0 <= row["repeats_a_word"] <= 1.0 for row in results)
    # The best setting whose titles repeat words no more often than the current one's replaces
    # the current one, and only when its gain over it is significant.
    best = next(row for row in results if row["repeats_a_word"] <= current[0]["repeats_a_word"])
    config = SummarizerConfig.load(model)
    chosen = best if tuning["changed"] else current[0]
    assert tuning["changed"] == (best["gain_low"] > 0)
    assert tuning["chosen"] == {key: chosen[key] for key in TUNED_SETTINGS}
    assert (config.beam_width, config.length_penalty, config.no_repeat_ngram_size) == (
        chosen["beam_width"],
        chosen["length_penalty"],
        chosen["no_repeat_ngram_size"],
    )
    if not tuning["changed"]:
        assert config == before


def test_tune_without_validation_rows_says_so(trained_tiny_model, tmp_path, capsys):
    import shutil

    import pandas as pd

    from issue_summarizer.cli.main import main
    from issue_summarizer.data.splitting import RepositorySplit
    from tests.conftest import write_jsonl_gz

    model = tmp_path / "model"
    shutil.copytree(trained_tiny_model, model, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
    before = (model / "config.json").read_bytes()
    names = RepositorySplit.load(model / "split.json").name_of()
    rows = pd.read_json(trained_tiny_model.parent.parent / "tiny_train.jsonl.gz", lines=True)
    training_only = write_jsonl_gz(
        tmp_path / "train_only.jsonl.gz", rows[rows["repo"].map(names) == "train"].to_dict("records")
    )
    assert main(["tune", "--model", str(model), "--data", str(training_only), "--beam-widths", "1"]) == 2
    error = capsys.readouterr().err
    assert "no validation rows to tune on" in error and "Traceback" not in error and "KeyError" not in error
    assert (model / "config.json").read_bytes() == before and not (model / "tuning.json").exists()
