"""`Summarizer`: a trained model directory loaded for inference.

    summarizer = Summarizer.load("model")
    summarizer.summarize(["The app crashes when ..."], beam_width=5)  # [(title, score)]
    summarizer.embed(["..."])  # the encoder's final state, one row per text

A model directory holds `model.keras`, `config.json` and the two vocabularies. One
`Summarizer` is safe to share between threads (the app's sessions): TensorFlow calls are
serialised by a lock, and everything else is read-only after loading.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from issue_summarizer.config import CONFIG_FILE, SummarizerConfig
from issue_summarizer.decoding import DecodingOptions, Hypothesis, decode
from issue_summarizer.input_checks import check_body
from issue_summarizer.prepare import BODY_VOCABULARY_FILE, TITLE_VOCABULARY_FILE, encode_bodies
from issue_summarizer.tokenization import clean_and_tokenize
from issue_summarizer.vocabulary import RARE_ID, Vocabulary

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MODEL_FILE = "model.keras"
REQUIRED_FILES = (MODEL_FILE, CONFIG_FILE, BODY_VOCABULARY_FILE, TITLE_VOCABULARY_FILE)


class ModelDirectoryError(ValueError):
    """A model directory is missing, incomplete or corrupt. The message says which file and how."""


@dataclass
class SeenToken:
    """One body token as the model saw it."""

    text: str
    rare: bool
    kept: bool  # False for tokens past the truncation point.


def _load_keras_model(path: Path):
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, TypeError) as error:
        raise ModelDirectoryError(f"{path}: cannot load the model ({type(error).__name__}: {error})") from None


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

        from issue_summarizer.model import build_decoder_step, build_encoder

        if len(body_vocabulary) > config.body_vocab_size or len(title_vocabulary) > config.title_vocab_size:
            raise ModelDirectoryError(f"{directory}: the vocabularies are larger than the configuration allows")
        self.model = model
        self.config = config
        self.body_vocabulary = body_vocabulary
        self.title_vocabulary = title_vocabulary
        self.directory = Path(directory) if directory else None
        self.encoder = build_encoder(model)
        self.decoder_step = build_decoder_step(model, config)
        # Compiled once with fixed signatures, so neither batch size nor thread retraces them.
        self._encode_graph = tf.function(
            lambda ids: self.encoder(ids, training=False),
            input_signature=[tf.TensorSpec((None, config.body_length), tf.int32)],
        )
        self._step_graph = tf.function(
            lambda ids, state: self.decoder_step([ids, state], training=False),
            input_signature=[tf.TensorSpec((None, 1), tf.int32), tf.TensorSpec((None, config.hidden_dim), tf.float32)],
        )
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: str | Path) -> Summarizer:
        """Load a model directory, or raise `ModelDirectoryError` naming what is wrong."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ModelDirectoryError(
                f"{directory}: no such model directory; train one with `python -m issue_summarizer train`"
            )
        missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            raise ModelDirectoryError(f"{directory}: not a complete model directory; missing {', '.join(missing)}")
        try:
            config = SummarizerConfig.load(directory)
            body_vocabulary = Vocabulary.load(directory / BODY_VOCABULARY_FILE)
            title_vocabulary = Vocabulary.load(directory / TITLE_VOCABULARY_FILE)
        except ValueError as error:
            raise ModelDirectoryError(str(error)) from None
        model = _load_keras_model(directory / MODEL_FILE)
        return cls(model, config, body_vocabulary, title_vocabulary, directory)

    # Text → ids.

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The cleaned tokens the model reads for each text (at most `body_length`)."""
        return clean_and_tokenize(list(texts), self.config.cleaning, max_tokens=self.config.body_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_bodies(self.tokenize(texts), self.body_vocabulary, self.config)

    def inspect(self, text: str, extra_tokens: int = 30) -> list[SeenToken]:
        """The cleaned tokens of `text`, marking rare words and those past the truncation point."""
        length = self.config.body_length
        tokens = clean_and_tokenize([text], self.config.cleaning, max_tokens=length + extra_tokens)[0]
        return [
            SeenToken(token, token not in self.body_vocabulary.index, position < length)
            for position, token in enumerate(tokens)
        ]

    # Model calls.

    def _encoder_states(self, ids: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._encode_graph(ids))

    def _step(self, previous_ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            probabilities, new_state = self._step_graph(previous_ids, state.astype(np.float32))
        return probabilities.numpy(), new_state.numpy()

    def decode_ids(self, body_ids: np.ndarray, options: DecodingOptions) -> list[list[Hypothesis]]:
        return decode(self._step, self._encoder_states(body_ids), options)

    def _options(self, beam_width: int, max_length: int | None, **settings) -> DecodingOptions:
        return DecodingOptions(beam_width=beam_width, max_length=max_length or self.config.title_length - 1, **settings)

    def title_text(self, ids: Sequence[int], show_rare: bool = False) -> str:
        return " ".join(self.title_vocabulary.decode(ids, show_rare=show_rare))

    def generate(
        self,
        texts: Sequence[str],
        beam_width: int = 1,
        max_length: int | None = None,
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
        show_rare: bool = False,
        **settings,
    ) -> list[list[tuple[str, float]]]:
        """All alternatives (`num_alternatives`, best first) for each text as (title, score)."""
        options = self._options(beam_width, max_length, allow_rare=show_rare, **settings)
        texts = [check_body(text).text for text in texts]
        tokens = self.tokenize(texts)
        results = []
        for start in range(0, len(texts), batch_size):
            ids = encode_bodies(tokens[start : start + batch_size], self.body_vocabulary, self.config)
            for hypotheses in self.decode_ids(ids, options):
                results.append([(self.title_text(h.ids, show_rare), float(h.score)) for h in hypotheses])
            if progress:
                progress(len(ids))
        return results

    def summarize(self, texts: Sequence[str], beam_width: int = 1, **settings) -> list[tuple[str, float]]:
        """The best title and its score (mean log-probability per token) for each text."""
        return [alternatives[0] for alternatives in self.generate(texts, beam_width=beam_width, **settings)]

    def embed(self, texts: Sequence[str], batch_size: int = 512) -> np.ndarray:
        """The encoder's final state for each text: a fixed-size vector that places similar issues close."""
        tokens = self.tokenize([check_body(text).text for text in texts])
        states = [
            self._encoder_states(encode_bodies(tokens[start : start + batch_size], self.body_vocabulary, self.config))
            for start in range(0, len(tokens), batch_size)
        ]
        return np.concatenate(states) if states else np.zeros((0, self.config.hidden_dim), dtype=np.float32)

    def known_word_share(self, text: str) -> float:
        """The share of the body's tokens the vocabulary knows; 0 means the title is a pure guess."""
        ids = self.encode([text])[0]
        words = ids[ids != 0]
        return float((words != RARE_ID).mean()) if words.size else 0.0
