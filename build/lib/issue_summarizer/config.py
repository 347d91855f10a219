"""One configuration dataclass for the text pipeline, the model and its training.

It is saved as `config.json` in every model directory, so a directory describes itself and
loads without guessing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

# How text is cleaned is part of a model's configuration, so its options live here, on the
# ground floor, and the cleaning code (`text/cleaning.py`) imports them.
CODE_BLOCK_MODES = ("keep", "marker", "drop")


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning rules to apply. Every rule is on by default."""

    lowercase: bool = True
    replace_numbers: bool = True
    urls_to_domain: bool = True
    code_blocks: str = "marker"
    strip_html: bool = True
    strip_markdown: bool = True
    strip_templates: bool = True
    # Three rules added after the first shipped models; their config files set them to false
    # so that those models keep cleaning text exactly as they were trained.
    unescape_entities: bool = True
    html_element_names_only: bool = True
    split_brackets: bool = True
    # Runs of up to three equal punctuation marks are kept ("C++", "std::vec", "--flag", "...");
    # longer runs, rulers such as "-----" or "!!!!!", collapse to one mark. Off, every run
    # collapses, as the first shipped models were trained.
    keep_short_punctuation_runs: bool = True

    def __post_init__(self) -> None:
        if self.code_blocks not in CODE_BLOCK_MODES:
            raise ValueError(f"code_blocks must be one of {CODE_BLOCK_MODES}, got {self.code_blocks!r}")


# `--config` when none is given: the tutorial's model. The flag has no argparse default, so that
# `train --resume` can tell a configuration the user named from one nobody asked for.
DEFAULT_CONFIGURATION = "seed"

CONFIG_FILE = "config.json"
# Text rules added after models had been saved. A config.json written before a rule existed
# lacks its field, and its model was trained without the rule, so the rule loads switched off
# rather than at today's default: the model then reads text exactly as it was trained.
RULES_ADDED_LATER = {"strip_title_tags": False, "literal_titles": False}
CLEANING_RULES_ADDED_LATER = {
    "unescape_entities": False,
    "html_element_names_only": False,
    "split_brackets": False,
    "keep_short_punctuation_runs": False,
}
ARCHITECTURES = ("seed", "attention", "transformer")
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclass(frozen=True)
class SummarizerConfig:
    """Every size and setting of a model. The defaults are the `seed` configuration.

    The seed reproduces Hamel Husain's tutorial: 8,000 body words and 4,500 title words,
    bodies padded before and truncated after 70 tokens, titles padded after to 12 tokens
    (markers included), a 300-dimensional embedding and GRU, Nadam at 1e-3.
    """

    name: str = "seed"
    # "seed": Hamel's encoder-decoder. "attention": a bidirectional GRU encoder, Luong
    # attention and a pointer-generator that copies body words into the title. "transformer":
    # a pre-layer-norm Transformer encoder-decoder that copies the same way.
    architecture: str = "seed"
    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    # Vocabularies: sizes count every id, padding and rare word included.
    body_vocab_size: int = 8000
    title_vocab_size: int = 4500
    min_count: int = 1
    # Padding and truncation.
    body_length: int = 70
    title_length: int = 12
    body_padding: str = "pre"
    body_truncating: str = "post"
    title_padding: str = "post"
    title_truncating: str = "post"
    drop_empty_titles: bool = True
    # Remove leading template tags ("[Bug]", "feat(scope):") from training titles
    # (`title_tags.strip_title_tags`). Models trained before the rule have it off in config.json.
    strip_title_tags: bool = True
    # Clean titles as literal text: GitHub shows a title's characters as typed (only backticks
    # mark code), so the markdown rules for bodies (inline code, emphasis, links, list marks)
    # would take away what the author wrote: `__init__` would become "init". Models trained
    # before the rule have it off in config.json.
    literal_titles: bool = True
    # Model.
    embedding_dim: int = 300
    # The GRUs' state size; the Transformer's model width.
    hidden_dim: int = 300
    # Transformer only: blocks in the encoder and in the decoder, heads per attention layer.
    transformer_layers: int = 2
    attention_heads: int = 4
    # Transformer only: dropout on embeddings, attention weights and sublayer outputs.
    dropout: float = 0.1
    # Decoding defaults, chosen on the validation split by `python -m issue_summarizer tune`.
    beam_width: int = 1
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    min_title_length: int = 0
    # Whether a title that starts with a word starts with a capital letter; chosen by
    # case-sensitive ROUGE-L against real titles (`bench/quality.py --casing`).
    capitalize_titles: bool = False
    # Training.
    learning_rate: float = 1e-3
    # Label smoothing: this share of each target's probability is spread over the title
    # vocabulary (0 trains on the plain cross-entropy).
    label_smoothing: float = 0.0
    batch_size: int = 128
    epochs: int = 4
    patience: int = 1
    # Multiply the learning rate by this factor after an epoch that does not lower the
    # validation loss (1.0 never changes it). With patience 2, training then gets one more
    # epoch at the lower rate before early stopping.
    learning_rate_decay: float = 1.0
    seed: int = 0
    # "mixed_bfloat16" computes in bfloat16 while keeping float32 weights (CPUs with AVX512_BF16
    # or AMX run it natively). Only training uses it: the saved model always runs in float32.
    precision: str = "float32"
    # Length bucketing: with N > 0, each training batch holds bodies from one of N evenly
    # spaced length buckets and is cut to that bucket's length, so the encoder skips most of
    # the padding. 0 trains on full-length batches.
    length_buckets: int = 0
    # Split by repository.
    validation_share: float = 0.05
    test_share: float = 0.08
    max_rows_per_eval_repository: int = 300
    # Training rows kept per repository (None keeps all): golang/go, rust-lang/rust and
    # neovim/neovim alone are 49% of the corpus.
    max_rows_per_train_repository: int | None = None

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0 < self.learning_rate_decay <= 1:
            raise ValueError(f"learning_rate_decay must be in (0, 1], got {self.learning_rate_decay}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.architecture == "transformer" and self.hidden_dim % self.attention_heads:
            raise ValueError(
                f"hidden_dim ({self.hidden_dim}) must be a multiple of attention_heads ({self.attention_heads})"
            )
        for name in ("body_padding", "body_truncating", "title_padding", "title_truncating"):
            if getattr(self, name) not in ("pre", "post"):
                raise ValueError(f"{name} must be 'pre' or 'post', got {getattr(self, name)!r}")
        if not 0 <= self.length_buckets <= self.body_length:
            raise ValueError(f"length_buckets must be between 0 and body_length, got {self.length_buckets}")
        for name in (
            "body_vocab_size",
            "title_vocab_size",
            "body_length",
            "title_length",
            "embedding_dim",
            "hidden_dim",
            "transformer_layers",
            "attention_heads",
        ):
            if getattr(self, name) < (5 if "vocab" in name else 1):
                raise ValueError(f"{name} is too small: {getattr(self, name)}")
        if self.title_length < 3:
            raise ValueError("title_length must leave room for the start and end markers (at least 3)")
        # Training settings. A command-line flag reaches these unchecked, and out of range they
        # fail late (a batch of 0 rows inside TensorFlow) or not at all: no epoch leaves an
        # untrained model, and a negative rate climbs the loss instead of descending it.
        for name in ("epochs", "batch_size", "min_count", "max_rows_per_eval_repository"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.patience < 0:
            raise ValueError(f"patience must not be negative, got {self.patience}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be greater than 0, got {self.learning_rate}")
        if self.max_rows_per_train_repository is not None and self.max_rows_per_train_repository < 1:
            raise ValueError(
                "max_rows_per_train_repository must be at least 1 (or None for no cap), "
                f"got {self.max_rows_per_train_repository}"
            )
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be at least 1 (1 is greedy decoding), got {self.beam_width}")
        for name in ("length_penalty", "no_repeat_ngram_size", "min_title_length"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    @property
    def copies_from_body(self) -> bool:
        """Whether the model is a pointer-generator, which reads copy ids and attends over the body."""
        return self.architecture != "seed"

    @property
    def body_input_length(self) -> int | None:
        """The model's body input length: any length (None) for length-bucketed models, which
        train and decode on batches cut to their bucket, else the padded length."""
        return None if self.length_buckets else self.body_length

    @property
    def title_cleaning(self) -> CleaningOptions:
        """How titles (training targets and references) are cleaned."""
        return replace(self.cleaning, strip_markdown=False) if self.literal_titles else self.cleaning

    def updated(self, **changes) -> SummarizerConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SummarizerConfig:
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration fields: {', '.join(unknown)}")
        values = {**RULES_ADDED_LATER, **data}
        values["cleaning"] = CleaningOptions(**{**CLEANING_RULES_ADDED_LATER, **values.get("cleaning", {})})
        return cls(**values)

    def save(self, directory: str | Path) -> None:
        Path(directory, CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> SummarizerConfig:
        path = Path(directory, CONFIG_FILE)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ValueError(f"{path}: missing; is {directory} a model directory?") from None
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: not a valid configuration: {error}") from None


# A few seconds of training on a fixture, for tests and smoke runs.
_TINY = SummarizerConfig(
    name="tiny",
    body_vocab_size=300,
    title_vocab_size=200,
    body_length=30,
    title_length=8,
    embedding_dim=32,
    hidden_dim=64,
    learning_rate=5e-3,
    batch_size=16,
    epochs=30,
    patience=30,
)

# Named configurations that `train --config NAME` accepts.
CONFIGURATIONS = {
    "seed": SummarizerConfig(),
    "attention": SummarizerConfig(
        name="attention",
        architecture="attention",
        embedding_dim=128,
        hidden_dim=256,
        epochs=6,
        patience=1,
        max_rows_per_train_repository=3000,
    ),
    # Same data, vocabularies and decoding as `attention`. Bodies are padded after their text,
    # so that position 0 is always the first word.
    "transformer": SummarizerConfig(
        name="transformer",
        architecture="transformer",
        hidden_dim=256,
        transformer_layers=2,
        attention_heads=4,
        body_padding="post",
        learning_rate=5e-4,
        epochs=6,
        patience=1,
        max_rows_per_train_repository=3000,
    ),
    "tiny": _TINY,
    "tiny-attention": _TINY.updated(name="tiny-attention", architecture="attention"),
    "tiny-transformer": _TINY.updated(
        name="tiny-transformer", architecture="transformer", body_padding="post", transformer_layers=1, dropout=0.0
    ),
}


def named_configuration(name: str) -> SummarizerConfig:
    """The configuration called `name`, or a `ValueError` that lists the names there are."""
    if name not in CONFIGURATIONS:
        raise ValueError(f"unknown configuration {name!r}; choose one of {', '.join(CONFIGURATIONS)}")
    return CONFIGURATIONS[name]
