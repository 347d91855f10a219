"""The seed sequence-to-sequence model (Hamel Husain's GRU encoder-decoder) on Keras 3.

Training uses one Functional model with teacher forcing: the decoder reads the title shifted
right (`<start> w1 w2 ...`) and learns to predict it shifted left (`w1 w2 ... <end>`).
Inference uses two smaller models built from the same trained layers: an encoder that turns a
body into the GRU state, and a decoder that advances a whole batch of titles by one token.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from issue_summarizer.config import SummarizerConfig  # noqa: E402


def build_training_model(config: SummarizerConfig, compile: bool = True) -> keras.Model:
    """Encoder: Embedding → BatchNorm → GRU (final state). Decoder: Embedding → BatchNorm →
    GRU started from the encoder state → BatchNorm → Dense softmax over the title vocabulary."""
    body_ids = keras.Input(shape=(config.body_length,), dtype="int32", name="body_ids")
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
    probabilities = layers.Dense(config.title_vocab_size, activation="softmax", name="title_probabilities")(
        decoder_outputs
    )
    model = keras.Model([body_ids, title_ids], probabilities, name=f"{config.name}_seq2seq")
    if not compile:
        return model
    model.compile(
        optimizer=keras.optimizers.Nadam(learning_rate=config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        weighted_metrics=[],
    )
    return model


def save_for_inference(model: keras.Model, config: SummarizerConfig, path) -> None:
    """Save the weights without the optimizer's state, which would triple the file's size."""
    inference = build_training_model(config, compile=False)
    inference.set_weights(model.get_weights())
    inference.save(path)


def build_encoder(model: keras.Model) -> keras.Model:
    """Body ids → the encoder GRU's final state (also used as the issue's embedding)."""
    return keras.Model(model.get_layer("body_ids").output, model.get_layer("encoder_gru").output, name="encoder")


def build_decoder_step(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """(previous token ids of shape (batch, 1), state) → (next-token probabilities, new state)."""
    previous_ids = keras.Input(shape=(1,), dtype="int32", name="previous_ids")
    state = keras.Input(shape=(config.hidden_dim,), name="state")
    vectors = model.get_layer("title_embedding")(previous_ids)
    vectors = model.get_layer("title_norm")(vectors)
    outputs, new_state = model.get_layer("decoder_gru")(vectors, initial_state=state)
    outputs = model.get_layer("decoder_norm")(outputs)
    probabilities = model.get_layer("title_probabilities")(outputs)
    return keras.Model([previous_ids, state], [probabilities[:, 0, :], new_state], name="decoder_step")
