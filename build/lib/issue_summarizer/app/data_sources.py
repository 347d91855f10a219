"""Where the app's data comes from: the configured data path and uploaded files.

Nothing here imports Streamlit, so the rules (which path is the default, how an upload
becomes a `LoadedData`, what identifies a data source for caching) are plain functions
that the tests call directly.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from issue_summarizer.data.loading import SUFFIXES, DataLoadError, LoadedData, load_issues, read_table

MODEL_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_MODEL"
DATA_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_DATA"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIRECTORY = REPOSITORY_ROOT / "model"
# The shared corpus sits beside the repository checkout; it is only a default when it exists.
DEFAULT_DATA_PATH = REPOSITORY_ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
# The file uploader checks only the last extension, so ".gz" stands for ".jsonl.gz" and ".csv.gz".
UPLOAD_TYPES = ["csv", "jsonl", "json", "ndjson", "gz", "parquet"]
# `load_issues` tells command-line users how to map columns; an upload has no flags to pass.
_COMMAND_LINE_HINT = "Map yours with --columns title=COLUMN,body=COLUMN"
T = TypeVar("T")
_UPLOAD_HINT = "Rename your columns to title and body (and optionally repo) and upload again"
# Uploads are capped at 50 MB by `.streamlit/config.toml`; a compressed upload may expand to at
# most this much text, so that a gzip bomb is refused after reading 200 MB rather than gigabytes.
MAX_UPLOAD_TEXT_BYTES = 200_000_000


def model_directory(environment: dict[str, str] | None = None) -> Path:
    """The model directory: `$ISSUE_SUMMARIZER_MODEL`, else `model/` beside the app."""
    environment = os.environ if environment is None else environment
    configured = environment.get(MODEL_ENVIRONMENT_VARIABLE, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_MODEL_DIRECTORY


def default_data_path(environment: dict[str, str] | None = None) -> str:
    """`$ISSUE_SUMMARIZER_DATA`, else the shared corpus when it exists, else an empty string."""
    environment = os.environ if environment is None else environment
    if DATA_ENVIRONMENT_VARIABLE in environment:
        return environment[DATA_ENVIRONMENT_VARIABLE].strip()
    return str(DEFAULT_DATA_PATH) if DEFAULT_DATA_PATH.is_file() else ""


def file_identity(path: str | Path) -> str:
    """A cache key that changes when the file at `path` is replaced or rewritten."""
    path = Path(path).expanduser().resolve()
    try:
        status = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{status.st_size}:{status.st_mtime_ns}"


def content_identity(data: bytes) -> str:
    """A cache key for uploaded bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def upload_suffix(name: str) -> str:
    """The longest known data-file suffix of `name` (".jsonl.gz" rather than ".gz")."""
    lowered = name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return suffix
    raise DataLoadError(f"{name}: unknown file type; use one of {', '.join(SUFFIXES)}")


def _read_upload(name: str, data: bytes, read: Callable[[Path], T]) -> T:
    """Call `read` on the uploaded bytes saved under a temporary name, naming the upload in any error.

    The readers choose their format by the file name, so the bytes are written to a
    temporary file with the upload's own suffix first.
    """
    suffix = upload_suffix(name)
    with tempfile.TemporaryDirectory(prefix="issue_summarizer_upload_") as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            result = read(path)
        except DataLoadError as error:
            message = str(error).replace(str(path), name).replace(_COMMAND_LINE_HINT, _UPLOAD_HINT)
            raise DataLoadError(message) from None
    if isinstance(result, LoadedData):
        result.problems = [problem.replace(str(path), name) for problem in result.problems]
        result.path = name
    return result


def load_upload(
    name: str,
    data: bytes,
    require_title: bool = True,
    drop_bad_rows: bool = True,
    limit: int | None = None,
) -> LoadedData:
    """Load uploaded bytes as `load_issues` loads a file, naming the upload in every message."""
    return _read_upload(
        name,
        data,
        lambda path: load_issues(
            path, require_title=require_title, drop_bad_rows=drop_bad_rows, limit=limit, max_bytes=MAX_UPLOAD_TEXT_BYTES
        ),
    )


def read_upload_table(name: str, data: bytes) -> pd.DataFrame:
    """The uploaded table as it is, with every column (for files that hold issue URLs instead of bodies)."""
    return _read_upload(name, data, lambda path: read_table(path, MAX_UPLOAD_TEXT_BYTES))


# A file without a body column may instead hold links to GitHub issues, in one of these columns.
URL_COLUMNS = ("url", "issue_url", "html_url")


def url_column(columns: list[str]) -> str | None:
    """The column of GitHub issue URLs in a table without bodies, if it has one."""
    return next((name for name in URL_COLUMNS if name in columns), None)


def load_titling_upload(name: str, data: bytes) -> tuple[LoadedData, str | None]:
    """An upload to write titles for: rows with bodies, or (without a body column) rows with issue URLs.

    Returns the rows, every one kept, and the name of the URL column when the bodies are still
    to be fetched.
    """
    try:
        return load_upload(name, data, require_title=False, drop_bad_rows=False), None
    except DataLoadError:
        table = read_upload_table(name, data)
        columns = [str(column) for column in table.columns]
        links = url_column(columns)
        if links is None:
            raise
        return LoadedData(table, name, len(table), source_columns=columns), links
