"""What the models share: the copy layer, the training loss, precision and saving.

The attention model and the Transformer both end in the pointer-generator's `CopyMixture` and
train with the same loss, so these pieces live here, below both, and neither model module
imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import ops  # noqa: E402

from issue_summarizer.atomic_files import write_atomically  # noqa: E402
from issue_summarizer.config import SummarizerConfig  # noqa: E402


@contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Build and run models under Keras' global dtype policy `name`, then restore the previous one."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@keras.saving.register_keras_serializable(package="issue_summarizer")
class SmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy against targets that keep 1 − ε of their probability and spread ε evenly
    over the title vocabulary (not over the copy slots, which differ from issue to issue)."""

    def __init__(self, smoothing: float, vocabulary_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.smoothing = smoothing
        self.vocabulary_size = vocabulary_size

    def call(self, targets, probabilities):
        log_probabilities = ops.log(ops.clip(probabilities, 1e-7, 1.0))
        targets = ops.expand_dims(ops.cast(targets, "int32"), -1)
        target_term = -ops.squeeze(ops.take_along_axis(log_probabilities, targets, axis=-1), -1)
        uniform_term = -ops.mean(log_probabilities[..., : self.vocabulary_size], axis=-1)
        return (1.0 - self.smoothing) * target_term + self.smoothing * uniform_term

    def get_config(self) -> dict:
        return {**super().get_config(), "smoothing": self.smoothing, "vocabulary_size": self.vocabulary_size}


def training_loss(config: SummarizerConfig) -> keras.losses.Loss:
    """Plain sparse cross-entropy, or its label-smoothed form when `config.label_smoothing` > 0."""
    if config.label_smoothing:
        return SmoothedCrossEntropy(config.label_smoothing, config.title_vocab_size)
    return keras.losses.SparseCategoricalCrossentropy()


def compile_for_training(model: keras.Model, config: SummarizerConfig) -> keras.Model:
    """Nadam at the configured rate, with the configured loss; padding is masked by sample weights."""
    model.compile(
        optimizer=keras.optimizers.Nadam(learning_rate=config.learning_rate),
        loss=training_loss(config),
        weighted_metrics=[],
    )
    return model


def save_atomically(model: keras.Model, path: str | Path) -> Path:
    """`model.save(path)` through a temporary `.keras` file beside it, renamed into place once complete.

    An interrupted save (Ctrl-C, a full disk) then leaves the previous file as it was, and the
    app never loads a half-written one.
    """
    return write_atomically(Path(path), lambda temporary: model.save(temporary), suffix=".keras")


def extended_vocabulary_size(config: SummarizerConfig) -> int:
    """Title vocabulary plus one slot per body position, for words copied from the body."""
    return config.title_vocab_size + config.body_length


@keras.saving.register_keras_serializable(package="issue_summarizer")
class CopyMixture(keras.layers.Layer):
    """The pointer-generator's output: p_gen · P_vocabulary + (1 − p_gen) · attention copied onto body words.

    `copy_ids` holds each body position's id in the example's extended vocabulary, so the
    attention on every occurrence of a body word adds up on that word's id.
    """

    def __init__(self, extended_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.extended_size = extended_size

    def call(self, vocabulary_probabilities, attention_weights, copy_ids, generation_probability):
        vocabulary_size = vocabulary_probabilities.shape[-1]
        # Scatter-add each position's weight onto its word's id. A one-hot matrix of the body
        # would do the same with a (batch, positions, extended vocabulary) tensor, gigabytes
        # for a batch of beams.
        batch, steps, length = ops.shape(attention_weights)
        batch_index = ops.broadcast_to(ops.reshape(ops.arange(batch), (-1, 1, 1)), (batch, steps, length))
        step_index = ops.broadcast_to(ops.reshape(ops.arange(steps), (1, -1, 1)), (batch, steps, length))
        word_index = ops.broadcast_to(ops.expand_dims(ops.cast(copy_ids, "int32"), 1), (batch, steps, length))
        indices = ops.reshape(ops.stack([batch_index, step_index, word_index], axis=-1), (-1, 3))
        copied = ops.scatter(
            indices, ops.reshape(attention_weights, (-1,)), ops.stack([batch, steps, self.extended_size])
        )
        generated = ops.pad(vocabulary_probabilities, [[0, 0], [0, 0], [0, self.extended_size - vocabulary_size]])
        return generation_probability * generated + (1.0 - generation_probability) * copied

    def compute_output_spec(self, vocabulary_probabilities, attention_weights, copy_ids, generation_probability):
        shape = (*vocabulary_probabilities.shape[:2], self.extended_size)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "extended_size": self.extended_size}
