"""Streamlit support for the app: cached loaders, the sidebar and friendly error handling.

This is the only library module that imports Streamlit. The pages call it for anything
that is loaded or computed once and shared: the `Summarizer` is loaded once per process
(`st.cache_resource`, it is thread-safe), data and embeddings are cached per data identity
(`st.cache_data`), and results that belong to one visitor live in `st.session_state`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from issue_summarizer import data_sources
from issue_summarizer.data_loading import DataLoadError, LoadedData, load_issues
from issue_summarizer.holdout import load_predictions, predictions_path, rows_of_test_split
from issue_summarizer.input_checks import InputError
from issue_summarizer.length_report import histograms_from_texts
from issue_summarizer.length_stats import LengthHistogram
from issue_summarizer.model_card import ModelCard, read_model_card
from issue_summarizer.similarity import SimilarityMap, build_map, cluster_labels
from issue_summarizer.summarizer import MODEL_FILE, ModelDirectoryError, Summarizer

logger = logging.getLogger(__name__)
DATA_PATH_KEY = "data_path"
TRAIN_COMMAND = (
    "python -m issue_summarizer train --data ../shared/data/github_issues.jsonl.gz --out model --config seed"
)
WARM_UP_TEXT = "The parser crashes with a segmentation fault when the input file is empty."


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
        st.error(str(error), icon=":material/warning:")
    except Exception as error:
        logger.exception("failed while %s", action)
        st.error(f"Something went wrong while {action}: {type(error).__name__}: {error}", icon=":material/warning:")


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


# The model.


def model_directory() -> Path:
    return data_sources.model_directory()


def model_identity() -> str:
    """A cache key for the model in use: its directory and its weights file's size and time."""
    return data_sources.file_identity(model_directory() / MODEL_FILE)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def load_summarizer(directory: str, identity: str) -> Summarizer:
    """Load the model once per process and trace its graphs, so the first title is as fast as the rest.

    `identity` changes when the weights are retrained in place, so the new ones are loaded.
    """
    summarizer = Summarizer.load(directory)
    summarizer.summarize([WARM_UP_TEXT])
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
    st.error(f"The model cannot be loaded. {error}", icon=":material/error:")
    st.markdown(
        f"Train a model into `{model_directory()}` (about ten minutes on a laptop CPU):\n\n"
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


def data_path() -> str:
    """The data file chosen in the sidebar (or by `$ISSUE_SUMMARIZER_DATA`); empty when none."""
    value = st.session_state.get(DATA_PATH_KEY)
    return (value if value is not None else data_sources.default_data_path()).strip()


def usable_data_path() -> str | None:
    path = data_path()
    return path if path and Path(path).expanduser().is_file() else None


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
    path = predictions_path(model_directory())
    if not path.is_file():
        return None
    identity = data_sources.file_identity(path)
    frame = load_saved_predictions(str(path), identity)
    metrics = read_model_card(model_directory()).metrics
    return HoldoutIssues(frame, f"saved predictions `{path.name}`", identity, evaluated=True, metrics=metrics)


def session_evaluation() -> HoldoutIssues | None:
    """The test-split evaluation this visitor ran when the model directory could not be written."""
    return st.session_state.get(f"evaluation:{model_directory()}")


def remember_evaluation(issues: HoldoutIssues) -> None:
    st.session_state[f"evaluation:{model_directory()}"] = issues


def held_out_issues() -> HoldoutIssues | None:
    """Held-out test issues from the best source available: saved predictions, this session's
    evaluation, or the raw test split of the data file (not evaluated)."""
    issues = saved_predictions() or session_evaluation()
    if issues is not None:
        return issues
    path = usable_data_path()
    if path is None:
        return None
    identity = data_sources.file_identity(path)
    frame = load_test_split(path, identity, str(model_directory()))
    return HoldoutIssues(frame, f"test split of `{path}`", identity, evaluated=False)


def explain_missing_data(purpose: str) -> None:
    st.info(
        f"**No held-out data yet.** {purpose} needs issues the model did not train on. "
        "Provide them in one of these ways:\n"
        f"- run `python -m issue_summarizer evaluate --model {model_directory()} --data DATA` to save "
        "`predictions_test.jsonl.gz` into the model directory;\n"
        "- set the data file in the sidebar or with "
        f"`{data_sources.DATA_ENVIRONMENT_VARIABLE}=/path/to/issues.jsonl.gz`;\n"
        "- or choose **Uploaded file** above and upload a CSV, JSONL or parquet file with `title` and `body` columns.",
        icon=":material/folder_open:",
    )


# Similar issues.


# The functions below are keyed by `identity`, which names both the model (`model_identity`)
# and the data; the large arguments, marked with a leading underscore, are not hashed.


@st.cache_data(show_spinner=False, max_entries=4)
def embeddings(identity: str, _bodies: list[str]) -> np.ndarray:
    """Encoder states of the bodies."""
    return current_summarizer().embed(_bodies)


# The fitted UMAP reducer is a large object with compiled numba functions; it is cached as a
# shared resource instead of being pickled and copied on every rerun as `st.cache_data` would.
@st.cache_resource(show_spinner=False, max_entries=4)
def similarity_map(identity: str, _frame: pd.DataFrame, _embeddings: np.ndarray) -> SimilarityMap:
    return build_map(_frame, _embeddings)


@st.cache_data(show_spinner=False, max_entries=16)
def clusters(identity: str, count: int, _embeddings: np.ndarray) -> np.ndarray:
    return cluster_labels(_embeddings, count)


# The sidebar.


def _file_size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} kB"


def render_sidebar() -> None:
    """The model in use and the data source, on every page."""
    directory = model_directory()
    with st.sidebar:
        st.markdown("#### Model")
        with st.container(key="model_status"):
            try:
                summarizer = current_summarizer()
                parameters = summarizer.model.count_params()
                st.markdown(
                    f":material/check_circle: **{summarizer.config.name}** configuration, "
                    f"{parameters / 1e6:,.1f} M parameters  \n"
                    f"`{directory}`"
                )
                st.caption("Model loaded.")
            except ModelDirectoryError as error:
                st.markdown(f":material/cancel: No usable model in `{directory}`")
                st.caption(str(error))
        st.markdown("#### Data")
        st.text_input(
            "Data file (CSV, JSONL or parquet)",
            value=data_sources.default_data_path(),
            key=DATA_PATH_KEY,
            placeholder="/path/to/issues.jsonl.gz",
            help="Used by the Holdout browser, Lengths and Similar issues pages. "
            f"Set the default with {data_sources.DATA_ENVIRONMENT_VARIABLE}.",
        )
        path = data_path()
        if not path:
            st.caption("No data file set. Pages that need data say how to provide it.")
        elif Path(path).expanduser().is_file():
            st.caption(f":material/description: {Path(path).name}, {_file_size(Path(path).expanduser())}")
        else:
            st.warning(f"No such file: `{path}`", icon=":material/warning:")


# Lengths.


def _frame_histograms(directory: str, frame: pd.DataFrame, sample: int) -> dict[str, LengthHistogram]:
    cleaning = read_model_card(directory).config.cleaning
    titles = frame["title"].tolist() if "title" in frame.columns else None
    return histograms_from_texts(frame["body"].tolist(), titles, cleaning, sample=sample)


@st.cache_data(show_spinner=False, max_entries=8)
def data_file_histograms(directory: str, path: str, identity: str, sample: int) -> dict[str, LengthHistogram]:
    """Token-length histograms of a sample of a data file, cleaned as the model in `directory` cleans."""
    del identity  # Part of the cache key only.
    return _frame_histograms(directory, load_issues(path, require_title=False).frame, sample)


@st.cache_data(show_spinner=False, max_entries=8)
def upload_histograms(directory: str, identity: str, sample: int, _frame: pd.DataFrame) -> dict[str, LengthHistogram]:
    """The same for an uploaded file, identified by the hash of its bytes."""
    return _frame_histograms(directory, _frame, sample)
