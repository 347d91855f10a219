"""A model card assembled from the files in a model directory.

The Overview page shows what is here: the configuration, where the data came from, how
training went and how the model scores on the held-out test repositories. Every file but
`config.json` is optional, so a directory from an interrupted run still gets a card that
says what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from issue_summarizer.config import CONFIG_FILE, SummarizerConfig
from issue_summarizer.evaluation.metrics import LEAD_WORDS, METRICS_FILE
from issue_summarizer.inference.summarizer import ModelDirectoryError
from issue_summarizer.training.averaging import AVERAGING_FILE

PROVENANCE_FILE = "provenance.json"
TRAINING_FILE = "training.json"
HISTORY_FILE = "history.json"
METRIC_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "bleu": "BLEU"}
# The settings a reader of the card cares about, with what each one means.
CONFIGURATION_ROWS = {
    "name": "Named configuration",
    "architecture": "seed: plain GRU encoder-decoder; attention: adds attention and copying; "
    "transformer: Transformer encoder-decoder that copies",
    "body_vocab_size": "Body vocabulary (ids, padding and rare word included)",
    "title_vocab_size": "Title vocabulary",
    "body_length": "Body tokens read (the rest is cut off)",
    "title_length": "Title tokens, start and end markers included",
    "embedding_dim": "Embedding size",
    "hidden_dim": "GRU units (encoder and decoder); the Transformer's width",
    "learning_rate": "Nadam learning rate",
    "label_smoothing": "Label smoothing (0: plain cross-entropy)",
    "batch_size": "Batch size",
    "epochs": "Maximum epochs",
    "patience": "Early-stopping patience (epochs)",
    "learning_rate_decay": "Learning-rate factor after an epoch without a better validation loss (1: never)",
    "seed": "Random seed",
    "precision": "Training precision (the saved model runs in float32)",
    "length_buckets": "Length buckets in training (0: full-length batches)",
    "beam_width": "Default beam width (1 is greedy), tuned on validation data",
    "length_penalty": "Default length penalty for beam search",
    "no_repeat_ngram_size": "Default n-gram size that may not repeat (0: off)",
    "min_title_length": "Default minimum title words",
}


@dataclass
class ModelCard:
    """What a model directory says about its model. Missing optional files are `None`."""

    directory: Path
    config: SummarizerConfig
    provenance: dict | None
    training: dict | None
    history: dict | None
    metrics: dict | None
    quality: dict | None = None
    averaging: dict | None = None  # Which epochs' weights were averaged into the shipped ones.


def _read_optional_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelDirectoryError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ModelDirectoryError(f"{path}: expected a JSON object")
    return value


def read_model_card(directory: str | Path) -> ModelCard:
    """Read a model directory's description, or raise `ModelDirectoryError` with one line."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirectoryError(f"{directory}: no such model directory")
    if not (directory / CONFIG_FILE).is_file():
        raise ModelDirectoryError(f"{directory}: not a model directory; {CONFIG_FILE} is missing")
    try:
        config = SummarizerConfig.load(directory)
    except ValueError as error:
        raise ModelDirectoryError(str(error)) from None
    return ModelCard(
        directory=directory,
        config=config,
        provenance=_read_optional_json(directory / PROVENANCE_FILE),
        training=_read_optional_json(directory / TRAINING_FILE),
        history=_read_optional_json(directory / HISTORY_FILE),
        metrics=_read_optional_json(directory / METRICS_FILE),
        quality=_read_optional_json(directory / QUALITY_FILE),
        averaging=_read_optional_json(directory / AVERAGING_FILE),
    )


def configuration_table(config: SummarizerConfig) -> pd.DataFrame:
    """The main settings of a configuration as (setting, value, meaning) rows."""
    values = config.to_dict()
    rows = [
        {"setting": name, "value": str(values[name]), "meaning": meaning}
        for name, meaning in CONFIGURATION_ROWS.items()
    ]
    cleaning = ", ".join(name.replace("_", " ") for name, value in values["cleaning"].items() if value)
    rows.append({"setting": "cleaning", "value": cleaning, "meaning": "Text cleaning steps switched on"})
    return pd.DataFrame(rows)


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Model and lead-baseline scores side by side, one row per system.

    Newer `metrics.json` files also give the model's copy rate (the share of titles with a word
    from outside the title vocabulary); the column is there only when some row has it.
    """
    systems = {"model": "Model", f"lead_{LEAD_WORDS}": f"First {LEAD_WORDS} body words"}
    rows = []
    for key, label in systems.items():
        values = metrics.get(key)
        if not isinstance(values, dict):
            continue
        row = {"system": label}
        row.update({title: values.get(name) for name, title in METRIC_NAMES.items()})
        row["copy rate"] = values.get("copy_rate")
        row["rows"] = values.get("rows")
        rows.append(row)
    table = pd.DataFrame(rows, columns=["system", *METRIC_NAMES.values(), "copy rate", "rows"])
    return table if table["copy rate"].notna().any() else table.drop(columns="copy rate")


def weights_description(averaging: dict | None) -> str:
    """Which weights a model directory ships, from its `averaging.json` (or its absence)."""
    checkpoints = (averaging or {}).get("checkpoints") or []
    if not (averaging or {}).get("kept") or not checkpoints:
        return "improving and keeps the best epoch's weights."
    loss = averaging.get("averaged_loss")
    shown_loss = f" (validation loss {loss:.3f})" if isinstance(loss, int | float) else ""
    return f"improving; the shipped weights are the mean of the last {len(checkpoints)} epochs' weights{shown_loss}."


def decoding_description(metrics: dict) -> str:
    """How the scored titles were decoded, from a `metrics.json` of either shape.

    Newer files hold a `decoding` dict (beam width, length penalty, n-gram blocking, minimum
    length); older ones only a top-level `beam_width`.
    """
    decoding = metrics.get("decoding")
    if not isinstance(decoding, dict):
        decoding = {"beam_width": metrics.get("beam_width", 1)}
    beam_width = int(decoding.get("beam_width") or 1)
    parts = ["greedy decoding" if beam_width <= 1 else f"beam width {beam_width}"]
    if beam_width > 1 and decoding.get("length_penalty") not in (None, 1.0):
        parts.append(f"length penalty {decoding['length_penalty']:g}")
    block = decoding.get("no_repeat_ngram_size")
    if block:
        parts.append("no repeated words" if block == 1 else f"no repeated {block}-word phrases")
    if decoding.get("min_length"):
        parts.append(f"at least {decoding['min_length']} words")
    return ", ".join(parts)


QUALITY_FILE = "quality.json"
# `bench/quality.py`'s measures in two groups, each narrow enough for the page: how each system's
# titles score against the real ones, and how they read to a person.
QUALITY_SCORE_COLUMNS = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "bleu": "BLEU",
    "copy_rate": "copy rate",
    "empty_share": "empty",
    "repeat_share": "repeats a word 3×",
}
QUALITY_READING_COLUMNS = {
    "placeholder_share": "placeholder",
    "spacing_share": "token spacing",
    "tag_share": "leading tag",
    "unfinished_share": "unfinished",
    "function_word_share": "ends on a function word",
    "unbalanced_share": "unbalanced marks",
    "stray_prefix_share": "stray prefix",
    "rougeL_cased": "ROUGE-L cased",
    "rougeL_raw": "ROUGE-L raw",
}
QUALITY_COLUMNS = QUALITY_SCORE_COLUMNS | QUALITY_READING_COLUMNS
# Measures that are shares of the titles, shown as percentages; the others are scores.
SHARE_MEASURES = frozenset(name for name in QUALITY_COLUMNS if name.endswith(("_share", "_rate")))
# What a table shows for a measure that does not apply to a system, such as the copy rate of the
# lead baseline, which copies every word.
NOT_APPLICABLE = "–"


def quality_table(quality: dict) -> pd.DataFrame:
    """`bench/quality.py`'s comparison (lead baseline, seed, default model) as one row per system."""
    # The labels may quote paths in Markdown backticks, which a table would show as they are.
    rows = [
        {
            "titles": str(row.get("titles", "?")).replace("`", ""),
            **{title: row.get(name) for name, title in QUALITY_COLUMNS.items()},
        }
        for row in quality.get("rows", [])
        if isinstance(row, dict)
    ]
    return pd.DataFrame(rows, columns=["titles", *QUALITY_COLUMNS.values()])


def format_measure(name: str, value: object) -> str:
    """One measure as a table shows it: shares as percentages, BLEU with one decimal, other scores with
    three, and a dash for a value that is missing or does not apply."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return NOT_APPLICABLE
    if name in SHARE_MEASURES:
        return f"{value:.1%}"
    return f"{value:.1f}" if name == "bleu" else f"{value:.3f}"


def quality_display_table(quality: dict, columns: dict[str, str]) -> pd.DataFrame:
    """One group of the quality comparison as text, indexed by the titles' label.

    A system with none of the group's measures is left out (the real titles have no scores
    against themselves), and so is a measure no system has (older files lack some).
    """

    def applies(row: dict, name: str) -> bool:
        return format_measure(name, row.get(name)) != NOT_APPLICABLE

    rows = [row for row in quality.get("rows", []) if isinstance(row, dict)]
    rows = [row for row in rows if any(applies(row, name) for name in columns)]
    present = [name for name in columns if any(applies(row, name) for row in rows)]
    table = pd.DataFrame(
        [
            {
                "titles": str(row.get("titles", "?")).replace("`", ""),
                **{columns[name]: format_measure(name, row.get(name)) for name in present},
            }
            for row in rows
        ],
        columns=["titles", *(columns[name] for name in present)],
    )
    return table.set_index("titles")


def history_frame(history: dict) -> pd.DataFrame:
    """A Keras history as long rows (epoch, series, loss) for a line chart."""
    labels = {"loss": "training", "val_loss": "validation"}
    rows = [
        {"epoch": epoch, "series": label, "loss": float(value)}
        for key, label in labels.items()
        for epoch, value in enumerate(history.get(key) or [], start=1)
    ]
    return pd.DataFrame(rows, columns=["epoch", "series", "loss"])


def data_summary(provenance: dict) -> str:
    """A sentence that makes the split table add up: the files read, their rows, and the rows left out.

    Files are named without their directories, which says what the data was without showing a
    server's layout to the visitors of a shared demo.
    """
    main_rows = provenance.get("rows_read", 0)
    text = f"`{Path(str(provenance.get('source', 'unknown'))).name}`: {main_rows:,} issues read"
    extra = provenance.get("extra_training_data") or {}
    sources = [Path(str(source)).name for source in extra.get("sources") or []]
    if sources:
        names = ", ".join(f"`{name}`" for name in sources)
        files = "file" if len(sources) == 1 else "files"
        text += f", and {extra.get('rows_read', 0):,} training rows from {len(sources)} more {files} ({names})"
    text += "."
    # The count of rows left out by the caps also holds the extra rows from validation and test
    # repositories, which are left out so that no test project is trained on.
    evaluation_repositories = extra.get("rows_from_evaluation_repositories_left_out", 0)
    left_out = provenance.get("rows_left_out_by_repository_caps", 0) - evaluation_repositories
    dropped = sum((provenance.get("rows_dropped_on_load") or {}).values()) + sum(
        (provenance.get("rows_dropped_in_pipeline") or {}).values()
    )
    if left_out or dropped or evaluation_repositories:
        parts = []
        if left_out:
            parts.append(f"{left_out:,} by the cap on rows per repository")
        if evaluation_repositories:
            parts.append(f"{evaluation_repositories:,} extra rows from validation or test repositories")
        if dropped:
            parts.append(f"{dropped:,} as unusable (empty text, or a title with no known word)")
        text += " Left out: " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."
    if sources:
        text += " Validation and test rows come from the first file only."
    return text


def split_table(provenance: dict) -> pd.DataFrame:
    """Rows and repositories in each split, from `provenance.json`."""
    split = provenance.get("split") or {}
    rows = [
        {"split": name, "rows": values.get("rows"), "repositories": values.get("repositories")}
        for name, values in split.items()
        if isinstance(values, dict)
    ]
    return pd.DataFrame(rows, columns=["split", "rows", "repositories"])


def vocabulary_table(provenance: dict) -> pd.DataFrame:
    """Vocabulary sizes and the share of tokens each covers on training and test data."""
    rows = []
    for name in ("body", "title"):
        values = provenance.get(f"{name}_vocabulary")
        if isinstance(values, dict):
            rows.append(
                {
                    "vocabulary": name,
                    "size": values.get("size"),
                    "train coverage": values.get("train_coverage"),
                    "test coverage": values.get("test_coverage"),
                }
            )
    return pd.DataFrame(rows, columns=["vocabulary", "size", "train coverage", "test coverage"])


def readable_shape(shape: tuple | list, sequence: bool) -> str:
    """A Keras output shape per issue, as a person reads it: `(None, None, 128)` is "words × 128".

    The batch dimension is dropped. In a `sequence` output the first remaining axis counts
    words (of the body or the title), and a length that varies is written "words"; the other
    axes are sizes, written with thousands separators.
    """
    sizes = list(shape)[1:]
    if not sizes:
        return "one value"
    parts = []
    for axis, size in enumerate(sizes):
        if sequence and axis == 0:
            parts.append("words" if size is None else f"{size:,} words")
        else:
            parts.append("words" if size is None else f"{size:,}")
    return " × ".join(parts)


def layer_output(layer) -> str:
    """A layer's output shape per issue; a layer with several outputs (a GRU's sequence and
    states) shows its first and how many more it has."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return ""
    outputs = list(output) if isinstance(output, list | tuple) else [output]
    shapes = [tuple(tensor.shape) for tensor in outputs if hasattr(tensor, "shape")]
    if not shapes:
        return ""
    # Token ids are one number per word; other outputs are a sequence when they have a time axis.
    sequence = type(layer).__name__ == "InputLayer" or len(shapes[0]) >= 3
    text = readable_shape(shapes[0], sequence)
    if len(shapes) > 1:
        more = len(shapes) - 1
        text += f" (+{more} more output{'s' if more > 1 else ''})"
    return text


def layer_table(model) -> pd.DataFrame:
    """The layers of a Keras model with their output shapes per issue and parameter counts."""
    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": layer_output(layer),
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
    return pd.DataFrame(rows, columns=["layer", "type", "output shape", "parameters"])
