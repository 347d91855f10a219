"""Streamlit support for the app: cached loaders, the sidebar and friendly error handling.

This is the only library module that imports Streamlit. The pages call it for anything
that is loaded or computed once and shared: the `Summarizer` is loaded once per process
(`st.cache_resource`, it is thread-safe), data and embeddings are cached per data identity
(`st.cache_data`), and results that belong to one visitor live in `st.session_state`.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from issue_summarizer.app import cache_warming, data_sources
from issue_summarizer.app.deployment import Deployment
from issue_summarizer.app.text_display import escape_markdown, opening_words
from issue_summarizer.data.input_checks import InputError
from issue_summarizer.data.length_report import histograms_from_texts
from issue_summarizer.data.length_stats import LengthHistogram
from issue_summarizer.data.loading import DataLoadError, LoadedData, load_issues
from issue_summarizer.evaluation.holdout import (
    load_predictions,
    predictions_path,
    rows_of_test_split,
)
from issue_summarizer.evaluation.metrics import LEAD_WORDS
from issue_summarizer.evaluation.model_card import ModelCard, read_model_card
from issue_summarizer.github.client import GitHubSettings
from issue_summarizer.inference.summarizer import SELF_CHECK_TEXT, ModelDirectoryError, Summarizer
from issue_summarizer.scale.embedding_file import read_vectors
from issue_summarizer.scale.similarity import SimilarityMap, SparseIndex, build_file_map, build_map, cluster_labels

logger = logging.getLogger(__name__)
DATA_PATH_KEY = "data_path"
TRAIN_COMMAND = (
    "python -m issue_summarizer train --data ../shared/data/github_issues.jsonl.gz --out model --config attention"
)


@contextmanager
def friendly_errors(action: str) -> Iterator[None]:
    """Show any failure inside the block as an `st.error`, never as a traceback.

    Streamlit's own control flow (`st.stop`, `st.rerun`) raises `BaseException`s and passes
    through. Expected errors carry a one-line message written for people; anything else is
    logged with its traceback for the operator and summarised on the page.
    """
    try:
        yield
    except (ModelDirectoryError, DataLoadError, InputError) as error:
        st.error(shown_error(str(error)), icon=":material/warning:")
    except Exception as error:
        logger.exception("failed while %s", action)
        st.error(
            shown_error(f"Something went wrong while {action}: {type(error).__name__}: {error}"),
            icon=":material/warning:",
        )


class ProgressBar:
    """An `st.progress` bar advanced by counts, as the library's `progress` callbacks report them."""

    def __init__(self, total: int, text: str, finished_text: str | None = None) -> None:
        self.total = max(total, 1)
        self.text = text  # Formatted with `done` and `total`.
        # Shown once every item is counted, for work that follows the counted part.
        self.finished_text = finished_text
        self.done = 0
        self.bar = st.progress(0.0, text=text.format(done=0, total=total))

    def __call__(self, count: int) -> None:
        self.done += count
        text = self.text.format(done=self.done, total=self.total)
        if self.finished_text and self.done >= self.total:
            text = self.finished_text
        self.bar.progress(min(self.done / self.total, 1.0), text=text)

    def clear(self) -> None:
        self.bar.empty()


# Where the app runs.


def deployment() -> Deployment:
    """Local or shared mode, the allowed data directory and the cache directory (read from the environment)."""
    return Deployment.from_environment()


def show_path(path: str | Path) -> str:
    """A file's name as pages show it: without its server location in shared mode."""
    return deployment().show_path(path)


def show_recorded_path(path: str | Path) -> str:
    """A path that a command wrote into a model file (`length_stats.json`), named as `show_path` names
    the sidebar's data file. The commands run from the repository root, so a relative path such as
    `../shared/data/github_issues.jsonl.gz` is read from there, and the page and the sidebar name one
    file the same way."""
    path = Path(path).expanduser()
    if not path.is_absolute():
        path = Path(os.path.normpath(data_sources.REPOSITORY_ROOT / path))
    return show_path(path)


def redact(message: str) -> str:
    """A message without server locations in shared mode (library errors name the files they are about)."""
    settings = deployment()
    paths = [model_directory(), data_sources.REPOSITORY_ROOT, settings.cache_directory, Path.home()]
    if settings.data_directory is not None:
        paths.append(settings.data_directory)
    return settings.redact(message, paths)


def shown_error(message: str) -> str:
    """A library error as a page shows it: redacted, and as plain text, since messages quote
    uploaded files (their column names, their cells) that markdown would otherwise render."""
    return escape_markdown(redact(message))


# The model.


def model_directory() -> Path:
    return data_sources.model_directory()


def model_identity() -> str:
    """A cache key for the model in use (`cache_warming.model_identity`, which `warm-cache` uses too)."""
    return cache_warming.model_identity(model_directory())


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def load_summarizer(directory: str, identity: str) -> Summarizer:
    """Load the model once per process. Loading titles one issue, which traces the graphs, so the
    first title a visitor asks for is as fast as the rest.

    `identity` changes when the weights are retrained in place, so the new ones are loaded.
    """
    summarizer = Summarizer.load(directory)
    # Streamlit calls `keras.backend.clear_session()` after every script run, and that runs a
    # full garbage collection over TensorFlow's hundreds of thousands of objects (about 0.3 s
    # per click). Objects that live as long as the process are moved out of its way.
    gc.freeze()
    return summarizer


def current_summarizer() -> Summarizer:
    """The summarizer for the configured model directory; raises `ModelDirectoryError` if it cannot load."""
    return load_summarizer(str(model_directory()), model_identity())


def show_missing_model(error: Exception) -> None:
    """Explain a model directory that cannot be used, and how to get one."""
    st.error(shown_error(f"The model cannot be loaded. {error}"), icon=":material/error:")
    st.markdown(
        f"Train a model into `{show_path(model_directory())}` (about 20 minutes on a 2-core CPU; `docs/training.md` "
        "shows how the shipped model was made):\n\n"
        f"```bash\n{TRAIN_COMMAND}\n```\n\n"
        f"or point the app at another model directory with `{data_sources.MODEL_ENVIRONMENT_VARIABLE}=/path/to/model`."
    )


def summarizer_or_explain() -> Summarizer | None:
    """The summarizer, or `None` after telling the visitor why there is none."""
    try:
        return current_summarizer()
    except ModelDirectoryError as error:
        show_missing_model(error)
        return None


def model_card() -> ModelCard:
    return read_model_card(model_directory())


# Data.


def default_data_path() -> str:
    """The data file a session starts with: `$ISSUE_SUMMARIZER_DATA`, else the shared corpus when it exists.

    On a shared server the corpus beside the checkout is not offered unless it lies in the
    data directory, and the path is written relative to that directory.
    """
    path = data_sources.default_data_path()
    settings = deployment()
    if not settings.shared or not path:
        return path
    if data_sources.DATA_ENVIRONMENT_VARIABLE not in os.environ:
        # The corpus beside the checkout is only a default when the operator offers it.
        resolved = Path(path).resolve()
        data_directory = settings.data_directory
        return settings.relative_name(resolved) if data_directory and resolved.is_relative_to(data_directory) else ""
    return path


def data_path() -> str:
    """The data file chosen in the sidebar (or by `$ISSUE_SUMMARIZER_DATA`), as given; empty when none."""
    value = st.session_state[DATA_PATH_KEY] if DATA_PATH_KEY in st.session_state else default_data_path()
    return (value or "").strip()


def usable_data_path() -> str | None:
    """The chosen data file, resolved; `None` when none is chosen or it does not exist.

    Raises `DataAccessError` (shown by `friendly_errors`) when shared mode forbids the path.
    """
    path = data_path()
    if not path:
        return None
    resolved = deployment().resolve_data_path(path)
    return str(resolved) if resolved.is_file() else None


@st.cache_data(show_spinner="Reading the test split…", max_entries=4)
def load_test_split(path: str, identity: str, directory: str) -> pd.DataFrame:
    """The rows of the model's test split in a data file; `identity` changes when the file does."""
    del identity  # Part of the cache key only.
    return rows_of_test_split(path, directory)


@st.cache_data(show_spinner="Reading the saved predictions…", max_entries=4)
def load_saved_predictions(path: str, identity: str) -> pd.DataFrame:
    del identity  # Part of the cache key only.
    return load_predictions(path)


@st.cache_data(show_spinner="Reading the upload…", max_entries=8)
def load_upload(name: str, identity: str, _data: bytes, require_title: bool, drop_bad_rows: bool) -> LoadedData:
    """An uploaded file as loaded data; the bytes are identified by their hash rather than hashed again."""
    del identity  # Part of the cache key only.
    return data_sources.load_upload(name, _data, require_title=require_title, drop_bad_rows=drop_bad_rows)


def github_settings() -> GitHubSettings:
    """How to reach GitHub. On a shared server the operator's `GITHUB_TOKEN` is not used for
    visitors' requests, so that no visitor can read the private repositories it opens, and
    GitHub's messages there do not advise setting one."""
    settings = GitHubSettings.from_environment()
    return replace(settings, token=None, token_allowed=False) if deployment().shared else settings


@st.cache_data(show_spinner="Reading the upload…", max_entries=8)
def load_titling_upload(name: str, identity: str, _data: bytes) -> tuple[LoadedData, str | None]:
    """An upload to title (rows with bodies, or with issue URLs), keyed by the hash of its bytes."""
    del identity  # Part of the cache key only.
    return data_sources.load_titling_upload(name, _data)


def read_uploaded_file(uploaded, require_title: bool, drop_bad_rows: bool = True) -> tuple[LoadedData, str]:
    """Load a `st.file_uploader` value; return it with its identity for cache keys."""
    data = uploaded.getvalue()
    identity = data_sources.content_identity(data)
    return load_upload(uploaded.name, identity, data, require_title, drop_bad_rows), identity


@dataclass
class HoldoutIssues:
    """Issues the model did not train on, with where they came from."""

    frame: pd.DataFrame  # repo, title, body, and the prediction columns when `evaluated`
    label: str
    identity: str
    evaluated: bool
    metrics: dict | None = None  # Aggregate scores, when an evaluation produced them.


def saved_predictions() -> HoldoutIssues | None:
    """The predictions that the model's owner saved with `python -m issue_summarizer evaluate`."""
    path = predictions_path(model_directory())
    if not path.is_file():
        return None
    identity = data_sources.file_identity(path)
    frame = load_saved_predictions(str(path), identity)
    metrics = read_model_card(model_directory()).metrics
    return HoldoutIssues(frame, f"saved predictions `{path.name}`", identity, evaluated=True, metrics=metrics)


# The evaluation cache's keys, reads and writes are `cache_warming`'s, so that what
# `python -m issue_summarizer warm-cache` stores is what these functions find.


def evaluation_cache_path(data_path: str) -> Path:
    """Where the app keeps its evaluation of the current model on the test split of `data_path`."""
    return cache_warming.evaluation_cache_path(deployment().cache_directory, model_directory(), data_path)


def cached_evaluation(data_path: str) -> HoldoutIssues | None:
    """An earlier evaluation of the test split of `data_path` by any session (or `warm-cache`), from the app's cache."""
    cached = cache_warming.read_cached_evaluation(deployment().cache_directory, model_directory(), data_path)
    if cached is None:
        return None
    label = f"test split of `{show_path(data_path)}`"
    return HoldoutIssues(cached.frame, label, cached.identity, evaluated=True, metrics=cached.metrics)


def store_evaluation(data_path: str, issues: HoldoutIssues) -> bool:
    """Keep an evaluation for every session in the cache; `False` when the cache cannot be written,
    in which case it is kept for this session only."""
    try:
        cache_warming.store_evaluation(
            deployment().cache_directory, model_directory(), data_path, issues.frame, issues.metrics or {}
        )
    except OSError:
        logger.warning("cannot write the evaluation cache", exc_info=True)
        st.session_state[f"evaluation:{model_identity()}:{data_path}"] = issues
        return False
    return True


def session_evaluation(data_path: str) -> HoldoutIssues | None:
    """The evaluation this visitor ran when the cache directory could not be written."""
    return st.session_state.get(f"evaluation:{model_identity()}:{data_path}")


def evaluated_issues(data_path: str | None) -> HoldoutIssues | None:
    """Evaluated held-out issues: the owner's saved predictions, else a cached or this session's evaluation."""
    issues = saved_predictions()
    if issues is None and data_path is not None:
        issues = cached_evaluation(data_path) or session_evaluation(data_path)
    return issues


def held_out_issues() -> HoldoutIssues | None:
    """Held-out test issues from the best source available: an evaluation (see `evaluated_issues`),
    or the raw test split of the data file (not evaluated)."""
    path = usable_data_path()
    issues = evaluated_issues(path)
    if issues is not None or path is None:
        return issues
    identity = data_sources.file_identity(path)
    frame = load_test_split(path, identity, str(model_directory()))
    return HoldoutIssues(frame, f"test split of `{show_path(path)}`", identity, evaluated=False)


@st.cache_data(show_spinner=False, max_entries=4)
def body_openings(identity: str, _bodies: list[str]) -> list[str]:
    """The first words of each body as its author wrote them (`text_display.opening_words`), computed
    once per table: `identity` names the table, whose bodies are not hashed on every rerun."""
    return [opening_words(body, LEAD_WORDS) for body in _bodies]


def explain_missing_data(purpose: str) -> None:
    st.info(
        f"**No held-out data yet.** {purpose} needs issues the model did not train on. "
        "Provide them in one of these ways:\n"
        f"- run `python -m issue_summarizer evaluate --model {show_path(model_directory())} --data DATA` to save "
        "`predictions_test.jsonl.gz` into the model directory;\n"
        + (
            "- choose a data file in the sidebar, from the files this server offers;\n"
            if deployment().shared
            else "- set the data file in the sidebar or with "
            f"`{data_sources.DATA_ENVIRONMENT_VARIABLE}=/path/to/issues.jsonl.gz`;\n"
        )
        + "- or choose **Uploaded file** above and upload a CSV, JSONL or parquet file with `title` and `body` "
        "columns.",
        icon=":material/folder_open:",
    )


# Similar issues.


# The functions below are keyed by `identity`, which names both the model (`model_identity`)
# and the data; the large arguments, marked with a leading underscore, are not hashed.


@st.cache_data(show_spinner=False, max_entries=4)
def embeddings(identity: str, _bodies: list[str], persist: bool = False) -> np.ndarray:
    """Encoder states of the bodies.

    With `persist` (the test split of a data file, the same for every visitor), they are also
    kept in the cache directory, so a restarted server reuses them; a visitor's upload is kept
    in memory only, so uploads cannot fill the server's disk.
    """
    # The file's name, reads and writes are `cache_warming`'s, which `warm-cache` uses to fill it.
    path = cache_warming.embeddings_cache_path(deployment().cache_directory, identity)
    if persist:
        vectors = cache_warming.read_cached_embeddings(path, len(_bodies))
        if vectors is not None:
            return vectors
    vectors = current_summarizer().embed(_bodies)
    if persist:
        try:
            cache_warming.store_embeddings(path, vectors)
        except OSError:
            logger.warning("cannot write the embeddings cache", exc_info=True)
    return vectors


def embeddings_cached(identity: str) -> bool:
    """Whether `embeddings(identity, ..., persist=True)` will find its vectors on disk rather than compute them."""
    return cache_warming.embeddings_cache_path(deployment().cache_directory, identity).is_file()


# The fitted UMAP reducer is a large object with compiled numba functions; it is cached as a
# shared resource instead of being pickled and copied on every rerun as `st.cache_data` would.
@st.cache_resource(show_spinner=False, max_entries=4)
def similarity_map(identity: str, _frame: pd.DataFrame, _embeddings: np.ndarray) -> SimilarityMap:
    return build_map(_frame, _embeddings)


@st.cache_resource(show_spinner=False, max_entries=2)
def file_map(identity: str, path: str) -> SimilarityMap:
    """The map and neighbour index of an embeddings file written by `embed`, built once per file and model."""
    frame, vectors = read_vectors(path)
    dimensions = current_summarizer().embed([SELF_CHECK_TEXT]).shape[1]
    if vectors.ndim != 2 or vectors.shape[1] != dimensions:
        raise DataLoadError(
            f"{path}: its vectors have {vectors.shape[-1] if vectors.ndim == 2 else 0} dimensions and this model's "
            f"{dimensions}; write the file with this model's `embed`"
        )
    # A TF-IDF index saved beside the file (`SparseIndex.save` to `SparseIndex.beside(path)`) makes the
    # search hybrid; without one the file is searched by meaning alone, as the page says.
    beside = SparseIndex.beside(path)
    rows = frame["row"].to_numpy() if "row" in frame.columns else None
    try:
        sparse = SparseIndex.load(beside, rows=rows) if beside.is_file() else None
    except ValueError as error:
        raise DataLoadError(str(error)) from None
    return build_file_map(frame, vectors, sparse=sparse)


@st.cache_data(show_spinner=False, max_entries=16)
def clusters(identity: str, count: int, _embeddings: np.ndarray) -> np.ndarray:
    return cluster_labels(_embeddings, count)


# The sidebar.


def _file_size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} kB"


# The sidebar is narrow and paths have no spaces to break at: they wrap anywhere rather than run
# out of sight.
WRAP_PATHS = "<style>.st-key-model_status code, .st-key-data_file_status p { overflow-wrap: anywhere; }</style>"


def render_sidebar() -> None:
    """The model in use and the data source, on every page."""
    directory = model_directory()
    with st.sidebar:
        st.html(WRAP_PATHS)
        st.markdown("#### Model")
        with st.container(key="model_status"):
            try:
                summarizer = current_summarizer()
                parameters = summarizer.model.count_params()
                st.markdown(
                    f":material/check_circle: **{summarizer.config.name}** configuration, "
                    f"{parameters / 1e6:,.1f} M parameters  \n"
                    f"`{show_path(directory)}`"
                )
                st.caption("Model loaded.")
            except ModelDirectoryError as error:
                st.markdown(f":material/cancel: No usable model in `{show_path(directory)}`")
                st.caption(shown_error(str(error)))
        st.markdown("#### Data")
        if deployment().shared:
            shared_data_choice()
        else:
            local_data_choice()


def local_data_choice() -> None:
    """Any file on this machine, typed as a path: the owner's laptop trusts its user."""
    st.text_input(
        "Data file (CSV, JSONL or parquet)",
        value=default_data_path(),
        key=DATA_PATH_KEY,
        placeholder="/path/to/issues.jsonl.gz",
        help="Used by the Holdout browser, Lengths and Similar issues pages. "
        f"Set the default with {data_sources.DATA_ENVIRONMENT_VARIABLE}.",
    )
    path = data_path()
    if not path:
        st.caption("No data file set. Pages that need data say how to provide it.")
    elif Path(path).expanduser().is_file():
        # The text box shows only the start of a long path, so the whole path is written out below it.
        with st.container(key="data_file_status"):
            st.caption(data_file_caption(path, _file_size(Path(path).expanduser())))
    else:
        st.warning(f"No such file: `{path}`", icon=":material/warning:")


def data_file_caption(path: str, size: str) -> str:
    """The sidebar's line about the local data file: its name and size, then its whole path."""
    file = Path(path).expanduser()
    return f":material/description: **{escape_markdown(file.name)}**, {size}  \n{escape_markdown(str(file))}"


def shared_data_choice() -> None:
    """One of the files in the demo's data directory: visitors cannot name any other file."""
    settings = deployment()
    files = settings.data_files()
    default = default_data_path()
    if default and DATA_PATH_KEY not in st.session_state:
        try:
            default = settings.relative_name(settings.resolve_data_path(default))
        except DataLoadError as error:
            st.warning(shown_error(str(error)), icon=":material/block:")
            default = ""
    st.selectbox(
        "Data file",
        files,
        index=files.index(default) if default in files else None,
        key=DATA_PATH_KEY,
        placeholder="Choose a data file…" if files else "No data files on this server",
        help="Used by the Holdout browser, Lengths and Similar issues pages. This demo server offers only the "
        "files of its data directory; upload your own on each page.",
    )
    if not files:
        st.caption("This server offers no data files. Pages that need data let you upload a file.")


# Lengths.


def _frame_histograms(directory: str, frame: pd.DataFrame, sample: int) -> dict[str, LengthHistogram]:
    """Body lengths of every row's sample, and title lengths of the rows that have a title.

    Data read without requiring titles keeps untitled rows with an empty title; counting those
    as zero-length titles would make titles look shorter than any real one is, so they are
    left out of the title histogram, and a file without any title has none.
    """
    config = read_model_card(directory).config
    histograms = histograms_from_texts(frame["body"].tolist(), None, config.cleaning, sample=sample)
    titles = titled(frame)
    if titles:
        histograms["title"] = histograms_from_texts(titles, None, config.title_cleaning, sample=sample)["body"]
    return histograms


def titled(frame: pd.DataFrame) -> list[str]:
    """The titles of the rows that have one (not empty, not only whitespace)."""
    if "title" not in frame.columns:
        return []
    return [title for title in frame["title"] if isinstance(title, str) and title.strip()]


@st.cache_data(show_spinner=False, max_entries=8)
def data_file_histograms(directory: str, path: str, identity: str, sample: int) -> dict[str, LengthHistogram]:
    """Token-length histograms of a sample of a data file, cleaned as the model in `directory` cleans."""
    del identity  # Part of the cache key only.
    return _frame_histograms(directory, load_issues(path, require_title=False).frame, sample)


@st.cache_data(show_spinner=False, max_entries=8)
def upload_histograms(directory: str, identity: str, sample: int, _frame: pd.DataFrame) -> dict[str, LengthHistogram]:
    """The same for an uploaded file, identified by the hash of its bytes."""
    return _frame_histograms(directory, _frame, sample)
