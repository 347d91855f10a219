"""A projection head trained for similarity on the frozen encoder's features (InfoNCE).

The summarizer's encoder is trained to write titles, not to place issues: its final state
carries what the decoder needs for the first title word, which is a poor address for an
issue. This module trains a small head on top of the frozen encoder instead. A body and its
own title are a positive pair; every other title in the batch is a negative (in-batch
negatives), and the symmetric InfoNCE loss pulls each pair together. The encoder's weights
and `model.keras` are never touched, so titles and ROUGE stay exactly as they were.

The head reads two inputs for a text:

- the frozen encoder's features (`Summarizer.encoder_features`), concatenated: the final state,
  the encoder outputs mean- and max-pooled over real tokens, and the mean of the model's body
  word embeddings;
- the text's raw words (`word_ids`), each hashed into one of `WORD_BUCKETS` buckets, so that
  identifiers, version numbers and rare names, which the model's 8,000-word vocabulary maps to
  one unknown word, still count. The head learns a vector and a weight for each bucket (the
  weights start at the words' inverse document frequency) and adds them up: a trained
  bag of words beside the encoder's view, which is what makes an issue's own title find it.

Both go through one projection, L2-normalised, so dot products are cosine similarities.

    head, report = train_head(train_bodies, train_titles, validation_bodies, validation_titles)  # HeadInputs
    save_head(model_directory, head, report)
    head, info = load_head(model_directory)  # or None without a head

The model directory holds the head as `similarity_head.keras` and what it is (features,
dimension, temperature, rows, validation recall) in `similarity.json`.
"""

from __future__ import annotations

import functools
import json
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from issue_summarizer.atomic_files import write_atomically

HEAD_FILE = "similarity_head.keras"
HEAD_INFO_FILE = "similarity.json"
FEATURES = "final_state+mean_pooled_outputs+max_pooled_outputs+mean_word_embedding+hashed_raw_words"
# Words as people search for them: identifiers with dots and underscores stay whole (as in BM25).
WORD_PATTERN = re.compile(r"(?u)\b\w[\w.]*\w\b|\b\w\b")
# 65,536 buckets of 64 numbers: the words that recur across issues get a bucket nearly to
# themselves (most distinct words occur once and match nothing anyway). Half of each (32,768
# buckets of 32) made a 5 MB head but fell from 0.452 to 0.387 validation recall@10.
WORD_BUCKETS = 2**16
# The first words of a text: a body's first 400 words name its subject; the rest is mostly logs.
WORD_LENGTH = 400
# The embedding kinds `Summarizer.embed` can return; `trained` needs a head in the model directory.
EMBEDDING_KINDS = ("trained", "final_state", "mean_pooled")


@dataclass
class HeadSettings:
    """How the head is built and trained; the defaults fit about 40k pairs in a few minutes on two cores."""

    dimension: int = 128
    hidden: int = 512
    word_dimension: int = 64
    temperature: float = 0.05
    batch_size: int = 512
    learning_rate: float = 1e-3
    epochs: int = 30
    patience: int = 3
    seed: int = 0

    def check(self) -> None:
        if self.dimension < 1 or self.hidden < 1 or self.word_dimension < 1:
            raise ValueError("the head's dimensions and hidden width must be at least 1")
        if not self.temperature > 0:
            raise ValueError(f"the temperature must be positive, got {self.temperature}")
        if self.batch_size < 2:
            raise ValueError(f"the batch size must be at least 2 (in-batch negatives), got {self.batch_size}")
        if self.epochs < 1 or self.patience < 1:
            raise ValueError("epochs and patience must be at least 1")


@dataclass
class HeadInputs:
    """The head's two inputs for a set of texts, row by row: encoder features and hashed word ids."""

    features: np.ndarray
    words: np.ndarray

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.words.ndim != 2 or len(self.features) != len(self.words):
            raise ValueError(
                f"features and word ids must be matrices with a row per text, got {self.features.shape} "
                f"and {self.words.shape}"
            )

    def __len__(self) -> int:
        return len(self.features)

    def take(self, rows) -> HeadInputs:
        return HeadInputs(self.features[rows], self.words[rows])

    def as_model_input(self) -> dict[str, np.ndarray]:
        return {"encoder_features": self.features.astype(np.float32), "word_ids": self.words.astype(np.int32)}


@dataclass
class HeadReport:
    """What `similarity.json` records about the trained embedding."""

    features: str
    input_dimension: int
    dimension: int
    hidden: int
    word_dimension: int
    word_buckets: int
    word_length: int
    temperature: float
    train_rows: int
    validation_rows: int
    epochs_run: int
    best_epoch: int
    validation_recall_at_1: float
    validation_recall_at_10: float
    seconds: float
    losses: list[float] = field(default_factory=list)


def word_ids(texts: Sequence[str], buckets: int = WORD_BUCKETS, length: int = WORD_LENGTH) -> np.ndarray:
    """Each text's first `length` lower-cased words as bucket numbers 1..buckets-1, padded with 0.

    CRC-32 is the hash because it is the same in every process and on every platform (Python's
    `hash` of a string is salted per process), so a saved head reads new text as it read its
    training text.
    """
    if buckets < 2 or length < 1:
        raise ValueError(f"need at least 2 buckets and 1 word, got {buckets} and {length}")
    ids = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        words = WORD_PATTERN.findall(text.lower())[:length]
        ids[row, : len(words)] = [zlib.crc32(word.encode("utf-8")) % (buckets - 1) + 1 for word in words]
    return ids


def inverse_document_frequency(ids: np.ndarray, buckets: int) -> np.ndarray:
    """Smoothed IDF of each bucket over the rows of `ids` (0 for the padding bucket), the word weights' start."""
    present = np.zeros(buckets, dtype=np.int64)
    for row in ids:
        present[np.unique(row[row != 0])] += 1
    idf = np.log((1 + len(ids)) / (1 + present)) + 1
    idf[0] = 0.0
    return idf.astype(np.float32)


@functools.cache
def _bag_of_words_layer():
    """A Keras layer (registered, so a saved head loads) that sums each word's vector times its weight.

    Built on first use, so that importing this module does not import Keras."""
    import keras

    @keras.saving.register_keras_serializable(package="issue_summarizer")
    class WeightedBagOfWords(keras.layers.Layer):
        """Σ weight(word) · vector(word) over a text's words, divided by √(number of words).

        The square root sits between a sum, which lets a long body outshout a title, and a
        mean, which lets a one-word title count as much as a detailed body. Padding (bucket 0)
        is masked out here rather than trusted to a weight that training could move.
        """

        def call(self, inputs):
            ids, vectors, weights = inputs
            real = keras.ops.cast(keras.ops.not_equal(ids, 0), vectors.dtype)[..., None]
            total = keras.ops.sum(vectors * weights * real, axis=1)
            count = keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)
            return total / keras.ops.sqrt(count)

        def compute_output_shape(self, input_shapes):
            return (input_shapes[1][0], input_shapes[1][2])

    return WeightedBagOfWords


def build_head(input_dimension: int, settings: HeadSettings, idf: np.ndarray | None = None):
    """Encoder features → Dense + ReLU, beside a weighted bag of hashed words; one projection; L2-normalise."""
    import keras

    buckets = WORD_BUCKETS if idf is None else len(idf)
    features = keras.Input((input_dimension,), name="encoder_features")
    words = keras.Input((None,), dtype="int32", name="word_ids")
    hidden = keras.layers.Dense(settings.hidden, activation="relu", name="head_hidden")(features)
    vectors = keras.layers.Embedding(
        buckets,
        settings.word_dimension,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=settings.word_dimension**-0.5),
        name="word_vectors",
    )(words)
    start = "ones" if idf is None else keras.initializers.Constant(idf.reshape(-1, 1))
    weights = keras.layers.Embedding(buckets, 1, embeddings_initializer=start, name="word_weights")(words)
    bag = _bag_of_words_layer()(name="bag_of_words")([words, vectors, weights])
    joined = keras.layers.Concatenate(name="head_join")([hidden, bag])
    projected = keras.layers.Dense(settings.dimension, name="head_projection")(joined)
    outputs = keras.layers.UnitNormalization(axis=-1, name="head_normalise")(projected)
    return keras.Model({"encoder_features": features, "word_ids": words}, outputs, name="similarity_head")


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


def _check_pairs(bodies: HeadInputs, titles: HeadInputs, name: str) -> None:
    if bodies.features.shape != titles.features.shape or bodies.words.shape[0] != titles.words.shape[0]:
        raise ValueError(
            f"{name} bodies and titles must pair up row by row, got {bodies.features.shape} and {titles.features.shape}"
        )
    if len(bodies) < 2:
        raise ValueError(f"{name} needs at least 2 pairs, got {len(bodies)}")


def train_head(
    train_bodies: HeadInputs,
    train_titles: HeadInputs,
    validation_bodies: HeadInputs,
    validation_titles: HeadInputs,
    settings: HeadSettings | None = None,
    log=print,
):
    """Train a head on (body, title) pairs; return it (best validation epoch) and a report.

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
    # The word weights start at the words' rarity among the training bodies, as in TF-IDF.
    head = build_head(
        train_bodies.features.shape[1], settings, inverse_document_frequency(train_bodies.words, WORD_BUCKETS)
    )
    optimizer = keras.optimizers.Adam(settings.learning_rate)

    # No AutoGraph: the step has no Python control flow to convert, and converting its closure warns.
    @tf.function(autograph=False)
    def step(bodies, titles):
        with tf.GradientTape() as tape:
            loss = info_nce_loss(head(bodies, training=True), head(titles, training=True), settings.temperature)
        gradients = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(gradients, head.trainable_variables, strict=True))
        return loss

    def validation_recall() -> dict[int, float]:
        return retrieval_recall(
            head.predict(validation_titles.as_model_input(), batch_size=1024, verbose=0),
            head.predict(validation_bodies.as_model_input(), batch_size=1024, verbose=0),
        )

    rng = np.random.default_rng(settings.seed)
    best, best_epoch, best_weights, losses, epochs_run = -1.0, 0, head.get_weights(), [], 0
    for epoch in range(1, settings.epochs + 1):
        order = rng.permutation(len(train_bodies))
        epoch_losses = []
        # Full batches only: a last batch of a few rows has too few negatives to teach anything.
        batches = max(len(order) // settings.batch_size, 1)
        for batch in range(batches):
            rows = order[batch * settings.batch_size : (batch + 1) * settings.batch_size]
            loss = step(train_bodies.take(rows).as_model_input(), train_titles.take(rows).as_model_input())
            epoch_losses.append(float(loss))
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
        input_dimension=int(train_bodies.features.shape[1]),
        dimension=settings.dimension,
        hidden=settings.hidden,
        word_dimension=settings.word_dimension,
        word_buckets=WORD_BUCKETS,
        word_length=WORD_LENGTH,
        temperature=settings.temperature,
        train_rows=len(train_bodies),
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
    hashing = (info.get("word_buckets"), info.get("word_length"))
    if info.get("features") != FEATURES or hashing != (WORD_BUCKETS, WORD_LENGTH):
        raise ValueError(
            f"{directory}: the similarity head reads {info.get('features')} ({hashing[0]} word buckets), "
            f"this version reads {FEATURES} ({WORD_BUCKETS}); "
            "train it again with `train-embedding`"
        )
    layer = _bag_of_words_layer()
    return keras.saving.load_model(path, compile=False, custom_objects={layer.__name__: layer}), info
