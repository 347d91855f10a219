"""The GRU models on Keras 3: the seed and the attention configuration.

`seed` is Hamel Husain's GRU encoder-decoder: the body is squeezed into one state vector and
the title is written from a fixed vocabulary. `attention` reads the body with a bidirectional
GRU, lets every decoder step attend over all body positions (Luong's bilinear score), and is a
pointer-generator (See et al., 2017): each step mixes generating a vocabulary word with copying
a body word through the attention weights, so identifiers missing from the vocabulary can
reach the title.

Training uses one Functional model with teacher forcing: the decoder reads the title shifted
right (`<start> w1 w2 ...`) and learns to predict it shifted left (`w1 w2 ... <end>`).
Inference uses two smaller models built from the same trained layers: an encoder that reads
the body once, and a decoder that advances a whole batch of titles by one token.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.models.layers import CopyMixture, compile_for_training, extended_vocabulary_size


def build_seed_model(config: SummarizerConfig, compile: bool = True) -> keras.Model:
    """Encoder: Embedding → BatchNorm → GRU (final state). Decoder: Embedding → BatchNorm →
    GRU started from the encoder state → BatchNorm → Dense softmax over the title vocabulary."""
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="body_ids")
    body_vectors = layers.Embedding(config.body_vocab_size, config.embedding_dim, name="body_embedding")(body_ids)
    body_vectors = layers.BatchNormalization(name="body_norm")(body_vectors)
    encoder_state = layers.GRU(config.hidden_dim, name="encoder_gru")(body_vectors)

    title_ids = keras.Input(shape=(None,), dtype="int32", name="title_ids")
    title_vectors = layers.Embedding(config.title_vocab_size, config.embedding_dim, name="title_embedding")(title_ids)
    title_vectors = layers.BatchNormalization(name="title_norm")(title_vectors)
    decoder_outputs, _ = layers.GRU(config.hidden_dim, return_sequences=True, return_state=True, name="decoder_gru")(
        title_vectors, initial_state=encoder_state
    )
    decoder_outputs = layers.BatchNormalization(name="decoder_norm")(decoder_outputs)
    # The softmax stays in float32 under mixed precision, so that the loss is computed accurately.
    probabilities = layers.Dense(
        config.title_vocab_size, activation="softmax", name="title_probabilities", dtype="float32"
    )(decoder_outputs)
    model = keras.Model([body_ids, title_ids], probabilities, name=f"{config.name}_seq2seq")
    return compile_for_training(model, config) if compile else model


@keras.saving.register_keras_serializable(package="issue_summarizer")
class LuongAttention(layers.Layer):
    """Bilinear attention of each decoder step over the encoder's outputs, ignoring padding.

    score(step, position) = decoder_output · W · encoder_output. Returns the context vectors
    and the attention weights, which sum to 1 over the body's real tokens.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, decoder_outputs_shape, encoder_outputs_shape, body_ids_shape) -> None:
        self.kernel = self.add_weight(
            name="kernel", shape=(encoder_outputs_shape[-1], self.units), initializer="glorot_uniform"
        )

    def call(self, decoder_outputs, encoder_outputs, body_ids):
        # decoder_output · (W · encoder_output) = (Wᵀ · decoder_output) · encoder_output. Turning
        # the few decoder steps into queries costs far less than turning every body position
        # into a key, which a one-token decoder step would otherwise redo at every step.
        queries = ops.matmul(decoder_outputs, ops.transpose(self.kernel))
        scores = ops.matmul(queries, ops.transpose(encoder_outputs, (0, 2, 1)))
        real_tokens = ops.expand_dims(ops.not_equal(body_ids, 0), 1)
        scores = ops.where(real_tokens, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, encoder_outputs), weights

    def compute_output_spec(self, decoder_outputs, encoder_outputs, body_ids):
        batch, steps = decoder_outputs.shape[0], decoder_outputs.shape[1]
        return (
            keras.KerasTensor((batch, steps, encoder_outputs.shape[-1]), dtype=self.compute_dtype),
            keras.KerasTensor((batch, steps, body_ids.shape[1]), dtype=self.compute_dtype),
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


class _RowsByIssue(layers.Layer):
    """(issues × beams, 1, width) → (issues, beams, width), the issue count read from a per-issue tensor."""

    def call(self, rows, per_issue):
        return ops.reshape(rows, (ops.shape(per_issue)[0], -1, ops.shape(rows)[-1]))

    def compute_output_spec(self, rows, per_issue):
        return keras.KerasTensor((per_issue.shape[0], None, rows.shape[-1]), dtype=rows.dtype)


class _OneRowEach(layers.Layer):
    """(issues, beams, width) → (issues × beams, 1, width): the inverse of `_RowsByIssue`."""

    def call(self, grouped):
        return ops.reshape(grouped, (-1, 1, ops.shape(grouped)[-1]))

    def compute_output_spec(self, grouped):
        return keras.KerasTensor((None, 1, grouped.shape[-1]), dtype=grouped.dtype)


def _attention_decoder(
    model: keras.Model | None, layer, title_ids, state, encoder_outputs, body_ids, copy_ids, beams_per_issue=False
):
    """The attention decoder from title ids to (probabilities, new state, attention weights).

    `layer(name)` returns the named layer: new layers while building the training model, the
    trained ones (from `model`) while building inference models, so both share one definition.
    With `beams_per_issue` (one decoder step), the title rows may hold several beams per issue,
    issue by issue, while the encoder outputs, body ids and copy ids hold one row per issue:
    each issue's beams then attend over one copy of its encoding, as the query steps of that issue.
    """
    title_vectors = layer("title_embedding")(title_ids)
    decoder_outputs, new_state = layer("decoder_gru")(title_vectors, initial_state=state)
    queries = _RowsByIssue()(decoder_outputs, body_ids) if beams_per_issue else decoder_outputs
    context, weights = layer("attention")(queries, encoder_outputs, body_ids)
    if beams_per_issue:
        context = _OneRowEach()(context)
    attended = layer("attended")(layer("attended_inputs")([decoder_outputs, context]))
    vocabulary_probabilities = layer("title_probabilities")(attended)
    generation_probability = layer("generation_probability")(
        layer("generation_inputs")([context, decoder_outputs, title_vectors])
    )
    if beams_per_issue:
        vocabulary_probabilities = _RowsByIssue()(vocabulary_probabilities, body_ids)
        generation_probability = _RowsByIssue()(generation_probability, body_ids)
    probabilities = layer("copy_mixture")(vocabulary_probabilities, weights, copy_ids, generation_probability)
    if beams_per_issue:
        probabilities, weights = _OneRowEach()(probabilities), _OneRowEach()(weights)
    return probabilities, new_state, weights


def build_attention_model(config: SummarizerConfig, compile: bool = True) -> keras.Model:
    """Bidirectional GRU encoder, GRU decoder with Luong attention, pointer-generator output."""
    hidden = config.hidden_dim
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="body_ids")
    copy_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="copy_ids")
    title_ids = keras.Input(shape=(None,), dtype="int32", name="title_ids")
    body_vectors = layers.Embedding(config.body_vocab_size, config.embedding_dim, name="body_embedding")(body_ids)
    encoder_outputs, forward_state, backward_state = layers.Bidirectional(
        layers.GRU(hidden, return_sequences=True, return_state=True), name="encoder_gru"
    )(body_vectors)
    # The decoder's first state comes from both directions' final states.
    encoder_state = layers.Dense(hidden, activation="tanh", name="encoder_state")(
        layers.Concatenate(name="encoder_final_states")([forward_state, backward_state])
    )
    new_layers = {
        "title_embedding": layers.Embedding(config.title_vocab_size, config.embedding_dim, name="title_embedding"),
        "decoder_gru": layers.GRU(hidden, return_sequences=True, return_state=True, name="decoder_gru"),
        "attention": LuongAttention(hidden, name="attention"),
        "attended_inputs": layers.Concatenate(name="attended_inputs"),
        "attended": layers.Dense(hidden, activation="tanh", name="attended"),
        "title_probabilities": layers.Dense(config.title_vocab_size, activation="softmax", name="title_probabilities"),
        "generation_inputs": layers.Concatenate(name="generation_inputs"),
        "generation_probability": layers.Dense(1, activation="sigmoid", name="generation_probability"),
        "copy_mixture": CopyMixture(extended_vocabulary_size(config), name="copy_mixture", dtype="float32"),
    }
    probabilities, _, _ = _attention_decoder(
        None, new_layers.__getitem__, title_ids, encoder_state, encoder_outputs, body_ids, copy_ids
    )
    model = keras.Model([body_ids, copy_ids, title_ids], probabilities, name=f"{config.name}_seq2seq")
    return compile_for_training(model, config) if compile else model


def build_encoder(model: keras.Model) -> keras.Model:
    """Body ids → the encoder's final state, and for the attention model also its outputs at every position."""
    body_ids = model.get_layer("body_ids").output
    if "encoder_state" in [layer.name for layer in model.layers]:
        encoder_outputs = model.get_layer("encoder_gru").output[0]
        return keras.Model(body_ids, [model.get_layer("encoder_state").output, encoder_outputs], name="encoder")
    return keras.Model(body_ids, model.get_layer("encoder_gru").output, name="encoder")


def build_decoder_step(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """One decoder step for a batch of GRU titles.

    seed: (previous ids (batch, 1), state) → (next-token probabilities, new state).
    attention: (previous ids, state, encoder outputs, body ids, copy ids) → (probabilities over
    the extended vocabulary, new state, attention weights over the body positions).

    For the attention model the ids and states may hold several rows per issue (beam search's
    beams, issue by issue: rows `i × beams` to `i × beams + beams − 1` belong to issue `i`)
    while the encoder outputs, body ids and copy ids hold one row per issue. Each issue's beams
    then attend over one copy of its encoding (`_attention_decoder`'s `beams_per_issue`):
    repeating the encoding for every beam made every step read the largest tensor `beams` times.
    """
    previous_ids = keras.Input(shape=(1,), dtype="int32", name="previous_ids")
    state = keras.Input(shape=(config.hidden_dim,), name="state")
    if config.architecture == "attention":
        length = config.body_input_length
        encoder_outputs = keras.Input(shape=(length, 2 * config.hidden_dim), name="encoder_outputs")
        body_ids = keras.Input(shape=(length,), dtype="int32", name="step_body_ids")
        copy_ids = keras.Input(shape=(length,), dtype="int32", name="step_copy_ids")
        probabilities, new_state, weights = _attention_decoder(
            model, model.get_layer, previous_ids, state, encoder_outputs, body_ids, copy_ids, beams_per_issue=True
        )
        return keras.Model(
            [previous_ids, state, encoder_outputs, body_ids, copy_ids],
            [probabilities[:, 0, :], new_state, weights[:, 0, :]],
            name="decoder_step",
        )
    vectors = model.get_layer("title_embedding")(previous_ids)
    vectors = model.get_layer("title_norm")(vectors)
    outputs, new_state = model.get_layer("decoder_gru")(vectors, initial_state=state)
    outputs = model.get_layer("decoder_norm")(outputs)
    probabilities = model.get_layer("title_probabilities")(outputs)
    return keras.Model([previous_ids, state], [probabilities[:, 0, :], new_state], name="decoder_step")


def build_attention_map(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """(body ids, copy ids, title ids) → attention weights (batch, title steps, body positions),
    for drawing which body words each title word looked at."""
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="map_body_ids")
    copy_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="map_copy_ids")
    title_ids = keras.Input(shape=(None,), dtype="int32", name="map_title_ids")
    encoder = build_encoder(model)
    encoder_state, encoder_outputs = encoder(body_ids)
    _, _, weights = _attention_decoder(
        model, model.get_layer, title_ids, encoder_state, encoder_outputs, body_ids, copy_ids
    )
    return keras.Model([body_ids, copy_ids, title_ids], weights, name="attention_map")
