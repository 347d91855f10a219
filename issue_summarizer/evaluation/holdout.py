"""Per-issue predictions on held-out data: load, save, summarise, filter and sort them.

A predictions table has one row per issue with the columns `evaluate_frame` writes:
`repo, title, body, reference, predicted_title, score, lead, rougeL, lead_rougeL`. It
holds issue text, so it is never committed: `evaluate` saves it into the (git-ignored) model
directory, and the app into its own cache directory, never the model's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.data.input_checks import usable_rows
from issue_summarizer.data.loading import DataLoadError, LoadedData, load_issues
from issue_summarizer.data.splitting import RepositorySplit
from issue_summarizer.evaluation.metrics import PREDICTIONS_BODY_CHARS, predictions_file, select_rows

UNKNOWN_REPOSITORY = "unknown"  # What `load_issues` writes for rows of a file without a repository column.
PREDICTION_COLUMNS = ["repo", "title", "body", "reference", "predicted_title", "score", "lead", "rougeL", "lead_rougeL"]
# Written by `evaluate` since titles have a calibrated confidence; older predictions lack it.
OPTIONAL_PREDICTION_COLUMNS = ["confidence"]
SPLIT_FILE = "split.json"
SEARCHED_COLUMNS = ("title", "body", "predicted_title")
# The browser opens on a shuffled order, so that its first rows are a fair sample of the issues:
# sorted by score, they would start with the worst cases (empty templates) or the easiest.
SHUFFLED = "Shuffled"
# How the browser can order rows: label -> (columns, ascending); the shuffled order sorts by none.
SORT_ORDERS: dict[str, tuple[list[str], bool]] = {
    SHUFFLED: ([], True),
    "Worst ROUGE-L first": (["rougeL", "score"], True),
    "Best ROUGE-L first": (["rougeL", "score"], False),
    "Model beats lead by most": (["advantage"], False),
    "Lead beats model by most": (["advantage"], True),
    # By the calibrated confidence where the predictions have one, else by the model's own score.
    "Most confident first": (["confidence", "score"], False),
    "Least confident first": (["confidence", "score"], True),
    "Repository": (["repo", "rougeL"], True),
}


def predictions_path(model_directory: str | Path, split: str = "test") -> Path:
    return Path(model_directory) / predictions_file(split)


def load_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predictions file, or raise `DataLoadError` naming what is wrong with it."""
    path = Path(path)
    try:
        table = pd.read_json(path, orient="records", lines=True, compression="infer")
    except FileNotFoundError:
        raise DataLoadError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as error:
        raise DataLoadError(f"{path}: not a readable predictions file ({error})") from None
    missing = [column for column in PREDICTION_COLUMNS if column not in table.columns]
    if missing:
        raise DataLoadError(f"{path}: not a predictions file; missing columns {', '.join(missing)}")
    return prepare_predictions(table)


def prepare_predictions(table: pd.DataFrame) -> pd.DataFrame:
    """Normalise column types and add `advantage` (model ROUGE-L minus the lead's)."""
    table = table.copy()
    for column in ("repo", "title", "body", "reference", "predicted_title", "lead"):
        table[column] = table[column].fillna("").astype(str)
    for column in ("score", "rougeL", "lead_rougeL", *OPTIONAL_PREDICTION_COLUMNS):
        if column in table.columns:
            table[column] = pd.to_numeric(table[column], errors="coerce")
    table["advantage"] = (table["rougeL"] - table["lead_rougeL"]).round(4)
    return table.reset_index(drop=True)


def cached_predictions_path(cache_directory: str | Path, model_identity: str, data_identity: str) -> Path:
    """Where the app keeps its evaluation of one model on one data file: a name derived from both."""
    key = hashlib.sha256(f"{model_identity}|{data_identity}".encode()).hexdigest()[:24]
    return Path(cache_directory) / "predictions" / f"{key}.jsonl.gz"


def _metrics_path(predictions: Path) -> Path:
    return predictions.with_name(predictions.name.removesuffix(".jsonl.gz") + ".metrics.json")


def save_predictions(table: pd.DataFrame, metrics: dict, path: str | Path) -> Path:
    """Save predictions and their metrics to `path` (in the app's cache, never the model directory).

    Each file is written to a temporary name and renamed into place, metrics first, so a
    reader that finds the predictions also finds complete metrics, and two sessions that
    evaluate at once leave one complete pair.
    """
    path = Path(path)
    write_atomically(
        _metrics_path(path), lambda temporary: temporary.write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    )
    columns = PREDICTION_COLUMNS + [column for column in OPTIONAL_PREDICTION_COLUMNS if column in table.columns]
    write_atomically(
        path, lambda temporary: table[columns].to_json(temporary, orient="records", lines=True, compression="gzip")
    )
    return path


def load_cached_predictions(path: str | Path) -> tuple[pd.DataFrame, dict] | None:
    """Predictions and metrics saved by `save_predictions`, or `None` when there are none (or they are unreadable)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        metrics = json.loads(_metrics_path(path).read_text(encoding="utf-8"))
        return load_predictions(path), metrics
    except (OSError, ValueError):
        return None


def rows_of_test_split(data_path: str | Path, model_directory: str | Path, limit: int | None = None) -> pd.DataFrame:
    """The test-split rows of a data file, as the model's `split.json` defines them."""
    split_path = Path(model_directory) / SPLIT_FILE
    if not split_path.is_file():
        raise DataLoadError(f"{split_path}: missing, so the test split is unknown; upload a file to evaluate instead")
    loaded = load_issues(data_path)
    try:
        rows = select_rows(loaded, "test", RepositorySplit.load(split_path))
    except ValueError as error:
        raise DataLoadError(str(error)) from None
    return rows.iloc[:limit] if limit else rows


def evaluation_rows(rows: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Every row of an uploaded file (its split is "all"), up to `limit`, numbered from 0."""
    return (rows.iloc[:limit] if limit else rows).reset_index(drop=True)


def upload_evaluation_rows(loaded: LoadedData, limit: int | None = None) -> pd.DataFrame:
    """The rows of an upload whose body the model reads, up to `limit`, numbered from 0.

    An upload without any such row is refused here, in words, rather than evaluated: there
    would be no title to score.
    """
    rows = usable_rows(loaded.frame)
    if rows.empty:
        raise DataLoadError(
            f"{loaded.path}: no row has a readable body (every body is empty or binary data), so there is nothing "
            "to evaluate; upload issues whose bodies are text"
        )
    return evaluation_rows(rows, limit)


def body_is_cut(body: str) -> bool:
    """Whether a predictions table's body may be cut: tables keep only its first `PREDICTIONS_BODY_CHARS`
    characters, so a body of that length is (almost always) the start of a longer one."""
    return len(body) >= PREDICTIONS_BODY_CHARS


def summary_metrics(table: pd.DataFrame) -> dict:
    """Headline figures of a predictions table."""
    if table.empty:
        return {"rows": 0, "repositories": 0, "model_rougeL": 0.0, "lead_rougeL": 0.0, "model_wins": 0.0}
    return {
        "rows": len(table),
        "repositories": int(table["repo"].nunique()),
        "model_rougeL": float(table["rougeL"].mean()),
        "lead_rougeL": float(table["lead_rougeL"].mean()),
        "model_wins": float((table["rougeL"] > table["lead_rougeL"]).mean()),
    }


def filter_predictions(
    table: pd.DataFrame,
    rouge_range: tuple[float, float] = (0.0, 1.0),
    repositories: list[str] | None = None,
    search: str = "",
) -> pd.DataFrame:
    """Rows whose ROUGE-L lies in `rouge_range`, from `repositories` (all when empty), matching `search`.

    The search is a case-insensitive substring match on the title, body and predicted title.
    """
    low, high = rouge_range
    keep = table["rougeL"].between(low, high)
    if repositories:
        keep &= table["repo"].isin(repositories)
    search = search.strip().lower()
    if search:
        matches = pd.Series(False, index=table.index)
        for column in SEARCHED_COLUMNS:
            matches |= table[column].str.lower().str.contains(search, regex=False)
        keep &= matches
    return table[keep]


def sort_predictions(table: pd.DataFrame, order: str) -> pd.DataFrame:
    if order not in SORT_ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(SORT_ORDERS)}")
    columns, ascending = SORT_ORDERS[order]
    if not columns:
        # A fixed hash of each row's number: the order is the same on every rerun, and a filter
        # keeps the remaining rows in the same order relative to each other.
        keys = pd.util.hash_array(table.index.to_numpy())
        return table.iloc[keys.argsort(kind="stable")]
    # Predictions written before a model was calibrated have no confidence to sort by.
    columns = [column for column in columns if column in table.columns and table[column].notna().any()]
    return table.sort_values(columns or ["score"], ascending=ascending, kind="stable")


def has_repositories(table: pd.DataFrame) -> bool:
    """Whether the rows name their repositories: loading fills "unknown" into a file without a repository column."""
    return bool((table["repo"] != UNKNOWN_REPOSITORY).any())


def clicked_row(drawn_rows: Sequence[int] | None, positions: Sequence[int]) -> int | None:
    """The row a visitor selected in the table: `positions` count rows of the table as it was drawn,
    whose row labels, in order, are `drawn_rows`. `None` when nothing is selected."""
    if not positions or not drawn_rows or not 0 <= positions[0] < len(drawn_rows):
        return None
    return int(drawn_rows[positions[0]])


def random_row(shown: pd.Index, current: int | None, rng: np.random.Generator) -> int:
    """A random row of `shown` for "Random example", another than the `current` one whenever there is
    another, so that every click shows a new issue."""
    candidates = shown[shown != current] if len(shown) > 1 else shown
    return int(rng.choice(candidates.to_numpy()))


def selected_positions(shown: pd.Index, chosen: int | None) -> list[int]:
    """The table positions to highlight for the chosen row: its position in `shown`, or none when
    it is not shown, so the highlighted row is always the one the detail panel shows."""
    if chosen is None or chosen not in shown:
        return []
    return [int(shown.get_loc(chosen))]


def repository_choices(table: pd.DataFrame) -> list[str]:
    """Repositories ordered by how many rows they have, most first."""
    return table["repo"].value_counts().index.tolist()
