"""Build any configuration's models: training, encoder, one decoder step, attention map.

Callers name a configuration, not an architecture: these functions choose between the GRU
models (`attention.py`, the seed and the attention configuration) and the Transformer
(`transformer.py`). Importing this module registers every custom layer, which loading a saved
model needs.
"""

from __future__ import annotations

import keras

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.models import attention, transformer
from issue_summarizer.models.layers import compile_for_training, precision_policy, save_atomically


def build_training_model(config: SummarizerConfig, compile: bool = True) -> keras.Model:
    """The training model of `config.architecture`, compiled for teacher forcing unless told not to."""
    if config.architecture == "transformer":
        model = transformer.build_transformer_model(config)
        return compile_for_training(model, config) if compile else model
    if config.architecture == "attention":
        return attention.build_attention_model(config, compile)
    return attention.build_seed_model(config, compile)


def encoder_output_width(config: SummarizerConfig) -> int:
    """The width of the encoder's output at each body position (attention models)."""
    return config.hidden_dim if config.architecture == "transformer" else 2 * config.hidden_dim


def build_encoder(model: keras.Model, config: SummarizerConfig | None = None) -> keras.Model:
    """Body ids → the encoder's final state (the issue's embedding), and for attention models
    also the encoder's outputs at every position."""
    if config is not None and config.architecture == "transformer":
        return transformer.build_encoder(model, config)
    return attention.build_encoder(model)


def build_decoder_step(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """One decoder step for a batch.

    seed: (previous ids (batch, 1), state) → (next-token probabilities, new state).
    attention and transformer: (previous ids, state, encoder outputs, body ids, copy ids) →
    (probabilities over the extended vocabulary, new state, attention weights over the body positions).
    """
    if config.architecture == "transformer":
        return transformer.build_decoder_step(model, config)
    return attention.build_decoder_step(model, config)


def build_attention_map(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """(body ids, copy ids, title ids) → attention weights (batch, title steps, body positions),
    for drawing which body words each title word looked at."""
    if config.architecture == "transformer":
        return transformer.build_attention_map(model, config)
    return attention.build_attention_map(model, config)


def save_for_inference(model: keras.Model, config: SummarizerConfig, path) -> None:
    """Save the weights without the optimizer's state, which would triple the file's size.

    The saved model always computes in float32, whatever precision it was trained in: mixed
    precision keeps float32 weights, so they copy over unchanged.
    """
    with precision_policy("float32"):
        inference = build_training_model(config, compile=False)
    inference.set_weights(model.get_weights())
    save_atomically(inference, path)
