"""A projection head trained for similarity on the frozen encoder's features (InfoNCE).

The summarizer's encoder is trained to write titles, not to place issues: its final state
carries what the decoder needs for the first title word, which is a poor address for an
issue. This module trains a small head on top of the frozen encoder instead. A body and its
own title are a positive pair; every other title in the batch is a negative (in-batch
negatives), and the symmetric InfoNCE loss pulls each pair together. The encoder's weights
and `model.keras` are never touched, so titles and ROUGE stay exactly as they were.

The head's input is the encoder features `Summarizer.encoder_features` computes for a text,
concatenated: the final state, the encoder outputs mean- and max-pooled over real tokens, and
the mean of the model's (frozen) body word embeddings. Its output is L2-normalised, so dot
products are cosine similarities.

    head, report = train_head(train_bodies, train_titles, validation_bodies, validation_titles)
    save_head(model_directory, head, report)
    head, info = load_head(model_directory)  # or None without a head

The model directory holds the head as `similarity_head.keras` and what it is (features,
dimension, temperature, rows, validation recall) in `similarity.json`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from issue_summarizer.atomic_files import write_atomically

HEAD_FILE = "similarity_head.keras"
HEAD_INFO_FILE = "similarity.json"
FEATURES = "final_state+mean_pooled_outputs+max_pooled_outputs+mean_word_embedding"
# The embedding kinds `Summarizer.embed` can return; `trained` needs a head in the model directory.
EMBEDDING_KINDS = ("trained", "final_state", "mean_pooled")


@dataclass
class HeadSettings:
    """How the head is built and trained; the defaults fit about 40k pairs in a few minutes on two cores."""

    dimension: int = 128
    hidden: int = 512
    temperature: float = 0.05
    batch_size: int = 512
    learning_rate: float = 1e-3
    epochs: int = 30
    patience: int = 3
    seed: int = 0

    def check(self) -> None:
        if self.dimension < 1 or self.hidden < 1:
            raise ValueError("the head's dimension and hidden width must be at least 1")
        if not self.temperature > 0:
            raise ValueError(f"the temperature must be positive, got {self.temperature}")
        if self.batch_size < 2:
            raise ValueError(f"the batch size must be at least 2 (in-batch negatives), got {self.batch_size}")
        if self.epochs < 1 or self.patience < 1:
            raise ValueError("epochs and patience must be at least 1")


@dataclass
class HeadReport:
    """What `similarity.json` records about the trained embedding."""

    features: str
    input_dimension: int
    dimension: int
    hidden: int
    temperature: float
    train_rows: int
    validation_rows: int
    epochs_run: int
    best_epoch: int
    validation_recall_at_1: float
    validation_recall_at_10: float
    seconds: float
    losses: list[float] = field(default_factory=list)


def build_head(input_dimension: int, settings: HeadSettings):
    """Dense → ReLU → Dense → L2-normalise, so the output's dot products are cosine similarities."""
    import keras

    inputs = keras.Input((input_dimension,), name="encoder_features")
    hidden = keras.layers.Dense(settings.hidden, activation="relu", name="head_hidden")(inputs)
    projected = keras.layers.Dense(settings.dimension, name="head_projection")(hidden)
    outputs = keras.layers.UnitNormalization(axis=-1, name="head_normalise")(projected)
    return keras.Model(inputs, outputs, name="similarity_head")


def info_nce_loss(bodies, titles, temperature: float):
    """Symmetric InfoNCE over a batch of normalised (body, title) pairs: row i's positive is column i.

    Both directions are averaged, title→body (how the benchmark queries) and body→title, so
    the head is not tuned to one side only.
    """
    import tensorflow as tf

    logits = tf.matmul(bodies, titles, transpose_b=True) / temperature
    labels = tf.range(tf.shape(logits)[0])
    forward = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    backward = tf.keras.losses.sparse_categorical_crossentropy(labels, tf.transpose(logits), from_logits=True)
    return (tf.reduce_mean(forward) + tf.reduce_mean(backward)) / 2


def retrieval_recall(queries: np.ndarray, documents: np.ndarray, ks: tuple[int, ...] = (1, 10)) -> dict[int, float]:
    """Share of queries whose own document (the same row) is among their `k` most similar documents."""
    if len(queries) != len(documents):
        raise ValueError("queries and documents must pair up row by row")
    similarities = np.asarray(queries, dtype=np.float32) @ np.asarray(documents, dtype=np.float32).T
    own = np.diag(similarities)
    # A document ranks below every document strictly more similar than it, so ties count in its favour.
    ranks = (similarities > own[:, None]).sum(axis=1)
    return {k: float((ranks < k).mean()) for k in ks}


def _check_pairs(bodies: np.ndarray, titles: np.ndarray, name: str) -> None:
    if bodies.shape != titles.shape or bodies.ndim != 2:
        raise ValueError(
            f"{name} bodies and titles must be matrices of one shape, got {bodies.shape} and {titles.shape}"
        )
    if len(bodies) < 2:
        raise ValueError(f"{name} needs at least 2 pairs, got {len(bodies)}")


def train_head(
    train_bodies: np.ndarray,
    train_titles: np.ndarray,
    validation_bodies: np.ndarray,
    validation_titles: np.ndarray,
    settings: HeadSettings | None = None,
    log=print,
):
    """Train a head on encoder features of (body, title) pairs; return it (best validation epoch) and a report.

    Early stopping reads title→body recall@1 plus recall@10 on the validation pairs, the
    quantities the benchmark measures, rather than the loss, whose scale depends on the batch
    size; recall@1 breaks the ties of a validation set so small that recall@10 is always 1.
    """
    import keras
    import tensorflow as tf

    settings = settings or HeadSettings()
    settings.check()
    _check_pairs(train_bodies, train_titles, "training")
    _check_pairs(validation_bodies, validation_titles, "validation")
    keras.utils.set_random_seed(settings.seed)
    started = time.perf_counter()
    head = build_head(train_bodies.shape[1], settings)
    optimizer = keras.optimizers.Adam(settings.learning_rate)

    @tf.function
    def step(bodies, titles):
        with tf.GradientTape() as tape:
            loss = info_nce_loss(head(bodies, training=True), head(titles, training=True), settings.temperature)
        gradients = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(gradients, head.trainable_variables, strict=True))
        return loss

    def validation_recall() -> dict[int, float]:
        return retrieval_recall(
            head.predict(validation_titles, batch_size=2048, verbose=0),
            head.predict(validation_bodies, batch_size=2048, verbose=0),
        )

    rng = np.random.default_rng(settings.seed)
    bodies = train_bodies.astype(np.float32)
    titles = train_titles.astype(np.float32)
    best, best_epoch, best_weights, losses, epochs_run = -1.0, 0, head.get_weights(), [], 0
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(bodies))
        epoch_losses = []
        # Full batches only: a last batch of a few rows has too few negatives to teach anything.
        batches = max(len(order) // settings.batch_size, 1)
        for batch in range(batches):
            rows = order[batch * settings.batch_size : (batch + 1) * settings.batch_size]
            epoch_losses.append(float(step(bodies[rows], titles[rows])))
        losses.append(float(np.mean(epoch_losses)))
        recall = validation_recall()
        epochs_run = epoch
        log(
            f"epoch {epoch}: loss {losses[-1]:.4f}, validation title→body recall@1 {recall[1]:.3f} @10 {recall[10]:.3f}"
        )
        if recall[1] + recall[10] > best:
            best, best_epoch, best_weights = recall[1] + recall[10], epoch, head.get_weights()
        elif epoch - best_epoch >= settings.patience:
            break
    head.set_weights(best_weights)
    recall = validation_recall()
    report = HeadReport(
        features=FEATURES,
        input_dimension=int(train_bodies.shape[1]),
        dimension=settings.dimension,
        hidden=settings.hidden,
        temperature=settings.temperature,
        train_rows=len(bodies),
        validation_rows=len(validation_bodies),
        epochs_run=epochs_run,
        best_epoch=best_epoch,
        validation_recall_at_1=round(recall[1], 4),
        validation_recall_at_10=round(recall[10], 4),
        seconds=round(time.perf_counter() - started, 1),
        losses=[round(loss, 4) for loss in losses],
    )
    return head, report


def save_head(directory: str | Path, head, report: HeadReport) -> None:
    """Write the head and `similarity.json` into the model directory, each replaced whole."""
    directory = Path(directory)
    # Keras picks the format by the name's suffix, so the temporary file keeps `.keras`.
    write_atomically(directory / HEAD_FILE, head.save, suffix=".keras")
    text = json.dumps(asdict(report), indent=1) + "\n"
    write_atomically(directory / HEAD_INFO_FILE, lambda path: path.write_text(text, encoding="utf-8"))


def load_head(directory: str | Path):
    """The model directory's head and its `similarity.json` as a dict, or None when it has no head."""
    import keras

    directory = Path(directory)
    path = directory / HEAD_FILE
    if not path.exists():
        return None
    info_path = directory / HEAD_INFO_FILE
    if not info_path.exists():
        raise ValueError(f"{directory}: {HEAD_FILE} without {HEAD_INFO_FILE}; train it again with `train-embedding`")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    return keras.saving.load_model(path, compile=False), info
