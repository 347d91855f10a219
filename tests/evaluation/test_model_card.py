import json

import pandas as pd
import pytest

from issue_summarizer.config import CONFIGURATIONS, SummarizerConfig
from issue_summarizer.evaluation.model_card import (
    configuration_table,
    data_summary,
    history_frame,
    layer_table,
    metrics_table,
    read_model_card,
    split_table,
    vocabulary_table,
    weights_description,
)
from issue_summarizer.inference.summarizer import ModelDirectoryError

METRICS = {
    "model": {"rouge1": 0.3, "rouge2": 0.1, "rougeL": 0.28, "bleu": 5.5, "rows": 10},
    "lead_12": {"rouge1": 0.2, "rouge2": 0.08, "rougeL": 0.18, "bleu": 7.0, "rows": 10},
    "beam_width": 1,
}
PROVENANCE = {
    "source": "issues.jsonl.gz",
    "rows_read": 100,
    "split": {"train": {"rows": 80, "repositories": 8}, "test": {"rows": 20, "repositories": 2}},
    "body_vocabulary": {"size": 300, "train_coverage": 0.95, "test_coverage": 0.9},
}


@pytest.fixture
def model_directory(tmp_path):
    SummarizerConfig().save(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    (tmp_path / "provenance.json").write_text(json.dumps(PROVENANCE))
    (tmp_path / "history.json").write_text(json.dumps({"loss": [3.0, 2.5], "val_loss": [3.2, 3.1]}))
    return tmp_path


def test_reads_every_file_and_tolerates_missing_optional_ones(model_directory):
    card = read_model_card(model_directory)
    assert card.config.name == "seed" and card.metrics == METRICS and card.training is None
    assert card.averaging is None


def test_the_overview_says_which_weights_are_shipped(model_directory):
    assert weights_description(None) == "improving and keeps the best epoch's weights."
    averaging = {"checkpoints": ["epoch-04.keras", "epoch-05.keras"], "averaged_loss": 2.6393, "kept": True}
    (model_directory / "averaging.json").write_text(json.dumps(averaging))
    card = read_model_card(model_directory)
    assert weights_description(card.averaging) == (
        "improving; the shipped weights are the mean of the last 2 epochs' weights (validation loss 2.639)."
    )
    # An average that did not help was not kept: the best epoch's weights are.
    assert weights_description({**averaging, "kept": False}) == "improving and keeps the best epoch's weights."


def test_a_directory_without_a_configuration_is_refused(tmp_path):
    with pytest.raises(ModelDirectoryError, match="no such model directory"):
        read_model_card(tmp_path / "missing")
    with pytest.raises(ModelDirectoryError, match="config.json is missing"):
        read_model_card(tmp_path)
    SummarizerConfig().save(tmp_path)
    (tmp_path / "history.json").write_text("{broken")
    with pytest.raises(ModelDirectoryError, match="history.json: not valid JSON"):
        read_model_card(tmp_path)


def test_tables(model_directory):
    card = read_model_card(model_directory)
    metrics = metrics_table(card.metrics)
    assert metrics["system"].tolist() == ["Model", "First 12 body words"]
    assert metrics.loc[0, "ROUGE-L"] == 0.28 and metrics.loc[1, "BLEU"] == 7.0
    history = history_frame(card.history)
    assert len(history) == 4 and set(history["series"]) == {"training", "validation"}
    assert history["epoch"].max() == 2
    assert split_table(card.provenance)["rows"].tolist() == [80, 20]
    assert vocabulary_table(card.provenance)["vocabulary"].tolist() == ["body"]
    configuration = configuration_table(card.config).set_index("setting")["value"]
    assert configuration["body_length"] == "70" and "lowercase" in configuration["cleaning"]


def test_layer_table_counts_every_parameter():
    from issue_summarizer.models.building import build_training_model

    model = build_training_model(CONFIGURATIONS["tiny"], compile=False)
    table = layer_table(model)
    assert table["parameters"].sum() == model.count_params()
    assert "encoder_gru" in table["layer"].tolist()


def test_layer_shapes_are_written_for_a_person():
    from issue_summarizer.evaluation.model_card import readable_shape
    from issue_summarizer.models.building import build_training_model

    # The batch dimension goes; a length that varies is "words"; sizes get thousands separators.
    assert readable_shape((None, None, 128), sequence=True) == "words × 128"
    assert readable_shape((None, 70, 4500), sequence=True) == "70 words × 4,500"
    assert readable_shape((None, 512), sequence=False) == "512"
    assert readable_shape((None, None), sequence=True) == "words"
    assert readable_shape((None,), sequence=False) == "one value"
    config = CONFIGURATIONS["tiny-attention"]
    shapes = layer_table(build_training_model(config, compile=False)).set_index("layer")["output shape"]
    assert not shapes.str.contains("None").any() and not shapes.str.startswith("(").any()
    body = "words" if shapes["body_ids"] == "words" else f"{config.body_length} words"
    assert shapes["body_ids"] == body and shapes["body_embedding"] == f"{body} × {config.embedding_dim}"
    assert shapes["title_ids"] == "words"
    # A GRU returns its sequence and its final states: the sequence is shown, the states counted.
    assert shapes["decoder_gru"] == f"words × {config.hidden_dim} (+1 more output)"


def test_quality_table_has_one_row_per_system():
    from issue_summarizer.evaluation.model_card import quality_table

    quality = {
        "rows": [
            {"titles": "lead-12", "rouge1": 0.2, "rouge2": 0.1, "rougeL": 0.18, "bleu": 7.4, "copy_rate": None},
            {"titles": "attention", "rouge1": 0.24, "rouge2": 0.1, "rougeL": 0.22, "bleu": 9.7, "copy_rate": 0.55},
        ]
    }
    table = quality_table(quality)
    assert table["titles"].tolist() == ["lead-12", "attention"]
    assert table["ROUGE-L"].tolist() == [0.18, 0.22] and "copy rate" in table.columns
    assert quality_table({}).empty


def test_metrics_table_and_decoding_read_old_and_new_metrics():
    from issue_summarizer.evaluation.model_card import decoding_description

    # Old shape: a top-level beam width and no copy rate.
    assert "copy rate" not in metrics_table(METRICS).columns
    assert decoding_description(METRICS) == "greedy decoding"
    assert decoding_description({"beam_width": 5}) == "beam width 5"
    assert decoding_description({}) == "greedy decoding"
    # New shape: the model's copy rate and a `decoding` dict.
    new = {
        "model": {**METRICS["model"], "copy_rate": 0.55},
        "lead_12": METRICS["lead_12"],
        "decoding": {"beam_width": 4, "length_penalty": 1.4, "no_repeat_ngram_size": 2, "min_length": 0},
    }
    table = metrics_table(new)
    assert table["copy rate"].tolist()[0] == 0.55 and pd.isna(table["copy rate"].tolist()[1])
    assert list(table.columns) == ["system", "ROUGE-1", "ROUGE-2", "ROUGE-L", "BLEU", "copy rate", "rows"]
    assert decoding_description(new) == "beam width 4, length penalty 1.4, no repeated 2-word phrases"
    greedy = {"decoding": {"beam_width": 1, "length_penalty": 1.0, "no_repeat_ngram_size": 0, "min_length": 3}}
    assert decoding_description(greedy) == "greedy decoding, at least 3 words"
    words = {"decoding": {"beam_width": 4, "length_penalty": 2.0, "no_repeat_ngram_size": 1, "min_length": 0}}
    assert decoding_description(words) == "beam width 4, length penalty 2, no repeated words"


def test_measures_are_formatted_and_missing_ones_are_a_dash():
    from issue_summarizer.evaluation.model_card import NOT_APPLICABLE, format_measure

    assert NOT_APPLICABLE == "–"
    assert [format_measure("copy_rate", value) for value in (None, float("nan"), "?", True)] == ["–"] * 4
    assert format_measure("copy_rate", 0.6051) == "60.5%" and format_measure("tag_share", 0) == "0.0%"
    assert format_measure("bleu", 10.94) == "10.9" and format_measure("rougeL", 0.25664) == "0.257"
    assert format_measure("rougeL_raw", 1) == "1.000"


def test_the_quality_comparison_splits_into_scores_and_how_titles_read():
    from issue_summarizer.evaluation.model_card import (
        QUALITY_READING_COLUMNS,
        QUALITY_SCORE_COLUMNS,
        quality_display_table,
    )

    quality = {
        "rows": [
            {"titles": "real titles", "placeholder_share": 0.0, "rougeL_raw": 0.9998},
            {"titles": "lead-12", "rouge1": 0.2, "rougeL": 0.18, "bleu": 7.4, "copy_rate": None, "tag_share": 0.01},
            {"titles": "attention (`model/`)", "rouge1": 0.28, "rougeL": 0.26, "bleu": 11.0, "copy_rate": 0.61},
        ]
    }
    scores = quality_display_table(quality, QUALITY_SCORE_COLUMNS)
    # The real titles have no scores against themselves; measures no system has are left out.
    assert scores.index.tolist() == ["lead-12", "attention (model/)"]
    assert list(scores.columns) == ["ROUGE-1", "ROUGE-L", "BLEU", "copy rate"]
    assert scores.loc["lead-12"].tolist() == ["0.200", "0.180", "7.4", "–"]
    assert scores.loc["attention (model/)", "copy rate"] == "61.0%"
    reading = quality_display_table(quality, QUALITY_READING_COLUMNS)
    assert reading.index.tolist() == ["real titles", "lead-12"]
    assert list(reading.columns) == ["placeholder", "leading tag", "ROUGE-L raw"]
    assert reading.loc["lead-12"].tolist() == ["–", "1.0%", "–"]
    assert not (scores.isin(["None", "nan"]).any().any() or reading.isin(["None", "nan"]).any().any())
    assert quality_display_table({}, QUALITY_SCORE_COLUMNS).empty


def test_quality_file_is_read_and_its_labels_lose_markdown(model_directory):
    from issue_summarizer.evaluation.model_card import QUALITY_FILE, quality_table

    assert read_model_card(model_directory).quality is None
    quality = {
        "command": "python bench/quality.py",
        "test_rows": 20,
        "test_repositories": 2,
        "rows": [
            {"titles": "lead-12", "rougeL": 0.18, "empty_share": 0.0, "repeat_share": 0.05},
            {"titles": "seed (seed, greedy)", "rougeL": 0.1, "copy_rate": None},
            {"titles": "attention (`model/`, beam 4)", "rougeL": 0.22, "copy_rate": 0.55},
            "not a row",
        ],
    }
    (model_directory / QUALITY_FILE).write_text(json.dumps(quality))
    card = read_model_card(model_directory)
    assert card.quality == quality
    table = quality_table(card.quality)
    assert table["titles"].tolist() == ["lead-12", "seed (seed, greedy)", "attention (model/, beam 4)"]
    assert list(table.columns) == [
        "titles",
        "ROUGE-1",
        "ROUGE-2",
        "ROUGE-L",
        "BLEU",
        "copy rate",
        "empty",
        "repeats a word 3×",
        "placeholder",
        "token spacing",
        "leading tag",
        "unfinished",
        "ends on a function word",
        "unbalanced marks",
        "stray prefix",
        "ROUGE-L cased",
        "ROUGE-L raw",
    ]
    assert table["copy rate"].tolist()[2] == 0.55 and pd.isna(table.loc[0, "copy rate"])
    assert table.loc[0, "repeats a word 3×"] == 0.05


def test_configuration_table_names_the_architecture_and_tuned_decoding():
    config = CONFIGURATIONS["tiny-attention"].updated(beam_width=4, length_penalty=1.4)
    values = configuration_table(config).set_index("setting")["value"]
    assert values["architecture"] == "attention" and values["beam_width"] == "4"
    assert values["length_penalty"] == "1.4"


def test_the_data_summary_makes_the_split_add_up_and_names_files_without_directories():
    provenance = {
        "source": "/srv/private/data/github_issues.jsonl.gz",
        "rows_read": 1_000,
        "rows_left_out_by_repository_caps": 300,
        "rows_dropped_in_pipeline": {"train: title has no known word": 4, "validation: title has no known word": 1},
        "extra_training_data": {"sources": ["/srv/private/data/pull_requests.jsonl.gz"], "rows_read": 500},
        "split": {"train": {"rows": 1_000}, "validation": {"rows": 95}, "test": {"rows": 100}},
    }
    text = data_summary(provenance)
    assert "/srv" not in text
    assert "`github_issues.jsonl.gz`: 1,000 issues read" in text
    assert "500 training rows from 1 more file (`pull_requests.jsonl.gz`)" in text
    assert "300 by the cap on rows per repository and 5 as unusable" in text
    # What was read, less what was left out, is what the split table shows.
    assert 1_000 + 500 - 300 - 5 == sum(split["rows"] for split in provenance["split"].values())
    assert data_summary({"source": "issues.csv", "rows_read": 7}) == "`issues.csv`: 7 issues read."
    # Extra rows from evaluation repositories are counted with the capped ones, but are not capped rows.
    provenance["extra_training_data"]["rows_from_evaluation_repositories_left_out"] = 20
    assert "280 by the cap on rows per repository, 20 extra rows from validation or test repositories and 5" in (
        data_summary(provenance)
    )
