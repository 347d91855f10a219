import numpy as np
import pytest

from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.inference.summarizer import Summarizer
from issue_summarizer.models.building import (
    build_attention_map,
    build_decoder_step,
    build_encoder,
    build_training_model,
)
from tests.models.test_building import random_inputs

pytestmark = pytest.mark.slow

CONFIG = CONFIGURATIONS["tiny-transformer"]


def post_padded_inputs(config, padding=10, seed=0):
    """Random inputs with the padding after the body, as the Transformer configurations pad."""
    body, copy, titles = random_inputs(config, padding=0, seed=seed)
    body[:, config.body_length - padding :] = 0
    copy[:, config.body_length - padding :] = 0
    return body, copy, titles


def test_transformer_outputs_distributions_and_copy_attention_over_real_tokens():
    model = build_training_model(CONFIG)
    body, copy, titles = post_padded_inputs(CONFIG, padding=12)
    probabilities = np.asarray(model([body, copy, titles]))
    assert probabilities.shape == (8, CONFIG.title_length - 1, CONFIG.title_vocab_size + CONFIG.body_length)
    assert np.allclose(probabilities.sum(axis=-1), 1, atol=1e-4)
    weights = np.asarray(build_attention_map(model, CONFIG)([body, copy, titles]))
    assert weights.shape == (8, CONFIG.title_length - 1, CONFIG.body_length)
    # The copy distribution is a distribution over the body's real tokens only.
    assert np.allclose(weights.sum(axis=-1), 1, atol=1e-5)
    assert np.abs(weights[:, :, -12:]).max() < 1e-6


def test_transformer_decoder_step_over_the_prefix_matches_the_training_model():
    config = CONFIG.updated(transformer_layers=2)
    model = build_training_model(config)
    body, copy, titles = post_padded_inputs(config)
    full = np.asarray(model([body, copy, titles], training=False))
    state, outputs = (np.asarray(value) for value in build_encoder(model, config)(body))
    assert state.shape == (8, config.hidden_dim)
    step = build_decoder_step(model, config)
    for position in range(4):
        probabilities, weights = (np.asarray(value) for value in step([titles[:, : position + 1], outputs, body, copy]))
        assert np.allclose(probabilities, full[:, position], atol=1e-4)
        assert np.allclose(weights.sum(axis=-1), 1, atol=1e-5)


def test_width_must_split_evenly_into_heads():
    with pytest.raises(ValueError, match="multiple of attention_heads"):
        CONFIG.updated(hidden_dim=30, attention_heads=4)


@pytest.fixture(scope="module")
def trained_transformer(tmp_path_factory):
    """The tiny Transformer trained once on titles that must copy an unseen identifier."""
    from issue_summarizer.cli.main import main
    from tests.conftest import make_copy_rows, write_jsonl_gz

    directory = tmp_path_factory.mktemp("transformer")
    data = write_jsonl_gz(directory / "copy_train.jsonl.gz", make_copy_rows())
    argv = ["train", "--data", str(data), "--out", str(directory / "model"), "--config", "tiny-transformer"]
    assert main([*argv, "--workers", "1"]) == 0
    return directory / "model"


def test_transformer_loss_falls_and_it_copies_identifiers_missing_from_the_vocabulary(trained_transformer):
    import json

    from tests.conftest import assert_copies_unseen_identifiers

    history = json.loads((trained_transformer / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0] / 3
    summarizer = Summarizer.load(trained_transformer)
    assert summarizer.config.architecture == "transformer"
    rows = assert_copies_unseen_identifiers(summarizer)
    explanation = summarizer.explain(rows[0]["body"])
    assert explanation.attention.shape == (len(explanation.title_words) + 1, len(explanation.body_tokens))
    assert any(explanation.copied)
    assert summarizer.embed([row["body"] for row in rows[:3]]).shape == (3, summarizer.config.hidden_dim)


def test_transformer_beam_search_finishes_titles_and_reload_decodes_identically(trained_transformer, tmp_path):
    import shutil

    from tests.conftest import make_copy_rows

    bodies = [row["body"] for row in make_copy_rows(count=12, seed=5)]
    summarizer = Summarizer.load(trained_transformer)
    greedy = summarizer.generate_titles(bodies, beam_width=1)
    beam = summarizer.generate_titles(bodies, beam_width=4, num_alternatives=2)
    assert all(len(alternatives) == 2 and alternatives[0].finished for alternatives in beam)
    assert all(alternatives[0].finished for alternatives in greedy)
    copy = tmp_path / "copy"
    shutil.copytree(trained_transformer, copy)
    assert Summarizer.load(copy).summarize(bodies, beam_width=4) == summarizer.summarize(bodies, beam_width=4)
