"""The packed encoder reads a batch of mixed windows as each window alone would be read."""

import numpy as np
import pytest

from issue_summarizer.inference.packed_encoding import PackedEncoder
from issue_summarizer.text.padding import kept_columns

WIDTH = 30


@pytest.fixture(scope="module")
def attention_model():
    import keras

    from issue_summarizer.config import CONFIGURATIONS
    from issue_summarizer.models.building import build_encoder, build_training_model

    keras.utils.set_random_seed(0)
    config = CONFIGURATIONS["tiny-attention"].updated(length_buckets=3)
    model = build_training_model(config, compile=False)
    return model, build_encoder(model, config), config.hidden_dim


def batch(lengths: list[int], windows: list[int], padding: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `lengths` random ids, padded to WIDTH on `padding`'s side, each read over its window."""
    rng = np.random.default_rng(0)
    ids = np.zeros((len(lengths), WIDTH), dtype=np.int32)
    window = np.zeros(ids.shape, dtype=bool)
    for row, (length, kept) in enumerate(zip(lengths, windows, strict=True)):
        ids[row, kept_columns(WIDTH, length, padding)] = rng.integers(1, 50, length)
        window[row, kept_columns(WIDTH, kept, padding)] = True
    return ids, window


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_each_row_is_encoded_as_its_window_alone(attention_model, padding):
    model, encoder, hidden = attention_model
    # Windows of 10, 20 and 30 positions in no particular order, two rows sharing one.
    lengths, windows = [4, 14, 28, 6, 19], [10, 20, 30, 10, 20]
    ids, window = batch(lengths, windows, padding)
    state, outputs = PackedEncoder(model)(ids, window)
    outputs = np.asarray(outputs)
    assert state.shape == (5, hidden) and outputs.shape == (5, WIDTH, 2 * hidden)
    for row, kept in enumerate(windows):
        columns = kept_columns(WIDTH, kept, padding)
        alone_state, alone_outputs = (np.asarray(value) for value in encoder(ids[row : row + 1, columns]))
        np.testing.assert_allclose(state[row], alone_state[0], atol=1e-6)
        np.testing.assert_allclose(outputs[row, columns], alone_outputs[0], atol=1e-6)
        # Positions outside the window are never read: their outputs are zero.
        assert not outputs[row, ~window[row]].any()


def test_one_window_for_all_rows_is_the_plain_encoder(attention_model):
    model, encoder, _ = attention_model
    ids, window = batch([30, 12, 25], [30, 30, 30], "pre")
    state, outputs = PackedEncoder(model)(ids, window)
    plain_state, plain_outputs = encoder(ids)
    np.testing.assert_allclose(state, np.asarray(plain_state), atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs), np.asarray(plain_outputs), atol=1e-6)


def test_a_graph_per_number_of_segments_compiled_once(attention_model):
    model, _, _ = attention_model
    packed = PackedEncoder(model)
    assert not packed.compiled
    packed.compile(3)
    assert packed.compiled
    for lengths, windows in (([4, 14], [10, 20]), ([4, 14, 28], [10, 20, 30]), ([5, 6], [10, 10])):
        packed(*batch(lengths, windows, "pre"))
    assert {segments: graph.experimental_get_tracing_count() for segments, graph in packed._graphs.items()} == {
        1: 1,
        2: 1,
        3: 1,
    }


def test_rows_without_a_window_or_a_window_of_another_shape_are_refused(attention_model):
    model, _, _ = attention_model
    ids, window = batch([4, 14], [10, 20], "pre")
    window[1] = False
    with pytest.raises(ValueError, match="at least one position"):
        PackedEncoder(model)(ids, window)
    with pytest.raises(ValueError, match="the ids are"):
        PackedEncoder(model)(ids, window[:, :10])
