"""Titles for every row of a table: the `summarize` command and the app's batch mode.

Every input row comes back out, in order, with its columns unchanged plus
`predicted_title`, `title_score` and `confidence` (the calibrated probability that the title is
acceptable, empty when the model directory has no `confidence.json`). A row whose body cannot be
summarized (empty, binary) gets an empty title and its reason in `problem`, so nothing is lost.
A body with nothing to title (a placeholder, only code or a trace, not English) keeps its title,
flagged in `problem` with a low confidence; with `min_confidence`, a title below it is left
empty and `problem` says "low confidence (0.23 < 0.40)". An input that already has
a column of those names is refused before any work (`input_checks.refuse_columns_written_over`):
its own cells would otherwise be replaced.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.data.input_checks import SUMMARIZE_COLUMNS, InputError, check_body, refuse_columns_written_over
from issue_summarizer.data.loading import (
    DataLoadError,
    check_output_file,
    issues_from_table,
    parse_column_mapping,
    read_chunks,
    same_path,
)
from issue_summarizer.github.client import GitHubError, GitHubSettings, fetch_many
from issue_summarizer.inference.confidence import (
    CONFIDENCE_FILE,
    calibration_problem,
    load_calibration,
    scored_titles,
)
from issue_summarizer.inference.summarizer import Summarizer, check_beam_width, titles_digest

OUTPUT_SUFFIXES = (".csv", ".jsonl", ".jsonl.gz", ".parquet")
EXTRA_COLUMNS = SUMMARIZE_COLUMNS
# The columns `issues_from_table` writes its reading of the input into.
LOADED_COLUMNS = ("title", "body", "repo")


def fetch_bodies(
    frame: pd.DataFrame,
    column: str,
    settings: GitHubSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """A copy of `frame` with each issue's `github_title` and `body` fetched from the URL in `column`.

    Requests go one at a time and respect GitHub's rate limit (`fetch_many`). A row whose
    URL cannot be fetched keeps an empty body and says why in `problem`, so no row is lost.
    """
    urls = [
        "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value) for value in frame[column]
    ]
    results = fetch_many(urls, settings, progress=progress)
    result = frame.copy()
    result["github_title"] = [
        item.title if not isinstance(item, GitHubError) else (item.title or "") for item in results
    ]
    result["body"] = [item.body if not isinstance(item, GitHubError) else "" for item in results]
    result["problem"] = [str(item) if isinstance(item, GitHubError) else "" for item in results]
    return result


def output_rows(
    result: pd.DataFrame, raw: pd.DataFrame, source_columns: list[str], added: tuple[str, ...] = EXTRA_COLUMNS
) -> pd.DataFrame:
    """The rows to write: the input's columns with the input's own cells, then ours (`added`).

    Loading adds columns (`repo`, a preset's `title`) and fills the ones it reads (a null title
    becomes an empty one); neither may change what the user gave us.
    """
    kept = [column for column in result.columns if column in source_columns or column in added]
    result = result[kept].copy()
    for column in LOADED_COLUMNS:
        if column in result.columns and column in raw.columns:
            result[column] = raw[column]
    return result


def check_min_confidence(model_directory: str | Path | None, min_confidence: float | None) -> None:
    """Raise a ValueError in one line when `min_confidence` is out of range or the model has no
    confidence to compare with it (no `confidence.json`: run `calibrate`)."""
    if min_confidence is None:
        return
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"--min-confidence must lie between 0 and 1, got {min_confidence}")
    problem = calibration_problem(model_directory)
    if problem:
        raise ValueError(f"--min-confidence needs the model's {CONFIDENCE_FILE}: {problem}")


def low_confidence_problem(confidence: float, min_confidence: float) -> str:
    """Why a title was withheld. The confidence is cut (not rounded) to two decimals, so that it
    never reads as equal to the threshold it fell below."""
    return f"low confidence ({math.floor(confidence * 100) / 100:.2f} < {min_confidence:g})"


def summarize_frame(
    summarizer: Summarizer,
    frame: pd.DataFrame,
    beam_width: int | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    min_confidence: float | None = None,
) -> pd.DataFrame:
    """Return a copy of `frame` with `predicted_title`, `title_score`, `confidence` and `problem` columns.

    A `problem` already in `frame` is ours, never the input's own (an input with one is refused
    before it gets here): loading's verdict on the row, or why its URL could not be fetched
    (`fetch_bodies`). Such rows are not titled, and keep their reason. A body with nothing to
    title is titled and flagged. With `min_confidence`, a title whose confidence is below it is
    left empty and the row's `problem` says so; every row is kept.
    """
    check_min_confidence(summarizer.directory, min_confidence)
    calibration = load_calibration(summarizer.directory)
    problems = list(frame["problem"]) if "problem" in frame.columns else [""] * len(frame)
    result = frame.drop(columns="problem", errors="ignore")
    bodies = []
    for row, body in enumerate(result["body"].tolist()):
        if problems[row]:
            continue
        try:
            check_body(body)
            bodies.append((row, body))
        except InputError as error:
            problems[row] = str(error)
    titles = [""] * len(result)
    scores = [np.nan] * len(result)
    confidences = [np.nan] * len(result)
    generated = scored_titles(
        summarizer, [body for _, body in bodies], calibration, beam_width, batch_size=batch_size, progress=progress
    )
    for (row, _), scored in zip(bodies, generated, strict=True):
        titles[row], scores[row] = scored.title.text, round(scored.title.score, 4)
        reasons = [scored.features.problem] if scored.features.problem else []
        if scored.confidence is not None:
            # The written value is compared, so that the file agrees with itself at the threshold.
            confidences[row] = round(scored.confidence, 4)
            if min_confidence is not None and confidences[row] < min_confidence:
                titles[row] = ""
                reasons.append(low_confidence_problem(confidences[row], min_confidence))
        problems[row] = "; ".join(reasons)
    if progress and len(bodies) < len(result):
        progress(len(result) - len(bodies))
    result["predicted_title"] = titles
    result["title_score"] = scores
    result["confidence"] = confidences
    result["problem"] = problems
    return result


def untitled_rows(result: pd.DataFrame) -> int:
    """Rows left without a title, whose `problem` says why."""
    return int(((result["problem"] != "") & (result["predicted_title"] == "")).sum())


def flagged_rows(result: pd.DataFrame) -> int:
    """Rows titled, but whose `problem` flags the title (a body with nothing to title)."""
    return int(((result["problem"] != "") & (result["predicted_title"] != "")).sum())


def problem_counts(failed: int, flagged: int) -> str:
    """What a finished run says about its rows with a problem, or nothing when there are none."""
    parts = [f"{failed:,} without a title"] if failed else []
    parts += [f"{flagged:,} titled but flagged"] if flagged else []
    return f" ({', '.join(parts)}, see 'problem')" if parts else ""


def refuse_unusable_input(
    source: str | Path,
    rows: int,
    written: tuple[str, ...],
    command: str,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
) -> None:
    """Read the input's first chunk and raise `DataLoadError` when the input cannot be used: a
    directory, missing, unreadable, without rows, lacking the columns to read, or with its own
    column of a name in `written`, which `command` would write over.

    Called before the model loads (seconds) and before the output is touched. Object-storage
    inputs are read by Ray's workers, which check their columns themselves.
    """
    if "://" in str(source):
        return
    with contextlib.closing(read_chunks(source, rows)) as chunks:
        first = next(chunks, None)
    if first is None or first.empty:
        raise DataLoadError(f"{source}: the file has no rows")
    refuse_columns_written_over(source, first.columns, written, command)
    issues_from_table(first, source, preset, mapping, require_title=False, drop_bad_rows=False)


def refuse_output_that_is_input(source: str | Path, output: str | Path) -> None:
    """Raise `DataLoadError` when `output` is the file `source` names (the same path, a link to it).

    The output is opened for writing while the input is still being read chunk by chunk, so
    writing over the input would destroy the rows not yet read. Object-storage inputs
    (`s3://...`) are never a local output.
    """
    if "://" in str(source):
        return
    if same_path(Path(source).expanduser(), Path(output).expanduser()):
        raise DataLoadError(
            f"{output}: this is the input file, which is still being read while the output is written; "
            "choose another --output"
        )


def progress_path(output: str | Path) -> Path:
    """Where an interrupted `summarize` records how far it got: beside its output."""
    output = Path(output)
    return output.with_name(output.name + ".progress.json")


class ChunkWriter:
    """Writes an output file one chunk of rows at a time: CSV with one header, JSON lines, or parquet.

    A gzip output gets one gzip member per chunk, which readers see as one stream. CSV and JSON
    lines can be appended to after an interruption; a parquet file is complete only once closed.
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        self.check(path, append)
        self.path = path
        self.name = path.name.lower()
        self.started = append
        self.parquet = None

    @staticmethod
    def check(path: Path, append: bool = False) -> None:
        """Raise `DataLoadError` for an output this writer cannot write (or append to), before any work."""
        name = path.name.lower()
        check_output_file(path, "--output", "titles.csv")
        if not name.endswith(OUTPUT_SUFFIXES):
            raise DataLoadError(f"{path}: unknown output type; use one of {', '.join(OUTPUT_SUFFIXES)}")
        if append and name.endswith(".parquet"):
            raise DataLoadError(f"{path}: a parquet output cannot be resumed; write CSV or JSONL to use --resume")

    def write(self, frame: pd.DataFrame) -> None:
        first, self.started = not self.started, True
        if self.name.endswith(".csv"):
            frame.to_csv(self.path, mode="w" if first else "a", header=first, index=False)
        elif self.name.endswith(".parquet"):
            import pyarrow as arrow
            import pyarrow.parquet as parquet

            if self.parquet is None:
                table = arrow.Table.from_pandas(frame, preserve_index=False)
                self.parquet = parquet.ParquetWriter(self.path, table.schema)
            else:
                table = arrow.Table.from_pandas(frame, schema=self.parquet.schema, preserve_index=False)
            self.parquet.write_table(table)
        else:
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            text = text if not text or text.endswith("\n") else text + "\n"
            if self.name.endswith(".gz"):
                with gzip.open(self.path, "wb" if first else "ab") as handle:
                    handle.write(text.encode("utf-8"))
            else:
                with self.path.open("w" if first else "a", encoding="utf-8") as handle:
                    handle.write(text)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def job_settings(args, summarizer: Summarizer, input_identity: str) -> dict:
    """What decides the titles a `summarize` run writes, recorded in its progress file so that
    `--resume` continues only the same job: the input, the chunk size, how the columns are read,
    the model (by content, see `titles_digest`), the beam width it decodes with and the confidence
    below which titles are withheld."""
    return {
        "input": input_identity,
        "chunk_rows": args.chunk_rows,
        "columns": [args.preset, args.columns],
        "model": str(Path(args.model).resolve()),
        "model_digest": titles_digest(args.model),
        # The width actually used, so that naming the model's own width resumes a run that did not.
        "beam_width": summarizer.decoding_options(args.beam_width, None).beam_width,
        "min_confidence": getattr(args, "min_confidence", None),
    }


def _changed_settings(recorded: dict, current: dict) -> list[str]:
    """The settings of `current` that differ from an interrupted run's, as a person names them."""
    # Settings a progress file of an older version did not record are not compared.
    recorded = {**current, **recorded}
    changes = []
    if recorded.get("input") != current["input"]:
        changes.append("input file (or the file changed since)")
    if recorded.get("chunk_rows") != current["chunk_rows"]:
        changes.append(f"--chunk-rows (the run used {recorded.get('chunk_rows')}, now {current['chunk_rows']})")
    if recorded.get("columns") != current["columns"]:
        changes.append("--preset or --columns")
    if recorded.get("model_digest") != current["model_digest"]:
        was = recorded.get("model", "unknown")
        what = "changed since (retrained or tuned)" if was == current["model"] else f"was {was}"
        changes.append(f"--model ({current['model']}; the run's model {what})")
    if recorded.get("beam_width") != current["beam_width"]:
        changes.append(f"--beam-width (the run used {recorded.get('beam_width')}, now {current['beam_width']})")
    if recorded.get("min_confidence") != current["min_confidence"]:
        changes.append(
            f"--min-confidence (the run used {recorded.get('min_confidence')}, now {current['min_confidence']})"
        )
    return changes


def _resume_point(args, settings: dict) -> tuple[int, int | None]:
    """Rows already written by an interrupted run of the same job, and the output's size after
    its last complete chunk (None when there is nothing to resume).

    A run with other settings would mix two decodings in one file, so it is refused, naming
    what differs. Nothing is changed on disk here.
    """
    state_path = progress_path(args.output)
    if not args.resume or not state_path.is_file():
        return 0, None
    state = json.loads(state_path.read_text(encoding="utf-8"))
    changes = _changed_settings(state, settings)
    if changes:
        raise DataLoadError(
            f"{state_path}: records a run with another {'; another '.join(changes)}; "
            "resume with the same settings, or start again without --resume"
        )
    output = Path(args.output)
    if not output.is_file() or output.stat().st_size < state["output_bytes"]:
        raise DataLoadError(f"{output}: shorter than the interrupted run left it; start again without --resume")
    return int(state["rows"]), int(state["output_bytes"])


def finished_output_rows(output: Path) -> int:
    """The rows of an output that a finished run left (it has no progress file), for `--resume`.

    Raises `DataLoadError` when the file is not a `summarize` output, which `--resume` must
    neither count as done nor replace.
    """
    rows, columns = 0, None
    for chunk in read_chunks(output, 10_000):
        columns = list(chunk.columns) if columns is None else columns
        rows += len(chunk)
    if columns is None or not set(SUMMARIZE_COLUMNS) <= set(columns):
        raise DataLoadError(
            f"{output}: exists, but has no {', '.join(SUMMARIZE_COLUMNS)} columns and no progress file, so it is "
            "no run of summarize to resume; choose another --output, or run without --resume to replace it"
        )
    return rows


def summarize_file(args) -> None:
    """`summarize --model DIR --input FILE --output FILE [--resume]`, one chunk of rows at a time.

    Each chunk is read, titled and appended to the output before the next is read, so memory
    stays flat whatever the file's size. After every chunk the progress file beside the output
    records the rows done and the job's settings; `--resume` continues from there after an
    interruption, and only with the same settings. Every input row comes out once, in order,
    with its `problem` column.
    """
    from tqdm.auto import tqdm

    output = Path(args.output)
    if args.chunk_rows < 1:
        raise DataLoadError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    if args.beam_width is not None:
        check_beam_width(args.beam_width)
    min_confidence = getattr(args, "min_confidence", None)
    check_min_confidence(args.model, min_confidence)
    # Refused before the model loads and before the output is touched.
    refuse_output_that_is_input(args.input, output)
    # Only a run that has something to resume appends; `--resume` on a first run starts one.
    resumable = args.resume and progress_path(output).is_file()
    ChunkWriter.check(output, append=resumable)
    if args.resume and not resumable and output.is_file() and output.stat().st_size > 0:
        # A finished run removes its progress file: titling every row again would redo it all.
        print(f"{output}: already complete ({finished_output_rows(output):,} rows); nothing to resume")
        return
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, args.chunk_rows, EXTRA_COLUMNS, "summarize", args.preset, mapping)
    source = Path(args.input)
    input_identity = f"{source.resolve()}:{source.stat().st_size}" if source.is_file() else ""
    summarizer = Summarizer.load(args.model)
    settings = job_settings(args, summarizer, input_identity)
    done, output_bytes = _resume_point(args, settings)
    resumed = output_bytes is not None
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = ChunkWriter(output, append=resumed)
    if resumed:
        # Cut off a chunk that was being written when the run stopped: it is written again, once.
        with output.open("r+b") as handle:
            handle.truncate(output_bytes)
    row, failed, flagged, written = 0, 0, 0, done
    with tqdm(desc="summarize", unit="issue", initial=done) as bar, contextlib.closing(writer):
        for raw in read_chunks(args.input, args.chunk_rows):
            if args.limit is not None:
                raw = raw.iloc[: max(args.limit - row, 0)]
                if raw.empty:
                    break
            if row + len(raw) <= done:
                row += len(raw)  # Written by the interrupted run.
                continue
            # JSON lines may bring a new key in any chunk; the first chunk was checked before the model loaded.
            refuse_columns_written_over(args.input, raw.columns, EXTRA_COLUMNS, "summarize")
            loaded = issues_from_table(
                raw, args.input, args.preset, mapping, require_title=False, drop_bad_rows=False, first_row=row + 1
            )
            for problem in loaded.problems:
                # Above the progress bar, not on its line.
                bar.write(problem, file=sys.stderr)
            result = summarize_frame(
                summarizer, loaded.frame, args.beam_width, args.batch_size, bar.update, min_confidence
            )
            result = output_rows(result, raw, loaded.source_columns)
            writer.write(result)
            row += len(raw)
            written = row
            failed += untitled_rows(result)
            flagged += flagged_rows(result)
            state = json.dumps({**settings, "rows": row, "output_bytes": output.stat().st_size})
            write_atomically(progress_path(output), lambda path, text=state: path.write_text(text))
    if row == 0:
        raise DataLoadError(f"{args.input}: the file has no rows")
    progress_path(output).unlink(missing_ok=True)
    print(
        f"wrote {written:,} rows to {output}"
        + (f", resuming after row {done:,}" if resumed else "")
        + problem_counts(failed, flagged)
    )
