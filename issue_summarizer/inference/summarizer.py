"""`Summarizer`: a trained model directory loaded for inference.

    summarizer = Summarizer.load("model")
    summarizer.summarize(["The app crashes when ..."], beam_width=5)  # [(title, score)]
    summarizer.embed(["..."])  # one row per text: the trained similarity embedding, or the final state

`embed` returns the embedding trained for similarity (`train-embedding`, a head on the frozen
encoder) when the model directory holds `similarity_head.keras`, and the encoder's final state
otherwise; `embed(texts, kind="final_state")` always gives the final state.

A model directory holds `model.keras`, `config.json` and the two vocabularies. One
`Summarizer` is safe to share between threads (the app's sessions): TensorFlow calls are
serialised by a lock, and everything else is read-only after loading.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from issue_summarizer.config import CONFIG_FILE, SummarizerConfig
from issue_summarizer.data.input_checks import check_body
from issue_summarizer.data.prepare import BODY_VOCABULARY_FILE, TITLE_VOCABULARY_FILE
from issue_summarizer.inference.decoding import DecodingOptions, Hypothesis, TitleRules, TokenForms, decode
from issue_summarizer.inference.packed_encoding import PackedEncoder
from issue_summarizer.inference.title_restoration import restore_title
from issue_summarizer.text.copying import extend_title, to_decoder_input, words_from_ids
from issue_summarizer.text.encoding import SurfaceToken, encode_bodies, encode_for_copying, surface_forms
from issue_summarizer.text.padding import bucket_lengths, cut_padding, kept_columns, round_up_to_bucket
from issue_summarizer.text.title_form import body_words
from issue_summarizer.text.title_tags import strip_title_tags
from issue_summarizer.text.tokenization import clean_and_tokenize
from issue_summarizer.text.vocabulary import END_ID, RARE_ID, START_ID, Vocabulary
from issue_summarizer.training.contrastive import EMBEDDING_KINDS, HEAD_FILE, HeadInputs, load_head, word_ids

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MODEL_FILE = "model.keras"
REQUIRED_FILES = (MODEL_FILE, CONFIG_FILE, BODY_VOCABULARY_FILE, TITLE_VOCABULARY_FILE)


# Length buckets with fewer rows than this in a call share their decoding batches
# (`Summarizer._batches`). Measured on 1,024 test bodies on 2 cores, two runs (titles a second):
# calls of 256 bodies 106-118 never mixed, 113 with this threshold, 90-92 always mixed; calls of
# 32 bodies (a server's batch) 67-71 never mixed and 89-94 mixed.
MIXED_BATCH_BELOW = 64


class ModelDirectoryError(ValueError):
    """A model directory is missing, incomplete or corrupt. The message says which file and how."""


def check_model_directory(directory: Path) -> None:
    """Refuse a directory that is missing or lacks a file a model needs, naming what is wrong.

    Cheap, so that commands can check before they read data, which can take seconds."""
    if not directory.is_dir():
        raise ModelDirectoryError(
            f"{directory}: no such model directory; train one with `python -m issue_summarizer train`"
        )
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ModelDirectoryError(f"{directory}: not a complete model directory; missing {', '.join(missing)}")


def check_beam_width(beam_width: int) -> int:
    """`beam_width` when it is a width beam search can use (1 is greedy), else a ValueError naming it.

    Callers check before they load a model or write anything, so a bad width fails at once.
    """
    if isinstance(beam_width, bool) or not isinstance(beam_width, int | np.integer) or beam_width < 1:
        raise ValueError(
            f"the beam width must be a whole number of at least 1 (1 is greedy decoding), got {beam_width!r}"
        )
    return int(beam_width)


def model_digest(directory: str | Path, similarity_head: bool = True) -> str:
    """A digest of the files a `Summarizer` loads from `directory`: it changes when the model is
    retrained, averaged or tuned (which rewrites `config.json`), and not when the directory is
    copied or moved. A file that is missing is left out; loading the model reports it.

    The similarity head changes what `embed` returns, so caches of vectors key on it; titles do
    not depend on it, so what depends only on titles (a confidence fit, a `summarize` run) keys on
    `titles_digest`, and survives `train-embedding`."""
    import hashlib

    digest = hashlib.sha256()
    for name in (*REQUIRED_FILES, HEAD_FILE) if similarity_head else REQUIRED_FILES:
        path = Path(directory) / name
        if path.is_file():
            with path.open("rb") as handle:
                digest.update(name.encode("utf-8") + b"\0" + hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:32]


def titles_digest(directory: str | Path) -> str:
    """A digest of the files that decide the titles: `model_digest` without the similarity head."""
    return model_digest(directory, similarity_head=False)


@dataclass
class PreparedBatch:
    body_ids: np.ndarray
    copy_ids: np.ndarray | None
    unknown_words: list[list[str]]
    # The words each body holds (`title_form.body_words` of its tokens): decoding writes a leading
    # `component:` prefix only when all of its words are among them.
    body_words: list[frozenset[str]] | None = None


@dataclass
class GeneratedTitle:
    """One generated title: as a person reads it (`text`) and as the model wrote it (`tokens`)."""

    text: str
    tokens: list[str]
    score: float
    finished: bool  # False when it hit the length limit instead of ending.
    # What a confidence estimate reads (`inference.confidence`): how many title words were copied
    # from the body (outside the title vocabulary), and the body tokens the model read, shared by
    # a body's alternatives rather than copied.
    copied: int = 0
    body: Sequence[str] = ()


@dataclass
class Explanation:
    """A title with what the model looked at: `attention[i, j]` is title word i's weight on body token j."""

    body_tokens: list[str]
    title_words: list[str]
    score: float
    attention: np.ndarray | None
    copied: list[bool]
    title: str = ""  # The restored title a person reads.


@dataclass
class SeenToken:
    """One body token as the model saw it."""

    text: str
    rare: bool
    kept: bool  # False for tokens past the truncation point.


def _load_keras_model(path: Path):
    import keras

    import issue_summarizer.models.building  # noqa: F401  Registers the custom attention layers for deserialization.

    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, TypeError) as error:
        raise ModelDirectoryError(f"{path}: cannot load the model ({type(error).__name__}: {error})") from None


# Titled when a model loads; any caller that needs one real issue text can use it too.
SELF_CHECK_TEXT = "The parser crashes with a segmentation fault when the input file is empty."


def _first_line(error: Exception, limit: int = 300) -> str:
    # TensorFlow's messages run to pages of graph details; the first line says what failed.
    line = (str(error).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Summarizer:
    def __init__(
        self,
        model,
        config: SummarizerConfig,
        body_vocabulary: Vocabulary,
        title_vocabulary: Vocabulary,
        directory: str | Path | None = None,
    ) -> None:
        import tensorflow as tf

        from issue_summarizer.models.building import (
            build_attention_map,
            build_decoder_step,
            build_encoder,
            encoder_output_width,
        )

        if len(body_vocabulary) > config.body_vocab_size or len(title_vocabulary) > config.title_vocab_size:
            raise ModelDirectoryError(f"{directory}: the vocabularies are larger than the configuration allows")
        self.model = model
        self.config = config
        self.body_vocabulary = body_vocabulary
        self.title_vocabulary = title_vocabulary
        self.directory = Path(directory) if directory else None
        # What each title token means for a title's form (function words, quotes, brackets), for decoding.
        self.token_forms = TokenForms.from_tokens(title_vocabulary.tokens)
        # Attention models (GRU or Transformer) copy from the body and can show what they looked at.
        self.uses_attention = config.copies_from_body
        self.reads_whole_prefix = config.architecture == "transformer"
        self.encoder = build_encoder(model, config)
        self.decoder_step = build_decoder_step(model, config)
        # Compiled once with fixed signatures, so neither batch size nor thread retraces them.
        # Length-bucketed models read batches cut to their bucket, so the body length varies.
        body_spec = tf.TensorSpec((None, config.body_input_length), tf.int32)
        if self.reads_whole_prefix:
            step_specs = [tf.TensorSpec((None, None), tf.int32)]
        else:
            step_specs = [tf.TensorSpec((None, 1), tf.int32), tf.TensorSpec((None, config.hidden_dim), tf.float32)]
        self._encode_graph = tf.function(lambda ids: self.encoder(ids, training=False), input_signature=[body_spec])
        # Encodes a batch that mixes length buckets in one pass (`_encode_by_bucket`).
        self._packed_encoder = PackedEncoder(model) if self._mixes_buckets else None
        if self.uses_attention:
            memory_spec = tf.TensorSpec((None, config.body_input_length, encoder_output_width(config)), tf.float32)
            step_specs += [memory_spec, body_spec, body_spec]
            self.attention_map = build_attention_map(model, config)
            # Called for every generated title (its words take the form of the most-attended body
            # token), so it is compiled once, for any batch size and title length.
            title_spec = tf.TensorSpec((None, None), tf.int32)
            self._attention_graph = tf.function(
                lambda body, copy, title: self.attention_map([body, copy, title], training=False),
                input_signature=[body_spec, body_spec, title_spec],
            )
        self._step_graph = tf.function(
            lambda *inputs: self.decoder_step(list(inputs), training=False), input_signature=step_specs
        )
        self._lock = threading.Lock()
        self._output_width = encoder_output_width(config)
        import keras

        # The GRU models' body words are a plain Embedding; the Transformer's adds positions to its
        # own (`TokenAndPositionEmbedding`), so its features go without the mean word vector.
        word_layers = [layer for layer in model.layers if layer.name == "body_embedding"]
        self._word_vectors = (
            np.asarray(word_layers[0].embeddings, dtype=np.float32)
            if word_layers and isinstance(word_layers[0], keras.layers.Embedding)
            else None
        )
        self._feature_width = (
            config.hidden_dim
            + 2 * self._output_width
            + (0 if self._word_vectors is None else self._word_vectors.shape[1])
        )
        # The similarity head (`train-embedding`) and its `similarity.json`; `load` sets them
        # when the model directory has one.
        self.similarity_head = None
        self.similarity_info: dict | None = None
        self.similarity_problem: str | None = None

    @classmethod
    def load(cls, directory: str | Path, similarity_head: bool = True) -> Summarizer:
        """Load a model directory and title one issue with it, or raise `ModelDirectoryError` naming what is wrong.

        `similarity_head=False` leaves the directory's similarity head unread, for
        `train-embedding`, which replaces it, whatever state it is in."""
        directory = Path(directory)
        check_model_directory(directory)
        try:
            config = SummarizerConfig.load(directory)
            body_vocabulary = Vocabulary.load(directory / BODY_VOCABULARY_FILE)
            title_vocabulary = Vocabulary.load(directory / TITLE_VOCABULARY_FILE)
        except ValueError as error:
            raise ModelDirectoryError(str(error)) from None
        model = _load_keras_model(directory / MODEL_FILE)
        try:
            summarizer = cls(model, config, body_vocabulary, title_vocabulary, directory)
            if similarity_head:
                summarizer._load_similarity_head()
            # One title through every graph: weights that load but do not fit the configuration
            # (another width, an unknown setting) fail here, with the directory named, rather than
            # on a visitor's first click. Settings that still compute, such as swapped padding
            # sides, cannot be told from the weights; they only make worse titles.
            summarizer.summarize([SELF_CHECK_TEXT])
        except ModelDirectoryError:
            raise
        except Exception as error:  # Keras and TensorFlow raise many types for a mismatched model.
            raise ModelDirectoryError(
                f"{directory}: the model does not fit its configuration ({type(error).__name__}: {_first_line(error)})"
            ) from None
        return summarizer

    def _load_similarity_head(self) -> None:
        """Load the directory's similarity head, if it has one that fits this encoder.

        A head that does not fit (trained for another encoder, or by another version) leaves
        titles untouched: it is recorded in `similarity_problem`, which `embed` raises when asked
        for the trained embedding, rather than making the whole model unusable.
        """
        try:
            loaded = load_head(self.directory) if self.directory else None
        except (OSError, ValueError, TypeError) as error:
            self.similarity_problem = str(error)
            return
        if loaded is None:
            return
        head, info = loaded
        width = self._feature_width
        if not self.uses_attention or info.get("input_dimension") != width:
            self.similarity_problem = (
                f"{self.directory}: the similarity head reads {info.get('input_dimension')} features, "
                f"this encoder gives {width if self.uses_attention else 'no per-position outputs'}; "
                "train it again with `train-embedding`"
            )
            return
        self.similarity_head, self.similarity_info = head, info

    # Text → ids.

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The cleaned tokens the model reads for each text (at most `body_length`)."""
        return clean_and_tokenize(list(texts), self.config.cleaning, max_tokens=self.config.body_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_bodies(self.tokenize(texts), self.body_vocabulary, self.config)

    def _body_ids(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """Padded body ids of a batch, cut to the batch's longest bucket for length-bucketed models.

        Such a model trained on batches cut that way, so it reads the same input here, and a
        batch of short bodies skips the encoder steps that would only read padding.
        """
        ids = encode_bodies(list(tokens), self.body_vocabulary, self.config)
        if not self.config.length_buckets or not len(ids):
            return ids
        length = int(bucket_lengths(ids, self.config.length_buckets).max())
        return cut_padding(ids, length, self.config.body_padding)

    def _batches(self, tokens: Sequence[Sequence[str]], batch_size: int, mix_buckets: bool = False) -> list[list[int]]:
        """Rows in batches of at most `batch_size`. For a length-bucketed model each batch holds
        bodies of one bucket, so that every body is read at its own bucket's length whatever
        else is in the batch (its title does not depend on its neighbours).

        With `mix_buckets` (decoding by a GRU attention model, which encodes each bucket at its
        own length: `_encode_by_bucket`), a bucket with `MIXED_BATCH_BELOW` rows or more still
        decodes in batches of its own, but the rows of smaller ones share batches, ordered by
        bucket. A server's batch of 32 requests then decodes in one pass instead of one pass per
        bucket, while a large file keeps the cheaper single-bucket batches (in a mixed batch
        every decoder step attends over the longest bucket's width).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        groups = [list(range(len(tokens)))]
        if self.config.length_buckets:
            config = self.config
            buckets = round_up_to_bucket([len(row) for row in tokens], config.body_length, config.length_buckets)
            groups = [np.flatnonzero(buckets == length).tolist() for length in np.unique(buckets)]
        batches = [group[start : start + batch_size] for group in groups for start in range(0, len(group), batch_size)]
        if not mix_buckets or len(groups) < 2:
            return batches
        alone = min(batch_size, MIXED_BATCH_BELOW)
        whole = [batch for batch in batches if len(batch) >= alone]
        left_over = [row for batch in batches if len(batch) < alone for row in batch]
        return whole + [left_over[start : start + batch_size] for start in range(0, len(left_over), batch_size)]

    def inspect(self, text: str, extra_tokens: int = 30) -> list[SeenToken]:
        """The cleaned tokens of `text`, marking rare words and those past the truncation point."""
        length = self.config.body_length
        tokens = clean_and_tokenize([text], self.config.cleaning, max_tokens=length + extra_tokens)[0]
        return [
            SeenToken(token, token not in self.body_vocabulary.index, position < length)
            for position, token in enumerate(tokens)
        ]

    # Model calls.

    def _encoder_features(self, ids: np.ndarray) -> np.ndarray:
        """Per row, concatenated: the final state, the encoder outputs mean-pooled and max-pooled over
        real tokens, and the mean of the frozen body word embeddings (the features `FEATURES` names)."""
        if not self.uses_attention:
            raise ValueError("this model's encoder has no per-position outputs; only its final state can be embedded")
        with self._lock:
            state, outputs = self._encode_graph(ids)
        outputs = np.asarray(outputs)
        # Padding positions are left out of every pool, so a short body is not pulled towards the
        # padding's outputs; a body of padding only keeps zeros.
        real = ids != 0
        weights = real.astype(np.float32)[:, :, None]
        counts = np.maximum(weights.sum(axis=1), 1.0)
        pooled = (outputs * weights).sum(axis=1) / counts
        peaks = np.where(real[:, :, None], outputs, -np.inf).max(axis=1)
        peaks[~real.any(axis=1)] = 0.0
        parts = [np.asarray(state), pooled, peaks]
        if self._word_vectors is not None:
            # The words themselves, which the recurrent states blur: a title shares words with its body.
            parts.append((self._word_vectors[ids] * weights).sum(axis=1) / counts)
        return np.concatenate(parts, axis=1).astype(np.float32)

    @property
    def _mixes_buckets(self) -> bool:
        """Whether decoding may batch bodies of several length buckets together (`_encode_by_bucket`)."""
        return bool(self.config.length_buckets) and self.uses_attention and not self.reads_whole_prefix

    def _encode_by_bucket(self, ids: np.ndarray) -> tuple[np.ndarray, object]:
        """The attention encoder's (first decoder state, outputs) for body ids that may mix length buckets.

        Each row is read exactly as a batch of its bucket alone would read it: cut to its
        bucket's length (the GRU encoder reads the padding, so the length matters). A batch of
        several buckets is read in one pass once `compile_mixed_batches` has run (a server):
        `PackedEncoder` steps each row through its bucket's positions only. Otherwise each bucket
        is encoded in a call of its own. Either way a row's outputs are zero outside its bucket's
        positions, which the decoder's attention ignores (`LuongAttention` masks id 0), and both
        ways give the same states and outputs (bit for bit on this machine). The titles of 1,000
        test bodies in mixed batches equalled those decoded bucket by bucket but one, a near tie
        between two beams that the batch's float rounding decided. Models that never mix buckets
        (`_mixes_buckets`: the Transformer masks its padding) are encoded in one call.
        """
        config = self.config
        # Rounded against the full body length: `ids` may already be cut to the batch's longest bucket.
        lengths = bucket_lengths(ids, config.length_buckets, config.body_length) if self._mixes_buckets else None
        if lengths is None or (lengths == ids.shape[1]).all():
            with self._lock:
                state, outputs = self._encode_graph(ids)
            return np.asarray(state), outputs
        width = ids.shape[1]
        buckets = [
            (lengths == length, kept_columns(width, int(length), config.body_padding)) for length in np.unique(lengths)
        ]
        if self._packed_encoder.compiled:
            window = np.zeros(ids.shape, dtype=bool)
            for rows, columns in buckets:
                window[rows, columns] = True
            with self._lock:
                return self._packed_encoder(ids, window)
        # Not compiled (a one-off command, whose few mixed batches would not repay a second or so
        # of compiling per graph): bucket by bucket, with the graph every batch uses anyway.
        import tensorflow as tf

        state = np.zeros((len(ids), config.hidden_dim), dtype=np.float32)
        outputs = np.zeros((len(ids), width, self._output_width), dtype=np.float32)
        for rows, columns in buckets:
            with self._lock:
                bucket_state, bucket_outputs = self._encode_graph(ids[rows, columns])
            state[rows] = np.asarray(bucket_state)
            outputs[rows, columns] = np.asarray(bucket_outputs)
        return state, tf.constant(outputs)

    def compile_mixed_batches(self) -> None:
        """Compile now the encoder graphs that batches mixing length buckets need (a second or
        so each, once per process), so that a server's first requests do not wait for them."""
        if self._packed_encoder is not None:
            self._packed_encoder.compile(self.config.length_buckets)

    def _encoder_states(self, ids: np.ndarray) -> np.ndarray:
        """The encoder's final state (the issue's embedding) for each row of body ids."""
        with self._lock:
            outputs = self._encode_graph(ids)
        return np.asarray(outputs[0] if self.uses_attention else outputs)

    def _step(self, previous_ids: np.ndarray, state: np.ndarray, *memory) -> tuple[np.ndarray, ...]:
        with self._lock:
            outputs = self._step_graph(previous_ids, state.astype(np.float32), *memory)
        return tuple(output.numpy() for output in outputs)

    def _prefix_step(self, prefix_ids: np.ndarray, *memory) -> tuple[np.ndarray, ...]:
        with self._lock:
            outputs = self._step_graph(prefix_ids.astype(np.int32), *memory)
        return tuple(output.numpy() for output in outputs)

    def prepare_batch(self, tokens: Sequence[Sequence[str]]) -> PreparedBatch:
        """Body ids, and for the attention model copy ids and each body's words missing from the title vocabulary."""
        body_ids = self._body_ids(tokens)
        words = [body_words(" ".join(row)) for row in tokens]
        if not self.uses_attention:
            return PreparedBatch(body_ids, None, [[] for _ in tokens], words)
        copy_ids, _, unknown_words = encode_for_copying(list(tokens), None, self.title_vocabulary, self.config)
        # Copy ids line up with the body ids, so they are cut to the same width.
        copy_ids = cut_padding(copy_ids, body_ids.shape[1], self.config.body_padding)
        return PreparedBatch(body_ids, copy_ids, unknown_words, words)

    def decode_batch(self, batch: PreparedBatch, options: DecodingOptions) -> list[list[Hypothesis]]:
        """Titles (as extended ids) for a prepared batch, greedy or with beam search."""
        return self._decode(batch, options)[0]

    def _decode(
        self, batch: PreparedBatch, options: DecodingOptions
    ) -> tuple[list[list[Hypothesis]], list[list[np.ndarray]] | None]:
        """Titles for a prepared batch and, for the GRU attention model, each title's attention
        over the padded body positions as the decoder computed it: one row per step, that is per
        word and then <end> when the title finished (a title cut at the length limit has no <end>
        row). These are the weights a teacher-forced pass over the titles would compute, without
        running the encoder and decoder a second time.
        """
        rules = self.title_rules(batch)
        if not self.uses_attention:
            hypotheses = decode(
                lambda ids, state: self._step(ids, state), self._encoder_states(batch.body_ids), options, rules
            )
            return hypotheses, None
        import tensorflow as tf

        state, encoder_outputs = self._encode_by_bucket(batch.body_ids)
        # The memory every step reads stays a tensor: copying the encoder's outputs (batch x
        # positions x width floats) into a new tensor at every step took more time than the steps.
        memory = [encoder_outputs, tf.constant(batch.body_ids), tf.constant(batch.copy_ids)]
        if options.beam_width > 1 and self.reads_whole_prefix:
            # Beam search runs `beam_width` rows per issue; each row reads its own issue's
            # encoding. (The GRU step reads one encoding per issue for all its beams.)
            memory = [tf.repeat(array, options.beam_width, axis=0) for array in memory]
        vocabulary_size = len(self.title_vocabulary)
        if self.reads_whole_prefix:
            # The Transformer's "state" is the title so far (decoder ids): each step appends the
            # previous token and reads the whole prefix again. Beam search reorders it like a state.

            def prefix_step(previous_ids: np.ndarray, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                prefix = np.concatenate([prefix, to_decoder_input(previous_ids, vocabulary_size)], axis=1)
                probabilities, _ = self._prefix_step(prefix, *memory)
                return probabilities, prefix

            return decode(prefix_step, np.zeros((len(batch.body_ids), 0), dtype=np.int32), options, rules), None

        step_attention: list[np.ndarray] = []

        def step(previous_ids: np.ndarray, step_state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            probabilities, new_state, weights = self._step(
                to_decoder_input(previous_ids, vocabulary_size), step_state, *memory
            )
            step_attention.append(weights)
            return probabilities, new_state

        hypotheses = decode(step, state, options, rules)
        steps = [np.asarray(weights) for weights in step_attention]
        attention = []
        for row, alternatives in enumerate(hypotheses):
            attention.append([])
            for hypothesis in alternatives:
                # Greedy rows keep their place in the batch; beams record the row of every step.
                count = len(hypothesis.ids) + int(hypothesis.finished)
                rows = hypothesis.rows or (row,) * count
                attention[-1].append(np.stack([steps[step][source] for step, source in enumerate(rows[:count])]))
        return hypotheses, attention

    def title_log_likelihoods(self, texts: Sequence[str], titles: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """How likely the model finds each given title for its body: the mean log-probability per
        token, `<end>` included, with the title read word by word (teacher forcing).

        Titles are cleaned as the model's training titles were (tags such as "[Bug]:" stripped
        when the configuration strips them), and a word the body holds but the title vocabulary
        lacks is read as a copy from the body, as in decoding. The decoding rules are not applied,
        so a generated title scored here and a person's title are measured the same way.
        """
        if len(texts) != len(titles):
            raise ValueError(f"{len(texts)} bodies and {len(titles)} titles; they must pair up")
        if not self.uses_attention or self.reads_whole_prefix:
            raise ValueError("scoring a given title needs the GRU attention model's step-by-step decoder")
        cleaned = [strip_title_tags(title) if self.config.strip_title_tags else title for title in titles]
        title_tokens = clean_and_tokenize(cleaned, self.config.title_cleaning, max_tokens=self.config.title_length)
        body_tokens = self.tokenize([check_body(text).text for text in texts])
        scores = np.zeros(len(texts), dtype=np.float64)
        vocabulary_size = len(self.title_vocabulary)
        import tensorflow as tf

        for rows in self._batches(body_tokens, batch_size, mix_buckets=self._mixes_buckets):
            batch = self.prepare_batch([body_tokens[row] for row in rows])
            extended = [
                extend_title(title_tokens[row], self.title_vocabulary, unknown)
                for row, unknown in zip(rows, batch.unknown_words, strict=True)
            ]
            length = max(len(ids) for ids in extended)
            ids = np.full((len(rows), length), END_ID, dtype=np.int32)
            real = np.zeros((len(rows), length), dtype=bool)
            for position, row_ids in enumerate(extended):
                ids[position, : len(row_ids)] = row_ids
                real[position, : len(row_ids)] = True
            state, encoder_outputs = self._encode_by_bucket(batch.body_ids)
            memory = [encoder_outputs, tf.constant(batch.body_ids), tf.constant(batch.copy_ids)]
            totals = np.zeros(len(rows))
            for step in range(length - 1):
                probabilities, state, _ = self._step(
                    to_decoder_input(ids[:, step : step + 1], vocabulary_size), state, *memory
                )
                probabilities = np.asarray(probabilities).reshape(len(rows), -1)
                chosen = probabilities[np.arange(len(rows)), ids[:, step + 1]]
                totals += np.where(real[:, step + 1], np.log(np.maximum(chosen, 1e-12)), 0.0)
            scores[rows] = totals / (real.sum(axis=1) - 1)
        return scores

    def title_rules(self, batch: PreparedBatch) -> TitleRules:
        """The rules that hold a batch's titles to the form people write (`decoding.TitleRules`)."""
        return TitleRules(self.token_forms, batch.unknown_words, batch.body_words)

    def decoding_options(self, beam_width: int | None, max_length: int | None, **settings) -> DecodingOptions:
        """Decoding options: what the caller sets, else the model's tuned defaults from its configuration."""
        config = self.config
        defaults = {
            "length_penalty": config.length_penalty,
            "no_repeat_ngram_size": config.no_repeat_ngram_size,
            "min_length": config.min_title_length,
        }
        # Only None means "the model's own": a 0 passed on is a mistake to report, not a default to
        # fall back to silently (`DecodingOptions` refuses a max_length of 0 itself).
        beam_width = config.beam_width if beam_width is None else check_beam_width(beam_width)
        max_length = config.title_length - 1 if max_length is None else max_length
        defaults["min_length"] = min(defaults["min_length"], max(max_length, 0))
        return DecodingOptions(beam_width=beam_width, max_length=max_length, **{**defaults, **settings})

    def title_words(self, ids: Sequence[int], unknown_words: Sequence[str] = (), show_rare: bool = False) -> list[str]:
        return words_from_ids(ids, self.title_vocabulary, unknown_words, show_rare=show_rare)

    def title_text(self, ids: Sequence[int], unknown_words: Sequence[str] = (), show_rare: bool = False) -> str:
        return " ".join(self.title_words(ids, unknown_words, show_rare))

    def _attention(self, batch: PreparedBatch, rows: Sequence[int], titles: Sequence[Sequence[int]]) -> np.ndarray:
        """Attention of each title (extended ids) over its body's padded positions: one teacher-forced pass."""
        length = max((len(ids) for ids in titles), default=0) + 1
        title_input = np.zeros((len(titles), length), dtype=np.int32)
        for row, ids in enumerate(titles):
            title_input[row, : len(ids) + 1] = [START_ID, *ids]
        title_input = to_decoder_input(title_input, len(self.title_vocabulary))
        rows = np.asarray(rows)
        with self._lock:
            weights = self._attention_graph(batch.body_ids[rows], batch.copy_ids[rows], title_input)
        return np.asarray(weights)

    def _over_body(self, weights: np.ndarray, count: int) -> np.ndarray:
        """The attention columns of a body's `count` tokens, wherever padding put them."""
        if self.config.body_padding == "pre":
            return weights[:, weights.shape[1] - count :]
        return weights[:, :count]

    def body_surface(self, text: str, tokens: list[str]) -> list[SurfaceToken]:
        """How the body wrote each token the model reads (case, numbers, spacing)."""
        return surface_forms(text, tokens, self.config.cleaning)

    def generate_titles(
        self,
        texts: Sequence[str],
        beam_width: int | None = None,
        max_length: int | None = None,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
        **settings,
    ) -> list[list[GeneratedTitle]]:
        """All alternatives (`num_alternatives`, best first) for each text, restored and as tokens.

        Settings left out (beam width, length penalty, n-gram blocking, minimum length) take
        the model's defaults, which `python -m issue_summarizer tune` chose on validation data.
        """
        options = self.decoding_options(beam_width, max_length, **settings)
        texts = [check_body(text).text for text in texts]
        tokens = self.tokenize(texts)
        results: list[list[GeneratedTitle]] = [[] for _ in texts]
        batches = self._batches(tokens, batch_size, mix_buckets=self._mixes_buckets)
        # How each body wrote its tokens is needed only after decoding. A second thread reads it
        # while TensorFlow decodes (TensorFlow releases the GIL), so the two share the cores.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="surface-forms")
        try:
            surface_jobs = [
                reader.submit(lambda rows: [self.body_surface(texts[row], tokens[row]) for row in rows], batch_rows)
                for batch_rows in batches
            ]
            for batch_rows, surface_job in zip(batches, surface_jobs, strict=True):
                self._title_batch(texts, tokens, batch_rows, surface_job, options, results)
                if progress:
                    progress(len(batch_rows))
        finally:
            reader.shutdown(wait=True, cancel_futures=True)
        return results

    def _title_batch(
        self,
        texts: Sequence[str],
        tokens: Sequence[list[str]],
        batch_rows: list[int],
        surface_job: Future,
        options: DecodingOptions,
        results: list[list[GeneratedTitle]],
    ) -> None:
        """Decode and restore the titles of one batch of rows into `results`."""
        batch_tokens = [tokens[row] for row in batch_rows]
        batch = self.prepare_batch(batch_tokens)
        decoded, step_attention = self._decode(batch, options)
        pairs = [(row, hypothesis) for row, hypotheses in enumerate(decoded) for hypothesis in hypotheses]
        if step_attention is not None:
            weights = [attention for alternatives in step_attention for attention in alternatives]
        elif self.uses_attention and pairs:
            # The Transformer's steps do not keep their attention: one teacher-forced pass.
            weights = self._attention(batch, [row for row, _ in pairs], [h.ids for _, h in pairs])
        else:
            weights = None
        surfaces = surface_job.result()
        titles: list[list[GeneratedTitle]] = [[] for _ in decoded]
        for index, (row, hypothesis) in enumerate(pairs):
            body = batch_tokens[row]
            words = self.title_words(hypothesis.ids, batch.unknown_words[row])
            attention = None if weights is None else self._over_body(weights[index], len(body))
            text = restore_title(
                words, body, surfaces[row], attention, hypothesis.finished, self.config.capitalize_titles
            )
            copied = sum(token_id >= len(self.title_vocabulary) for token_id in hypothesis.ids)
            titles[row].append(GeneratedTitle(text, words, float(hypothesis.score), hypothesis.finished, copied, body))
        for row, alternatives in zip(batch_rows, titles, strict=True):
            results[row] = alternatives

    def generate(
        self,
        texts: Sequence[str],
        beam_width: int | None = None,
        max_length: int | None = None,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
        **settings,
    ) -> list[list[tuple[str, float]]]:
        """All alternatives (`num_alternatives`, best first) for each text as (restored title, score)."""
        generated = self.generate_titles(texts, beam_width, max_length, batch_size, progress, **settings)
        return [[(title.text, title.score) for title in alternatives] for alternatives in generated]

    def explain(self, text: str, beam_width: int | None = None, **settings) -> Explanation:
        """The best title for `text` with, for the attention model, the attention of each title
        word over the body tokens and which title words were copied from the body."""
        text = check_body(text).text
        tokens = self.tokenize([text])
        batch = self.prepare_batch(tokens)
        options = self.decoding_options(beam_width, settings.pop("max_length", None), **settings)
        decoded, step_attention = self._decode(batch, options)
        best = decoded[0][0]
        words = self.title_words(best.ids, batch.unknown_words[0])
        surface = self.body_surface(text, tokens[0])
        weights = None
        if self.uses_attention and best.ids:
            # One row per title word plus <end>. Decoding computed them already, except for a
            # title cut at the length limit, which never ran its <end> step.
            if step_attention is not None and best.finished:
                weights = step_attention[0][0]
            else:
                weights = self._attention(batch, [0], [best.ids])[0]
            weights = self._over_body(weights, len(tokens[0]))
        title = restore_title(words, tokens[0], surface, weights, best.finished, self.config.capitalize_titles)
        copied = [token_id >= len(self.title_vocabulary) for token_id in best.ids]
        if weights is None:
            copied = [False] * len(words)
        return Explanation(tokens[0], words, float(best.score), weights, copied, title)

    def summarize(self, texts: Sequence[str], beam_width: int | None = None, **settings) -> list[tuple[str, float]]:
        """The best title and its score (mean log-probability per token) for each text."""
        return [alternatives[0] for alternatives in self.generate(texts, beam_width=beam_width, **settings)]

    @property
    def embedding_kind(self) -> str:
        """What `embed` returns by default: `trained` with a similarity head, else `final_state`."""
        has_head = self.similarity_head is not None or self.similarity_problem is not None
        return "trained" if has_head else "final_state"

    def encoder_features(self, texts: Sequence[str], batch_size: int = 512) -> np.ndarray:
        """The frozen encoder's features of each text (see `_encoder_features`). Titles go
        through the same pipeline as bodies."""
        if not self.uses_attention:
            raise ValueError("this model's encoder has no per-position outputs; only its final state can be embedded")
        tokens = self.tokenize([check_body(text).text for text in texts])
        features = np.zeros((len(tokens), self._feature_width), dtype=np.float32)
        for rows in self._batches(tokens, batch_size):
            features[rows] = self._encoder_features(self._body_ids([tokens[row] for row in rows]))
        return features

    def similarity_inputs(self, texts: Sequence[str], batch_size: int = 512) -> HeadInputs:
        """What the similarity head reads of each text: the encoder features and the hashed raw words."""
        features = self.encoder_features(texts, batch_size)
        return HeadInputs(features, word_ids([check_body(text).text for text in texts]))

    def embed_inputs(self, inputs: HeadInputs, kind: str | None = None) -> np.ndarray:
        """One kind of embedding from `similarity_inputs`, so that a caller who needs several kinds encodes once."""
        kind = kind or self.embedding_kind
        features = inputs.features
        if kind == "final_state":
            return features[:, : self.config.hidden_dim]
        if kind == "mean_pooled":
            return features[:, self.config.hidden_dim : self.config.hidden_dim + self._output_width]
        if kind == "trained":
            if self.similarity_head is None:
                raise ValueError(
                    self.similarity_problem or f"{self.directory}: no similarity head; train one with `train-embedding`"
                )
            vectors = np.zeros((len(inputs), self.similarity_head.output.shape[-1]), dtype=np.float32)
            # In slices, so that a 100k-row file does not build one 100k × 400-word batch.
            for start in range(0, len(inputs), 1024):
                part = inputs.take(slice(start, start + 1024)).as_model_input()
                with self._lock:
                    vectors[start : start + 1024] = np.asarray(self.similarity_head(part, training=False))
            return vectors
        raise ValueError(f"unknown embedding kind {kind!r}; use one of {', '.join(EMBEDDING_KINDS)}")

    def embed(self, texts: Sequence[str], batch_size: int = 512, kind: str | None = None) -> np.ndarray:
        """A fixed-size vector for each text that places similar issues close.

        By default (`kind=None`, see `embedding_kind`) the embedding trained for similarity
        when the model directory has a head, else the encoder's final state; `kind` names one
        of `trained`, `final_state` or `mean_pooled`.
        """
        kind = kind or self.embedding_kind
        if kind not in EMBEDDING_KINDS:
            raise ValueError(f"unknown embedding kind {kind!r}; use one of {', '.join(EMBEDDING_KINDS)}")
        if kind != "final_state":
            return self.embed_inputs(self.similarity_inputs(texts, batch_size), kind)
        tokens = self.tokenize([check_body(text).text for text in texts])
        states = np.zeros((len(tokens), self.config.hidden_dim), dtype=np.float32)
        for rows in self._batches(tokens, batch_size):
            states[rows] = self._encoder_states(self._body_ids([tokens[row] for row in rows]))
        return states

    def known_word_share(self, text: str) -> float:
        """The share of the body's tokens the vocabulary knows; 0 means the title is a pure guess."""
        ids = self.encode([text])[0]
        words = ids[ids != 0]
        return float((words != RARE_ID).mean()) if words.size else 0.0
