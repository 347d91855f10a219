"""The `transformer` configuration: a pre-layer-norm Transformer encoder-decoder that copies.

The encoder reads every body position at once (self-attention over the real tokens only); the
decoder attends causally over the title so far and across to the body. Like the `attention`
configuration it is a pointer-generator (See et al., 2017): the last decoder layer's
cross-attention weights, averaged over heads, are the copy distribution over body positions,
and a learned gate mixes copying with generating a vocabulary word.

The blocks are Keras' own `MultiHeadAttention`, `LayerNormalization`, `Dense` and `Dropout`.
keras_hub's `TransformerEncoder`/`TransformerDecoder` would do the same, but keras-hub 0.32
installs the full `tensorflow` wheel and tensorflow-text beside the pinned `tensorflow-cpu`,
and its decoder does not hand back the cross-attention weights the copy distribution needs.

Every layer has a name, and the builders below take a `layer(name)` function: new layers when
the training model is built, the trained ones when the inference models are built from it, so
both share one definition (as `attention._attention_decoder` does for the GRU).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, ops

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.models.layers import CopyMixture, extended_vocabulary_size

# The feed-forward sublayer is this many times wider than the model, as in Vaswani et al.
FEED_FORWARD_FACTOR = 4


@keras.saving.register_keras_serializable(package="issue_summarizer")
class TokenAndPositionEmbedding(layers.Layer):
    """Token embedding plus a learned embedding of each position (0 for the first token)."""

    def __init__(self, vocabulary_size: int, max_length: int, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.max_length = max_length
        self.width = width
        self.tokens = layers.Embedding(vocabulary_size, width, name="tokens")
        self.positions = layers.Embedding(max_length, width, name="positions")

    def build(self, ids_shape) -> None:
        self.tokens.build(ids_shape)
        self.positions.build((None,))

    def call(self, ids):
        positions = ops.arange(ops.shape(ids)[-1])
        return self.tokens(ids) + ops.expand_dims(self.positions(positions), 0)

    def compute_output_shape(self, ids_shape):
        return (*ids_shape, self.width)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "max_length": self.max_length,
            "width": self.width,
        }


@keras.saving.register_keras_serializable(package="issue_summarizer")
class BodyMask(layers.Layer):
    """(batch, 1, positions): True at the body's real tokens, for attention over the body."""

    def call(self, body_ids):
        return ops.expand_dims(ops.not_equal(body_ids, 0), 1)

    def compute_output_spec(self, body_ids):
        return keras.KerasTensor((body_ids.shape[0], 1, body_ids.shape[1]), dtype="bool")


@keras.saving.register_keras_serializable(package="issue_summarizer")
class MaskedMeanPooling(layers.Layer):
    """The mean of the encoder's outputs over the body's real tokens: the issue's embedding."""

    def call(self, outputs, body_ids):
        real = ops.expand_dims(ops.cast(ops.not_equal(body_ids, 0), outputs.dtype), -1)
        return ops.sum(outputs * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)

    def compute_output_spec(self, outputs, body_ids):
        return keras.KerasTensor((outputs.shape[0], outputs.shape[-1]), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="issue_summarizer")
class AverageOverHeads(layers.Layer):
    """Attention scores (batch, heads, steps, positions) averaged over the heads."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # The attention layer attaches its causal mask to its outputs; the average ends it.
        self.supports_masking = True

    def compute_mask(self, scores, mask=None):
        return None

    def call(self, scores):
        return ops.mean(scores, axis=1)

    def compute_output_spec(self, scores):
        return keras.KerasTensor((scores.shape[0], *scores.shape[2:]), dtype=scores.dtype)


def encoder_width(config: SummarizerConfig) -> int:
    return config.hidden_dim


def new_layers(config: SummarizerConfig) -> dict[str, layers.Layer]:
    """Every layer of the Transformer, by name."""
    width, heads, rate = config.hidden_dim, config.attention_heads, config.dropout
    key_dim = width // heads
    made: dict[str, layers.Layer] = {
        "body_embedding": TokenAndPositionEmbedding(
            config.body_vocab_size, config.body_length, width, name="body_embedding"
        ),
        "body_mask": BodyMask(name="body_mask"),
        "body_dropout": layers.Dropout(rate, name="body_dropout"),
        "encoder_norm": layers.LayerNormalization(epsilon=1e-6, name="encoder_norm"),
        "encoder_state": MaskedMeanPooling(name="encoder_state"),
        "title_embedding": TokenAndPositionEmbedding(
            config.title_vocab_size, config.title_length, width, name="title_embedding"
        ),
        "title_dropout": layers.Dropout(rate, name="title_dropout"),
        "decoder_norm": layers.LayerNormalization(epsilon=1e-6, name="decoder_norm"),
        "copy_attention": AverageOverHeads(name="copy_attention"),
        "title_probabilities": layers.Dense(config.title_vocab_size, activation="softmax", name="title_probabilities"),
        "generation_inputs": layers.Concatenate(name="generation_inputs"),
        "generation_probability": layers.Dense(1, activation="sigmoid", name="generation_probability"),
        "copy_mixture": CopyMixture(extended_vocabulary_size(config), name="copy_mixture", dtype="float32"),
    }
    sublayers = [("encoder", ("self_attention",)), ("decoder", ("self_attention", "cross_attention"))]
    for stack, attentions in sublayers:
        for index in range(config.transformer_layers):
            prefix = f"{stack}_{index}"
            for attention in attentions:
                made[f"{prefix}_{attention}_norm"] = layers.LayerNormalization(
                    epsilon=1e-6, name=f"{prefix}_{attention}_norm"
                )
                made[f"{prefix}_{attention}"] = layers.MultiHeadAttention(
                    heads, key_dim, dropout=rate, name=f"{prefix}_{attention}"
                )
                made[f"{prefix}_{attention}_dropout"] = layers.Dropout(rate, name=f"{prefix}_{attention}_dropout")
                made[f"{prefix}_{attention}_residual"] = layers.Add(name=f"{prefix}_{attention}_residual")
            made[f"{prefix}_feed_forward_norm"] = layers.LayerNormalization(
                epsilon=1e-6, name=f"{prefix}_feed_forward_norm"
            )
            made[f"{prefix}_feed_forward_inner"] = layers.Dense(
                FEED_FORWARD_FACTOR * width, activation="gelu", name=f"{prefix}_feed_forward_inner"
            )
            made[f"{prefix}_feed_forward_outer"] = layers.Dense(width, name=f"{prefix}_feed_forward_outer")
            made[f"{prefix}_feed_forward_dropout"] = layers.Dropout(rate, name=f"{prefix}_feed_forward_dropout")
            made[f"{prefix}_feed_forward_residual"] = layers.Add(name=f"{prefix}_feed_forward_residual")
    return made


Layer = Callable[[str], layers.Layer]


def _trained_layers(model: keras.Model) -> Layer:
    """The trained model's layers by name, for building the inference models from them.

    The pooling has no weights and is not on the training model's path to the titles, so the
    trained model does not hold it: a new one stands in.
    """
    pooling = MaskedMeanPooling(name="encoder_state")
    return lambda name: pooling if name == "encoder_state" else model.get_layer(name)


def _feed_forward(layer: Layer, prefix: str, vectors):
    """Pre-layer-norm feed-forward sublayer with its residual connection."""
    inner = layer(f"{prefix}_feed_forward_inner")(layer(f"{prefix}_feed_forward_norm")(vectors))
    outer = layer(f"{prefix}_feed_forward_dropout")(layer(f"{prefix}_feed_forward_outer")(inner))
    return layer(f"{prefix}_feed_forward_residual")([vectors, outer])


def encode(layer: Layer, config: SummarizerConfig, body_ids):
    """Body ids → (the issue's embedding, the encoder's outputs at every position, the body mask)."""
    mask = layer("body_mask")(body_ids)
    vectors = layer("body_dropout")(layer("body_embedding")(body_ids))
    for index in range(config.transformer_layers):
        prefix = f"encoder_{index}_self_attention"
        normed = layer(f"{prefix}_norm")(vectors)
        attended = layer(prefix)(normed, normed, attention_mask=mask)
        vectors = layer(f"{prefix}_residual")([vectors, layer(f"{prefix}_dropout")(attended)])
        vectors = _feed_forward(layer, f"encoder_{index}", vectors)
    outputs = layer("encoder_norm")(vectors)
    return layer("encoder_state")(outputs, body_ids), outputs, mask


def decode(layer: Layer, config: SummarizerConfig, title_ids, encoder_outputs, mask, copy_ids):
    """Title ids (teacher-forced or the prefix so far) → (probabilities over the extended
    vocabulary at every step, copy attention over the body positions at every step)."""
    title_vectors = layer("title_dropout")(layer("title_embedding")(title_ids))
    vectors, context, scores = title_vectors, None, None
    for index in range(config.transformer_layers):
        prefix = f"decoder_{index}_self_attention"
        normed = layer(f"{prefix}_norm")(vectors)
        attended = layer(prefix)(normed, normed, use_causal_mask=True)
        vectors = layer(f"{prefix}_residual")([vectors, layer(f"{prefix}_dropout")(attended)])
        prefix = f"decoder_{index}_cross_attention"
        context, scores = layer(prefix)(
            layer(f"{prefix}_norm")(vectors), encoder_outputs, attention_mask=mask, return_attention_scores=True
        )
        vectors = layer(f"{prefix}_residual")([vectors, layer(f"{prefix}_dropout")(context)])
        vectors = _feed_forward(layer, f"decoder_{index}", vectors)
    outputs = layer("decoder_norm")(vectors)
    weights = layer("copy_attention")(scores)
    vocabulary_probabilities = layer("title_probabilities")(outputs)
    generation_probability = layer("generation_probability")(
        layer("generation_inputs")([context, outputs, title_vectors])
    )
    probabilities = layer("copy_mixture")(vocabulary_probabilities, weights, copy_ids, generation_probability)
    return probabilities, weights


def build_transformer_model(config: SummarizerConfig) -> keras.Model:
    """The uncompiled teacher-forcing model: (body ids, copy ids, title ids) → probabilities."""
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="body_ids")
    copy_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="copy_ids")
    title_ids = keras.Input(shape=(None,), dtype="int32", name="title_ids")
    layer = new_layers(config).__getitem__
    _, encoder_outputs, mask = encode(layer, config, body_ids)
    probabilities, _ = decode(layer, config, title_ids, encoder_outputs, mask, copy_ids)
    return keras.Model([body_ids, copy_ids, title_ids], probabilities, name=f"{config.name}_seq2seq")


def build_encoder(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """Body ids → [the issue's embedding, the encoder's outputs]."""
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="encoder_body_ids")
    state, outputs, _ = encode(_trained_layers(model), config, body_ids)
    return keras.Model(body_ids, [state, outputs], name="encoder")


def build_decoder_step(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """(title prefix ids (batch, steps), encoder outputs, body ids, copy ids) → (probabilities
    of the next token, attention over the body for it).

    The whole prefix is decoded again at every step: titles are at most `title_length` tokens,
    so a key-value cache would save little and complicate beam search's reordering.
    """
    prefix_ids = keras.Input(shape=(None,), dtype="int32", name="prefix_ids")
    encoder_outputs = keras.Input(shape=(config.body_input_length, encoder_width(config)), name="encoder_outputs")
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="step_body_ids")
    copy_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="step_copy_ids")
    mask = model.get_layer("body_mask")(body_ids)
    probabilities, weights = decode(model.get_layer, config, prefix_ids, encoder_outputs, mask, copy_ids)
    return keras.Model(
        [prefix_ids, encoder_outputs, body_ids, copy_ids],
        [probabilities[:, -1, :], weights[:, -1, :]],
        name="decoder_step",
    )


def build_attention_map(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """(body ids, copy ids, title ids) → copy attention (batch, title steps, body positions)."""
    body_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="map_body_ids")
    copy_ids = keras.Input(shape=(config.body_input_length,), dtype="int32", name="map_copy_ids")
    title_ids = keras.Input(shape=(None,), dtype="int32", name="map_title_ids")
    _, encoder_outputs, mask = encode(_trained_layers(model), config, body_ids)
    _, weights = decode(model.get_layer, config, title_ids, encoder_outputs, mask, copy_ids)
    return keras.Model([body_ids, copy_ids, title_ids], weights, name="attention_map")
