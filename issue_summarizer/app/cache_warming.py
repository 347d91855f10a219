"""The app's disk cache, and `warm-cache`, which fills it before the first visitor comes.

Two pages compute something once for every visitor and keep it in the cache directory
(`Deployment.cache_directory`, never the model directory):

* the Holdout browser's evaluation of the model on a data file's test split
  (`predictions/KEY.jsonl.gz` and `KEY.metrics.json`, keyed by the model and the data file);
* the Similar issues page's embeddings of the issues it maps (`embeddings/KEY.npy`, keyed by
  the model, the frame mapped and its row count).

The keys, the reads and writes and the computations live here, without Streamlit, so that
the pages (through `app_state`) and the command use the same functions: what the command
stores is found by the app's own lookups. A key names files by their resolved path, size and
modification time, so the command must run on the server itself, with the same model
directory, data file and cache directory as the app.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.app import data_sources
from issue_summarizer.app.deployment import CACHE_ENVIRONMENT_VARIABLE, Deployment
from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.config import CONFIG_FILE
from issue_summarizer.data.input_checks import usable_rows
from issue_summarizer.data.loading import DataLoadError
from issue_summarizer.evaluation.holdout import (
    cached_predictions_path,
    load_cached_predictions,
    load_predictions,
    predictions_path,
    prepare_predictions,
    rows_of_test_split,
    save_predictions,
)
from issue_summarizer.evaluation.metrics import evaluate_frame
from issue_summarizer.inference.confidence import CONFIDENCE_FILE
from issue_summarizer.inference.summarizer import MODEL_FILE, Summarizer, check_model_directory
from issue_summarizer.scale.similarity import MIN_MAP_ROWS, sample_rows

# Part of every cached result's key: raise it when the way titles are written changes, so that
# evaluations cached by an older version are not shown as this one's.
CACHE_VERSION = 2

# What first visits cost, measured with the shipped model on this project's 2-core CPU machine:
# titling the corpus' 6,622-issue test split took 133 s (120 s in `warm-cache`), and the first
# map of 2,000 issues in a fresh server process 26 to 32 s: embedding the bodies 6 to 8 s,
# fitting UMAP 5 to 8 s, and numba compiling UMAP's code, once per process, about 20 s.
# Estimates scale with the rows.
TITLING_SECONDS_PER_ISSUE = 133 / 6622
EMBEDDING_SECONDS_PER_ISSUE = 6.3 / 2000
UMAP_SECONDS_PER_ISSUE = 5.0 / 2000
UMAP_COMPILE_SECONDS = 20.0
WARM_COMMAND = "python -m issue_summarizer warm-cache"


# Keys.


def model_identity(model_directory: str | Path) -> str:
    """A cache key for a model: its weights, configuration and confidence files (path, size and time) and the
    cache version. The confidence file is part of it so that `calibrate` gives cached evaluations a
    confidence column."""
    directory = Path(model_directory)
    files = [data_sources.file_identity(directory / name) for name in (MODEL_FILE, CONFIG_FILE, CONFIDENCE_FILE)]
    return "|".join([*files, f"v{CACHE_VERSION}"])


def evaluation_cache_path(cache_directory: str | Path, model_directory: str | Path, data_path: str | Path) -> Path:
    """Where the app keeps its evaluation of the model on the test split of `data_path`."""
    return cached_predictions_path(
        cache_directory, model_identity(model_directory), data_sources.file_identity(data_path)
    )


def map_identity(model_directory: str | Path, source_identity: str, rows: int) -> str:
    """The Similar issues page's key for a map of `rows` issues drawn from the source `source_identity`."""
    return f"{model_identity(model_directory)}|{source_identity}:{rows}"


def embeddings_cache_path(cache_directory: str | Path, identity: str) -> Path:
    """Where the app keeps the embeddings of a map whose key is `identity` (see `map_identity`)."""
    key = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return Path(cache_directory) / "embeddings" / f"{key}.npy"


# The Holdout browser's evaluation.


@dataclass
class CachedEvaluation:
    frame: pd.DataFrame  # The predictions table, as `load_predictions` returns it.
    metrics: dict
    identity: str  # The predictions file's identity, part of the Similar issues page's key.


def read_cached_evaluation(
    cache_directory: str | Path, model_directory: str | Path, data_path: str | Path
) -> CachedEvaluation | None:
    """An evaluation of the test split of `data_path` from the cache; `None` when there is none or it is unreadable."""
    path = evaluation_cache_path(cache_directory, model_directory, data_path)
    cached = load_cached_predictions(path)
    if cached is None:
        return None
    frame, metrics = cached
    return CachedEvaluation(frame, metrics, data_sources.file_identity(path))


def evaluate_test_split(
    summarizer: Summarizer, rows: pd.DataFrame, data_label: str, progress: Callable[[int], None] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Title and score the test-split `rows` of the data file shown as `data_label`: the table and metrics to cache."""
    metrics, table = evaluate_frame(summarizer, rows, progress=progress)
    metrics.update({"split": "test", "data": data_label})
    return prepare_predictions(table), metrics


def store_evaluation(
    cache_directory: str | Path, model_directory: str | Path, data_path: str | Path, frame: pd.DataFrame, metrics: dict
) -> Path:
    """Keep an evaluation where `read_cached_evaluation` finds it; raises `OSError` when the cache cannot be written."""
    return save_predictions(frame, metrics, evaluation_cache_path(cache_directory, model_directory, data_path))


# The Similar issues page's embeddings.


def held_out_frame(
    model_directory: str | Path, cache_directory: str | Path, data_path: str | Path
) -> tuple[pd.DataFrame, str]:
    """The issues the Similar issues page maps for the test split of `data_path`, with their identity.

    The page takes them from `app_state.held_out_issues`, in this order: the predictions the
    model's owner saved with `evaluate`, else the app's cached evaluation, else the raw test
    split. The first is keyed by the saved file, the second by the cached file, the last by
    the data file, so the embeddings a source gets are found only under that source's key.
    """
    saved = predictions_path(model_directory)
    if saved.is_file():
        return load_predictions(saved), data_sources.file_identity(saved)
    cached = read_cached_evaluation(cache_directory, model_directory, data_path)
    if cached is not None:
        return cached.frame, cached.identity
    return rows_of_test_split(data_path, model_directory), data_sources.file_identity(data_path)


def map_sample(frame: pd.DataFrame) -> pd.DataFrame:
    """The issues a map draws: a reproducible sample of the rows whose body the model reads."""
    return sample_rows(usable_rows(frame[["repo", "title", "body"]]))


def read_cached_embeddings(path: str | Path, rows: int) -> np.ndarray | None:
    """Embeddings kept at `path` for `rows` issues, or `None` when there are none (or they do not fit)."""
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # Not cached yet, or unreadable: the caller computes them again.
    return vectors if vectors.ndim == 2 and vectors.shape[0] == rows else None


def store_embeddings(path: str | Path, vectors: np.ndarray) -> None:
    """Keep embeddings where `read_cached_embeddings` finds them; raises `OSError` when the cache cannot be written."""
    write_atomically(Path(path), lambda temporary: _save_array(temporary, vectors))


def _save_array(path: Path, array: np.ndarray) -> None:
    # An open file, because `np.save` adds ".npy" to a path that lacks it.
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


# How long first visits take, as the pages say before they start.


def duration_text(seconds: float) -> str:
    """A rough duration in words: "a few seconds", "about 30 seconds", "about 2 minutes"."""
    # Halves round up (Python's `round` would make 25 s "about 20 seconds").
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:
        return f"about {int(seconds / 10 + 0.5) * 10} seconds"
    if seconds < 90:
        return "about a minute"
    if seconds < 5400:
        return f"about {int(seconds / 60 + 0.5)} minutes"
    return f"about {int(seconds / 3600 + 0.5)} hours"


def evaluation_caption(rows: int) -> str:
    """What the Holdout browser says beside its button before titling `rows` test issues."""
    duration = duration_text(rows * TITLING_SECONDS_PER_ISSUE)
    return (
        f"Titling the test split takes {duration} on 2 CPU cores the first time; after that every visitor "
        f"sees the results at once. The server's owner can do it in advance with `{WARM_COMMAND}`."
    )


def map_caption(rows: int) -> str:
    """What the Similar issues page says before it first maps `rows` issues of the test split."""
    duration = duration_text(rows * (EMBEDDING_SECONDS_PER_ISSUE + UMAP_SECONDS_PER_ISSUE) + UMAP_COMPILE_SECONDS)
    return (
        f"The first map takes up to {duration} on 2 CPU cores: the encoder embeds {rows:,} issues, and UMAP "
        f"compiles its code once per server process. `{WARM_COMMAND}` embeds them in advance."
    )


# The command.


def check_data_file(path: Path) -> None:
    if not path.exists():
        raise DataLoadError(f"{path}: no such data file")
    if not path.is_file():
        raise DataLoadError(f"{path}: not a file; --data names the data file the app reads (CSV, JSONL or parquet)")


class _Timer:
    """Seconds since it started, for the command's report of each part."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.started:.1f} s"


def visitor_warnings(settings: Deployment, model_directory: Path, data_path: Path) -> list[str]:
    """Why the app might not use what the command stores: another model, or a file visitors cannot choose."""
    warnings = []
    app_model = data_sources.model_directory()
    if app_model.resolve() != model_directory.resolve():
        warnings.append(
            f"the app uses the model in {app_model} unless {data_sources.MODEL_ENVIRONMENT_VARIABLE} says "
            f"otherwise; start it with {data_sources.MODEL_ENVIRONMENT_VARIABLE}={model_directory} to use this cache"
        )
    if settings.shared:
        directory = settings.data_directory
        if directory is None or not data_path.resolve().is_relative_to(directory):
            warnings.append(
                f"{data_path} lies outside the demo's data directory "
                f"({directory if directory is not None else 'none is configured'}), so visitors cannot choose it"
            )
    return warnings


def warm_cache(
    model_directory: Path,
    data_path: Path,
    settings: Deployment,
    force: bool = False,
    report: Callable[[str], None] = print,
) -> None:
    """Compute what the Holdout browser and the Similar issues page compute on a first visit, and
    store it in `settings.cache_directory`, under the keys the app looks up. Parts already cached
    are kept unless `force`; the model is loaded only when something is computed."""
    check_model_directory(model_directory)
    check_data_file(data_path)
    from tqdm.auto import tqdm

    total = _Timer()
    cache = settings.cache_directory
    report(f"model {model_directory.resolve()}, data {data_path.resolve()}")
    report(f"cache directory {cache.expanduser().resolve()} (set with {CACHE_ENVIRONMENT_VARIABLE})")
    for warning in visitor_warnings(settings, model_directory, data_path):
        report(f"warning: {warning}")
    summarizer: Summarizer | None = None

    def loaded_summarizer() -> Summarizer:
        nonlocal summarizer
        if summarizer is None:
            timer = _Timer()
            summarizer = Summarizer.load(model_directory)
            report(f"loaded the model in {timer}")
        return summarizer

    # The Holdout browser shows the owner's saved predictions when there are some, and evaluates
    # the data file's test split only when there are none.
    if predictions_path(model_directory).is_file():
        report(f"Holdout browser: shows the model's own {predictions_path(model_directory).name}; nothing to evaluate")
    elif not force and read_cached_evaluation(cache, model_directory, data_path) is not None:
        report("Holdout browser: the evaluation of the test split is already cached (--force computes it again)")
    else:
        timer = _Timer()
        rows = rows_of_test_split(data_path, model_directory)
        if rows.empty:
            raise DataLoadError(f"{data_path}: none of its issues is from the model's test split; nothing to evaluate")
        report(f"read {len(rows):,} test-split issues in {timer}")
        model = loaded_summarizer()
        timer = _Timer()
        with tqdm(total=len(rows), desc="titling", unit="issue", disable=None) as bar:
            frame, metrics = evaluate_test_split(model, rows, settings.show_path(data_path), progress=bar.update)
        path = store_evaluation(cache, model_directory, data_path, frame, metrics)
        report(
            f"Holdout browser: titled and scored {len(frame):,} issues in {timer} "
            f"(model ROUGE-L {metrics['model']['rougeL']:.3f}); stored {path}"
        )

    # Then the map, from whichever issues the page would now take (the evaluation just stored).
    frame, source_identity = held_out_frame(model_directory, cache, data_path)
    sample = map_sample(frame)
    if len(sample) < MIN_MAP_ROWS:
        report(f"Similar issues: {len(sample)} issues have a readable body and a map needs {MIN_MAP_ROWS}; skipped")
    else:
        path = embeddings_cache_path(cache, map_identity(model_directory, source_identity, len(sample)))
        if not force and read_cached_embeddings(path, len(sample)) is not None:
            report("Similar issues: the embeddings are already cached (--force computes them again)")
        else:
            model = loaded_summarizer()
            timer = _Timer()
            vectors = model.embed(sample["body"].tolist())
            store_embeddings(path, vectors)
            report(f"Similar issues: embedded {len(sample):,} issues in {timer}; stored {path}")
        report(
            "Similar issues: the first map in each server process still fits UMAP, which compiles its code "
            f"({duration_text(UMAP_COMPILE_SECONDS + len(sample) * UMAP_SECONDS_PER_ISSUE)} on 2 CPU cores)"
        )
    report(f"done in {total}; the app finds these results when it runs with this model, data file and cache directory")


def warm_cache_command(args) -> None:
    """`python -m issue_summarizer warm-cache`: fill the app's cache for one model and data file."""
    data = args.data if args.data is not None else data_sources.default_data_path()
    if not data:
        raise DataLoadError(
            f"no data file: pass --data FILE (or set {data_sources.DATA_ENVIRONMENT_VARIABLE}, as for the app)"
        )
    model = args.model if args.model is not None else data_sources.model_directory()
    warm_cache(Path(model), Path(data).expanduser(), Deployment.from_environment(), force=args.force, report=_print)


def _print(line: str) -> None:
    print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout, flush=True)
