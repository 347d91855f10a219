from pathlib import Path

import numpy as np
import pytest

from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.models.building import (
    build_attention_map,
    build_decoder_step,
    build_encoder,
    build_training_model,
)
from issue_summarizer.models.layers import extended_vocabulary_size

pytestmark = pytest.mark.slow


def random_inputs(config, batch=8, padding=10, seed=0):
    rng = np.random.default_rng(seed)
    body = rng.integers(4, config.body_vocab_size, (batch, config.body_length)).astype("int32")
    body[:, :padding] = 0  # Bodies are padded in front.
    copy = rng.integers(4, extended_vocabulary_size(config), (batch, config.body_length)).astype("int32")
    copy[:, :padding] = 0
    titles = rng.integers(4, config.title_vocab_size, (batch, config.title_length - 1)).astype("int32")
    return body, copy, titles


@pytest.mark.parametrize("name", ["tiny", "tiny-attention"])
def test_training_model_outputs_distributions(name):
    config = CONFIGURATIONS[name]
    model = build_training_model(config)
    body, copy, titles = random_inputs(config)
    inputs = [body, copy, titles] if config.architecture == "attention" else [body, titles]
    probabilities = np.asarray(model(inputs))
    size = extended_vocabulary_size(config) if config.architecture == "attention" else config.title_vocab_size
    assert probabilities.shape == (8, config.title_length - 1, size)
    assert np.allclose(probabilities.sum(axis=-1), 1, atol=1e-4)


def test_attention_weights_sum_to_one_over_the_real_body_tokens():
    config = CONFIGURATIONS["tiny-attention"]
    model = build_training_model(config)
    body, copy, titles = random_inputs(config, padding=12)
    weights = np.asarray(build_attention_map(model, config)([body, copy, titles]))
    assert weights.shape == (8, config.title_length - 1, config.body_length)
    assert np.allclose(weights.sum(axis=-1), 1, atol=1e-5)
    assert np.abs(weights[:, :, :12]).max() < 1e-6


def test_luong_attention_scores_are_the_bilinear_form():
    """The layer projects the decoder's outputs rather than every body position; the scores
    must still be decoder_output · W · encoder_output, as the model was trained."""
    from issue_summarizer.models.attention import LuongAttention

    rng = np.random.default_rng(3)
    decoder_outputs = rng.normal(size=(2, 3, 4)).astype("float32")
    encoder_outputs = rng.normal(size=(2, 5, 6)).astype("float32")
    body = np.array([[0, 0, 7, 8, 9], [5, 6, 7, 8, 9]], dtype="int32")
    layer = LuongAttention(4)
    context, weights = (np.asarray(value) for value in layer(decoder_outputs, encoder_outputs, body))
    kernel = np.asarray(layer.kernel)
    scores = np.einsum("bsd,bpd->bsp", decoder_outputs, encoder_outputs @ kernel)
    scores[0, :, :2] = -np.inf
    expected = np.exp(scores - scores.max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-5)
    np.testing.assert_allclose(context, expected @ encoder_outputs, atol=1e-5)


def test_decoder_step_matches_the_training_model():
    config = CONFIGURATIONS["tiny-attention"]
    model = build_training_model(config)
    body, copy, titles = random_inputs(config)
    full = np.asarray(model([body, copy, titles]))
    state, outputs = (np.asarray(value) for value in build_encoder(model)(body))
    step = build_decoder_step(model, config)
    for position in range(3):
        probabilities, state, _ = (
            np.asarray(value) for value in step([titles[:, position : position + 1], state, outputs, body, copy])
        )
        assert np.allclose(probabilities, full[:, position], atol=1e-4)


def test_decoder_step_reads_one_encoding_per_issue_for_all_its_beams():
    """Beam search passes each issue's encoding once, with its beams' rows side by side: the
    probabilities, states and attention are those of each beam reading its own copy."""
    config = CONFIGURATIONS["tiny-attention"]
    model = build_training_model(config)
    body, copy, titles = random_inputs(config, batch=3)
    state, outputs = (np.asarray(value) for value in build_encoder(model)(body))
    beams = 4
    rng = np.random.default_rng(1)
    previous = rng.integers(4, config.title_vocab_size, (3 * beams, 1)).astype("int32")
    beam_states = np.repeat(state, beams, axis=0) + rng.normal(0, 0.1, (3 * beams, state.shape[1])).astype("float32")
    step = build_decoder_step(model, config)
    shared = [np.asarray(value) for value in step([previous, beam_states, outputs, body, copy])]
    memory = [np.repeat(array, beams, axis=0) for array in (outputs, body, copy)]
    repeated = [np.asarray(value) for value in step([previous, beam_states, *memory])]
    for together, apart in zip(shared, repeated, strict=True):
        assert together.shape[0] == 3 * beams
        np.testing.assert_allclose(together, apart, atol=1e-6)


def test_label_smoothing_spreads_the_target_over_the_title_vocabulary():
    import keras

    from issue_summarizer.models.layers import SmoothedCrossEntropy, training_loss

    config = CONFIGURATIONS["tiny-attention"]
    assert isinstance(training_loss(config), keras.losses.SparseCategoricalCrossentropy)
    rng = np.random.default_rng(0)
    probabilities = rng.random((4, 5, extended_vocabulary_size(config))).astype("float32")
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    targets = rng.integers(0, extended_vocabulary_size(config), (4, 5))
    plain = float(SmoothedCrossEntropy(0.0, config.title_vocab_size)(targets, probabilities))
    assert np.isclose(plain, float(keras.losses.SparseCategoricalCrossentropy()(targets, probabilities)), rtol=1e-5)
    smoothed = float(training_loss(config.updated(label_smoothing=0.1))(targets, probabilities))
    log_probabilities = np.log(probabilities)
    target_term = -np.take_along_axis(log_probabilities, targets[..., None], axis=-1)[..., 0]
    uniform_term = -log_probabilities[..., : config.title_vocab_size].mean(axis=-1)
    assert np.isclose(smoothed, (0.9 * target_term + 0.1 * uniform_term).mean(), rtol=1e-5)


def test_an_interrupted_save_leaves_the_previous_model_file_whole(tmp_path, monkeypatch):
    """model.keras is written under a temporary name and renamed into place, so Ctrl-C during a
    save leaves the old file, and a reader never loads half of one."""
    import keras

    from issue_summarizer.models.building import save_for_inference

    config = CONFIGURATIONS["tiny"]
    model = build_training_model(config)
    path = tmp_path / "model.keras"
    save_for_inference(model, config, path)
    before = path.read_bytes()
    assert [item.name for item in tmp_path.iterdir()] == ["model.keras"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    real_save = keras.Model.save

    def interrupted(self, filepath, *args, **kwargs):
        assert str(filepath).endswith(".keras") and filepath != path
        real_save(self, filepath, *args, **kwargs)
        Path(filepath).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_for_inference(model, config, path)
    assert path.read_bytes() == before
    assert [item.name for item in tmp_path.iterdir()] == ["model.keras"]  # No temporary file left behind.
    monkeypatch.undo()
    keras.saving.load_model(path)
