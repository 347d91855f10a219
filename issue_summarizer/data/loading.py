"""Read issue tables from CSV, JSONL (optionally gzip) or parquet into `title`/`body` columns.

Presets cover the seed tutorials' formats and this project's corpus:

* ``kaggle``: the Kaggle GitHub-issues CSV (``issue_url, issue_title, body``); the
  repository is taken from the issue URL.
* ``news``: the news-summary CSV (``headlines, text``).
* ``corpus``: ``../shared/data/*.jsonl.gz`` (``repo, title, body, source``).

A preset is chosen from the columns when none is given, and ``columns={"title": "summary"}``
maps any other names. Problems with the file as a whole (missing, empty, undecodable, wrong
columns) raise `DataLoadError` with one line naming the file; problems with single rows
(a null or non-text cell, an empty text) drop that row and are counted and reported, so no
good row is lost and no bad row is lost silently. Where titles are not required (they are to
be written), only the body is checked. A `.json` file may hold JSON lines or one JSON array
of objects. A `.tsv` file is read as tab-separated, and so is a `.csv` file whose header line
holds tabs but no comma (a spreadsheet's tab-separated export saved under the wrong name).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

PRESETS: dict[str, dict[str, str]] = {
    "kaggle": {"title": "issue_title", "body": "body", "repo": "issue_url"},
    "news": {"title": "headlines", "body": "text"},
    "corpus": {"title": "title", "body": "body", "repo": "repo"},
}
SUFFIXES = (".csv", ".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".parquet", ".csv.gz", ".tsv", ".tsv.gz")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_REPO_FROM_URL = re.compile(r"github\.com/([^/\s]+/[^/\s]+)")
MAX_REPORTED_PROBLEMS = 5


class DataLoadError(ValueError):
    """A data file cannot be used. The message is one line that names the file and the problem."""


@dataclass
class LoadedData:
    """Rows that were read, with a count of the rows dropped and why."""

    frame: pd.DataFrame
    path: str
    rows_read: int
    dropped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    source_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path}: read {self.rows_read:,} rows, kept {len(self.frame):,}"
        if self.dropped:
            reasons = ", ".join(f"{count:,} {reason}" for reason, count in self.dropped.most_common())
            text += f", dropped {sum(self.dropped.values()):,} ({reasons})"
        return text


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataLoadError(
            f"{path}: line {line}: the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ) from None


def _too_large(path: Path, max_bytes: int, compressed: bool) -> DataLoadError:
    expanded = " once decompressed" if compressed else ""
    return DataLoadError(
        f"{path}: holds more than {max_bytes / 1e6:,.0f} MB of text{expanded}, more than can be read here; "
        "split it into smaller files"
    )


def _read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The file's bytes, decompressed when it is gzip; with `max_bytes`, never more than that.

    A small gzip file can expand to gigabytes, so a capped read decompresses at most one
    byte past the cap and stops there, rather than decompressing everything and measuring.
    """
    compressed = path.suffix == ".gz"
    try:
        if compressed:
            with gzip.open(path, "rb") as handle:
                raw = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
        else:
            if max_bytes is not None and path.stat().st_size > max_bytes:
                raise _too_large(path, max_bytes, compressed)
            raw = path.read_bytes()
    except FileNotFoundError:
        raise DataLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataLoadError(f"{path}: is a directory, not a data file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataLoadError(f"{path}: cannot read the file: {error}") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise _too_large(path, max_bytes, compressed)
    return raw


def _json_record(line: str, number: int, path: Path) -> dict:
    """One JSON-lines record, or `DataLoadError` naming the line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataLoadError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise DataLoadError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def _is_json_name(path: Path) -> bool:
    """Whether the file is named `.json` (or `.json.gz`), which may hold one JSON array rather than JSON lines."""
    return path.name.lower().endswith((".json", ".json.gz"))


def _json_array_records(text: str, path: Path) -> list[dict]:
    """The objects of a file that is one JSON array of objects, or `DataLoadError` naming the problem."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataLoadError(f"{path}: line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(items, list):
        raise DataLoadError(f"{path}: expected a JSON array of objects, got {type(items).__name__}")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise DataLoadError(
                f"{path}: item {number} of the array: expected a JSON object, got {type(item).__name__}"
            )
    return items


def _read_jsonl(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    text = _decode(_read_bytes(path, max_bytes), path)
    # A `.json` file is as often one array of objects (what most tools export) as JSON lines,
    # and an array's first character tells them apart.
    if _is_json_name(path) and text.lstrip().startswith("["):
        return pd.DataFrame.from_records(_json_array_records(text, path))
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        records.append(_json_record(line, number, path))
    return pd.DataFrame.from_records(records)


def csv_separator(path: str | Path, header: str) -> str:
    """The separator of a CSV-like file: a tab for `.tsv`, and for a `.csv` whose `header` line holds
    tabs but no comma; else a comma.

    A comma reader takes such a file's header for one column and fails lines later, at the first
    body with a comma in it ("Expected 1 fields in line 14"), which says nothing of the tabs.
    """
    if str(path).lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    return "\t" if "\t" in header and "," not in header else ","


def _first_line(path: Path) -> str:
    """The file's first line (decompressed for `.gz`), at most a megabyte of it; empty if unreadable."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
            return handle.readline(1_000_000)
    except (OSError, EOFError):
        return ""  # The reader that follows says what is wrong with the file.


def file_csv_separator(path: str | Path) -> str:
    """The separator of a CSV-like file (see `csv_separator`), from its header line when the file is local."""
    if "://" in str(path):
        return csv_separator(path, "")  # Object storage: by the name alone.
    return csv_separator(path, _first_line(Path(path)))


def _csv_parser_error(path: Path, error: Exception, separator: str, header: str) -> DataLoadError:
    """One line for a file the CSV parser refused, saying so when the file looks tab-separated."""
    detail = str(error).strip().splitlines()[-1]
    if separator == "\t":
        return DataLoadError(f"{path}: not a valid tab-separated file: {detail}")
    hint = "; the file looks tab-separated: name it .tsv" if "\t" in header else ""
    return DataLoadError(f"{path}: not a valid CSV file: {detail}{hint}")


def _read_csv(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    text = _decode(_read_bytes(path, max_bytes), path)
    if not text.strip():
        raise DataLoadError(f"{path}: the file is empty")
    header = text.split("\n", 1)[0]
    separator = csv_separator(path, header)
    try:
        return pd.read_csv(io.StringIO(text), sep=separator, dtype=object, keep_default_na=False, na_values=[])
    except pd.errors.ParserError as error:
        raise _csv_parser_error(path, error, separator, header) from None
    except pd.errors.EmptyDataError:
        raise DataLoadError(f"{path}: the file is empty") from None


def _read_parquet(path: Path, max_bytes: int | None = None) -> pd.DataFrame:
    _read_bytes(path, max_bytes)  # Gives the same one-line errors for a missing or too large file.
    try:
        if max_bytes is not None:
            return _read_parquet_capped(path, max_bytes)
        return pd.read_parquet(path)
    except DataLoadError:
        raise
    except Exception as error:  # pyarrow raises many types for a corrupt file.
        raise DataLoadError(f"{path}: not a readable parquet file: {error}") from None


def _read_parquet_capped(path: Path, max_bytes: int) -> pd.DataFrame:
    """Read a parquet file batch by batch, stopping once the decoded columns pass `max_bytes`.

    Compression and dictionary encoding let a small file hold gigabytes of text, and the
    footer's sizes count the encoded columns, so the decoded batches are what is measured.
    """
    import pyarrow as arrow
    import pyarrow.parquet as parquet

    source = parquet.ParquetFile(path)
    batches, total = [], 0
    for batch in source.iter_batches(batch_size=10_000):
        total += batch.nbytes
        if total > max_bytes:
            raise _too_large(path, max_bytes, compressed=True)
        batches.append(batch)
    return arrow.Table.from_batches(batches, schema=source.schema_arrow).to_pandas()


def check_input_file(path: str | Path) -> None:
    """Raise `DataLoadError` for an input that is a directory or does not exist, saying which."""
    path = Path(path)
    if path.is_dir():
        raise DataLoadError(f"{path}: is a directory, not a data file; name a CSV, TSV, JSONL or parquet file")
    if not path.exists():
        raise DataLoadError(f"{path}: no such file")


def _unwritable(directory: Path) -> str | None:
    """Why files cannot be written in `directory` (or in it once created), or None when they can.

    Checked before minutes of work, so that the results are not lost at the end for want of a
    place to put them. The nearest existing ancestor decides whether a missing directory can be made.
    """
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable (permission denied)"
    return None


def check_output_directory(directory: str | Path, flag: str) -> None:
    """Raise `DataLoadError` unless `directory` can be written: a writable directory, or a path one can be made at."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataLoadError(f"{directory}: a file, not a directory; {flag} names the directory to write")
    problem = _unwritable(directory)
    if problem is not None:
        raise DataLoadError(f"{directory}: cannot be written: {problem}; choose another {flag}")


def check_output_file(path: str | Path, flag: str, example: str) -> None:
    """Raise `DataLoadError` unless the file `path` can be written: not a directory, in a writable directory.

    `example` is a file name to suggest inside a directory given by mistake.
    """
    path = Path(path)
    if path.is_dir():
        raise DataLoadError(f"{path}: is a directory; {flag} names the file to write, such as {path / example}")
    problem = _unwritable(path.parent)
    if problem is not None:
        raise DataLoadError(f"{path}: cannot be written: {problem}; choose another {flag}")


def same_path(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name one file or directory: the same path spelled another way, a link
    to it, or (when one does not exist yet) one resolved location."""
    first, second = Path(first), Path(second)
    try:
        return os.path.samefile(first, second)
    except OSError:  # One of them does not exist (yet), so they are not one file now.
        return first.resolve() == second.resolve()


def read_table(path: str | Path, max_bytes: int | None = None) -> pd.DataFrame:
    """Read a CSV, JSONL or parquet file as it is, choosing the reader by the file name.

    `max_bytes` caps the text read (after decompression); a larger file raises `DataLoadError`.
    """
    path = Path(path)
    check_input_file(path)
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        return _read_jsonl(path, max_bytes)
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path, max_bytes)
    if name.endswith(".parquet"):
        return _read_parquet(path, max_bytes)
    raise DataLoadError(f"{path}: unknown file type; use one of {', '.join(SUFFIXES)}")


def read_chunks(path: str | Path, rows: int) -> Iterator[pd.DataFrame]:
    """A CSV, JSONL (optionally gzip) or parquet file as tables of at most `rows` rows, read as they are needed.

    Memory holds one chunk at a time whatever the file's size. The chunks are the same for the
    same file and `rows`, which is what lets an interrupted job skip the ones it finished.
    """
    path = Path(path)
    name = path.name.lower()
    check_input_file(path)
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        yield from _jsonl_chunks(path, rows)
    elif name.endswith(CSV_SUFFIXES):
        header = _first_line(path)
        separator = csv_separator(path, header)
        try:
            yield from pd.read_csv(
                path,
                sep=separator,
                dtype=object,
                keep_default_na=False,
                na_values=[],
                chunksize=rows,
                encoding="utf-8-sig",
            )
        except UnicodeDecodeError as error:
            raise DataLoadError(f"{path}: the file is not UTF-8 text ({error.reason})") from None
        except pd.errors.ParserError as error:
            raise _csv_parser_error(path, error, separator, header) from None
        except pd.errors.EmptyDataError:
            raise DataLoadError(f"{path}: the file is empty") from None
    elif name.endswith(".parquet"):
        import pyarrow.parquet as parquet

        try:
            source = parquet.ParquetFile(path)
        except Exception as error:  # pyarrow raises many types for a corrupt file.
            raise DataLoadError(f"{path}: not a readable parquet file: {error}") from None
        for batch in source.iter_batches(batch_size=rows):
            yield batch.to_pandas()
    else:
        raise DataLoadError(f"{path}: unknown file type; use one of {', '.join(SUFFIXES)}")


def _starts_with_array(path: Path) -> bool:
    """Whether a `.json` file's first character other than whitespace (or a byte-order mark) opens an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            while block := handle.read(4096):
                stripped = block.lstrip()
                if stripped:
                    return stripped.startswith("[")
    except UnicodeDecodeError as error:
        raise DataLoadError(f"{path}: the file is not UTF-8 text ({error.reason})") from None
    except (OSError, EOFError) as error:
        raise DataLoadError(f"{path}: cannot read the file: {error}") from None
    return False


def is_json_array_file(path: str | Path) -> bool:
    """Whether a local `.json` file holds one array of objects rather than JSON lines."""
    path = Path(path)
    return _is_json_name(path) and path.is_file() and _starts_with_array(path)


def _jsonl_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    if is_json_array_file(path):
        # One JSON array is one value, so it is parsed whole; only JSON lines stream.
        records = _json_array_records(_decode(_read_bytes(path), path), path)
        for start in range(0, len(records), rows):
            yield pd.DataFrame.from_records(records[start : start + rows])
        return
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records.append(_json_record(line, number, path))
                if len(records) == rows:
                    yield pd.DataFrame.from_records(records)
                    records = []
    except UnicodeDecodeError as error:
        raise DataLoadError(f"{path}: the file is not UTF-8 text ({error.reason})") from None
    except (OSError, EOFError) as error:
        raise DataLoadError(f"{path}: cannot read the file: {error}") from None
    if records:
        yield pd.DataFrame.from_records(records)


def guess_preset(columns: list[str]) -> str | None:
    for name, mapping in PRESETS.items():
        if mapping["title"] in columns and mapping["body"] in columns:
            return name
    return None


def resolve_columns(
    columns: list[str], preset: str | None, mapping: Mapping[str, str] | None, require_title: bool
) -> dict[str, str]:
    """Return {our name: file column} for title, body and (when present) repo."""
    if preset is not None and preset not in PRESETS:
        raise DataLoadError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = dict(PRESETS[preset]) if preset else dict(PRESETS.get(guess_preset(columns) or "corpus"))
    chosen.update(mapping or {})
    if not require_title and chosen["title"] not in columns:
        chosen.pop("title")
    if chosen.get("repo") not in columns:
        chosen.pop("repo", None)
    return chosen


def parse_column_mapping(text: str | None) -> dict[str, str]:
    """Parse ``"title=issue_title,body=text"`` into a mapping."""
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        ours, _, theirs = part.partition("=")
        if ours.strip() not in ("title", "body", "repo") or not theirs.strip():
            raise DataLoadError(f"bad column mapping {part!r}; write it as title=COLUMN,body=COLUMN[,repo=COLUMN]")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def load_issues(
    path: str | Path,
    preset: str | None = None,
    columns: Mapping[str, str] | None = None,
    require_title: bool = True,
    limit: int | None = None,
    drop_bad_rows: bool = True,
    max_bytes: int | None = None,
) -> LoadedData:
    """Load a data file into a frame with `body`, `title` (when required or present) and `repo`.

    Every extra column of the file is kept, so that `summarize` can write the rows back out
    unchanged. Rows are renumbered from 1 in problem messages, as a spreadsheet shows them.
    Without `require_title` only the body decides whether a row is usable: a title column is
    optional, and an empty or null title is kept as an empty string (those rows are the ones
    that need a title written).
    With `drop_bad_rows=False` every row is kept and a `problem` column says what is wrong
    with the bad ones (empty text where it is fine), so a batch job can write every row back.
    """
    path = Path(path)
    raw = read_table(path, max_bytes)
    if raw.empty:
        raise DataLoadError(f"{path}: the file has no rows")
    return issues_from_table(raw, path, preset, columns, require_title, limit, drop_bad_rows)


def issues_from_table(
    raw: pd.DataFrame,
    path: str | Path,
    preset: str | None = None,
    columns: Mapping[str, str] | None = None,
    require_title: bool = True,
    limit: int | None = None,
    drop_bad_rows: bool = True,
    first_row: int = 1,
    kept_row_note: str = "no title written",
) -> LoadedData:
    """`load_issues` on a table already read, such as one chunk of a large file.

    `first_row` is the number of the table's first row in the file, for problem messages;
    `kept_row_note` ends the message of a bad row kept with `drop_bad_rows=False` (what the
    caller does not write for it).
    """
    found = [str(column) for column in raw.columns]
    chosen = resolve_columns(found, preset, columns, require_title)
    missing = [f"{ours} (column {theirs!r})" for ours, theirs in chosen.items() if theirs not in found]
    if missing:
        # A header read as one column with tabs in it is a tab-separated file read as CSV.
        tabs = " The file looks tab-separated: name it .tsv." if any("\t" in column for column in found) else ""
        raise DataLoadError(
            f"{path}: missing {', '.join(missing)}; the file has columns {found}. "
            f"Map yours with --columns title=COLUMN,body=COLUMN{tabs}"
        )
    if limit is not None:
        raw = raw.iloc[:limit]
    frame = raw.copy()
    for ours, theirs in chosen.items():
        frame[ours] = raw[theirs]
    if "repo" in chosen and chosen["repo"] == PRESETS["kaggle"]["repo"]:
        frame["repo"] = frame["repo"].map(lambda url: _repo_from_url(url))
    dropped: Counter = Counter()
    problems: list[str] = []
    keep = []
    row_problems: list[str] = []
    # Without `require_title` the title is what is to be written, so only the body decides whether a
    # row is usable; a missing title is an empty one, and a non-text one (a number in JSON) its text.
    text_columns = [name for name in ("title", "body") if name in chosen and (name == "body" or require_title)]
    if "title" in chosen and not require_title:
        frame["title"] = [_optional_text(value) for value in frame["title"]]
    for position, row in enumerate(frame[text_columns].itertuples(index=False), start=first_row):
        problem = None
        for name, value in zip(text_columns, row, strict=True):
            if value is None or (isinstance(value, float) and pd.isna(value)):
                problem = f"null {name}"
            elif not isinstance(value, str):
                problem = f"non-text {name} ({type(value).__name__})"
            elif not value.strip():
                problem = f"empty {name}"
            if problem:
                break
        keep.append(problem is None)
        row_problems.append(problem or "")
        if problem:
            dropped[problem] += 1
            if len(problems) < MAX_REPORTED_PROBLEMS:
                action = "row skipped" if drop_bad_rows else kept_row_note
                problems.append(f"{path}: row {position}: {problem}; {action}")
    if not drop_bad_rows:
        frame["problem"] = row_problems
        return LoadedData(frame, str(path), len(raw), Counter(), problems, found)
    frame = frame[keep].reset_index(drop=True)
    if frame.empty:
        raise DataLoadError(f"{path}: no usable rows: {', '.join(f'{c:,} {r}' for r, c in dropped.items())}")
    if "repo" not in frame.columns:
        frame["repo"] = "unknown"
    frame["repo"] = frame["repo"].astype(str)
    return LoadedData(frame, str(path), len(raw), dropped, problems, found)


def _optional_text(value: object) -> str:
    """A cell that may be empty as text: null cells become empty strings."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return value if isinstance(value, str) else str(value)


def _repo_from_url(url: object) -> str:
    match = _REPO_FROM_URL.search(str(url))
    return match.group(1) if match else "unknown"
