import json

import pytest

from issue_summarizer.config import CONFIGURATIONS, CleaningOptions, SummarizerConfig, named_configuration
from issue_summarizer.text.cleaning import clean_text


def test_round_trip_through_the_model_directory(tmp_path):
    config = CONFIGURATIONS["attention"].updated(cleaning=CleaningOptions(code_blocks="keep"), beam_width=4)
    config.save(tmp_path)
    assert SummarizerConfig.load(tmp_path) == config


def test_seed_defaults_match_the_tutorial():
    seed = CONFIGURATIONS["seed"]
    assert (seed.body_vocab_size, seed.title_vocab_size, seed.body_length, seed.title_length) == (8000, 4500, 70, 12)
    assert (seed.embedding_dim, seed.hidden_dim, seed.architecture) == (300, 300, "seed")


def test_older_directories_without_new_fields_still_load(tmp_path):
    (tmp_path / "config.json").write_text('{"name": "seed", "body_length": 70}')
    assert SummarizerConfig.load(tmp_path).beam_width == 1


def test_text_rules_missing_from_an_older_directory_load_switched_off(tmp_path):
    """A model saved before a text rule existed was trained without it, so it must read text
    without it, not with today's default."""
    saved = CONFIGURATIONS["attention"].to_dict()
    for name in ("literal_titles", "strip_title_tags"):
        del saved[name]
    del saved["cleaning"]["keep_short_punctuation_runs"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded = SummarizerConfig.load(tmp_path)
    assert not loaded.literal_titles and not loaded.strip_title_tags
    assert not loaded.cleaning.keep_short_punctuation_runs
    assert loaded.cleaning.split_brackets  # Present in the file, so kept as saved.
    # A directory that names every field loads exactly as saved.
    CONFIGURATIONS["attention"].save(tmp_path)
    assert SummarizerConfig.load(tmp_path) == CONFIGURATIONS["attention"]


def test_titles_are_cleaned_as_literal_text():
    # GitHub shows a title as typed, so `__init__` in a title is not markdown emphasis.
    title = "`__init__` of **Foo** fails"
    assert clean_text(title, SummarizerConfig().title_cleaning) == "`__init__` of **foo** fails"
    assert clean_text(title, SummarizerConfig(literal_titles=False).title_cleaning) == "init of foo fails"
    # Bodies are markdown whatever the setting.
    assert clean_text(title, SummarizerConfig().cleaning) == "init of foo fails"


@pytest.mark.parametrize(
    "content",
    [
        "{",
        '{"unknown_field": 1}',
        '{"architecture": "lstm"}',
        '{"title_length": 2}',
        '{"body_padding": "middle"}',
        '{"beam_width": 0}',
        '{"length_penalty": -1}',
        '{"min_title_length": -2}',
        '{"epochs": 0}',
        '{"batch_size": 0}',
        '{"patience": -1}',
        '{"learning_rate": -1}',
        '{"max_rows_per_train_repository": 0}',
    ],
)
def test_bad_configurations_are_refused(tmp_path, content):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ValueError, match="config.json"):
        SummarizerConfig.load(tmp_path)


def test_missing_configuration(tmp_path):
    with pytest.raises(ValueError, match="missing"):
        SummarizerConfig.load(tmp_path)


def test_configurations_are_found_by_name_or_listed():
    assert named_configuration("attention") is CONFIGURATIONS["attention"]
    with pytest.raises(ValueError, match="unknown configuration 'atention'; choose one of seed, attention"):
        named_configuration("atention")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1, got 0"),
        ({"epochs": -1}, "epochs must be at least 1, got -1"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"patience": -1}, "patience must not be negative, got -1"),
        ({"learning_rate": -1.0}, "learning_rate must be greater than 0, got -1.0"),
        ({"learning_rate": 0.0}, "learning_rate must be greater than 0, got 0.0"),
        ({"max_rows_per_train_repository": -1}, "max_rows_per_train_repository must be at least 1"),
        ({"max_rows_per_eval_repository": 0}, "max_rows_per_eval_repository must be at least 1, got 0"),
    ],
)
def test_out_of_range_training_settings_are_refused(changes, message):
    """An untrained model, gradient ascent or an empty batch would otherwise follow."""
    with pytest.raises(ValueError, match=message):
        CONFIGURATIONS["tiny"].updated(**changes)


def test_the_edges_of_the_training_ranges_are_accepted():
    config = CONFIGURATIONS["tiny"].updated(epochs=1, batch_size=1, patience=0, max_rows_per_train_repository=None)
    assert config.max_rows_per_train_repository is None
    assert CONFIGURATIONS["tiny"].updated(max_rows_per_train_repository=1).max_rows_per_train_repository == 1
