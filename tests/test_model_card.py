import json

import pytest

from issue_summarizer.config import CONFIGURATIONS, SummarizerConfig
from issue_summarizer.model_card import (
    configuration_table,
    history_frame,
    layer_table,
    metrics_table,
    read_model_card,
    split_table,
    vocabulary_table,
)
from issue_summarizer.summarizer import ModelDirectoryError

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
    from issue_summarizer.model import build_training_model

    model = build_training_model(CONFIGURATIONS["tiny"], compile=False)
    table = layer_table(model)
    assert table["parameters"].sum() == model.count_params()
    assert "encoder_gru" in table["layer"].tolist()


def test_quality_table_has_one_row_per_system():
    from issue_summarizer.model_card import quality_table

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
