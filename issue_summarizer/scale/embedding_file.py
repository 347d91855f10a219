"""Encoder vectors of many issues, written to a parquet file one chunk at a time.

    python -m issue_summarizer embed --model model --input issues.jsonl.gz --output vectors.parquet

Each row of the output is one input row that has a body: `row` (its number in the input,
counted from 1 as `summarize` and `embed` number rows in their messages and a spreadsheet numbers
the rows under its header), `repo` and `title` where the input has them, and `vector`, the
vector `Summarizer.embed` returns (float32), the same vector the Similar issues page places issues
by: the embedding trained for similarity when the model directory has one (`train-embedding`),
else the encoder's final state. The file's metadata records which (`read_embedding_kind`), since
vectors of two kinds must never be compared. Rows
without a usable body are left out and counted, and the first few named. An input that has its
own `row` or `vector` column is refused: they would read as ours. Memory holds one chunk
whatever the input's size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.data.input_checks import EMBED_COLUMNS, refuse_columns_written_over, summarizable_mask
from issue_summarizer.data.loading import (
    DataLoadError,
    check_output_file,
    issues_from_table,
    parse_column_mapping,
    read_chunks,
)
from issue_summarizer.inference.summarizer import Summarizer

VECTOR_COLUMN = "vector"
# The parquet metadata key that names the embedding the vectors are (`Summarizer.embedding_kind`).
EMBEDDING_KEY = b"issue_summarizer.embedding"
# What `issues_from_table` says of a bad row that `embed` leaves out.
SKIPPED_ROW_NOTE = "no vector written"


def row_numbers(usable: np.ndarray, first_row: int) -> np.ndarray:
    """The input row numbers of a chunk's usable rows, counted from 1; `first_row` is the chunk's first row's."""
    return np.flatnonzero(usable) + first_row


def vectors_table(rows: np.ndarray, frame: pd.DataFrame, vectors: np.ndarray):
    """One chunk's rows as an Arrow table: row, repo, title and the vector as a fixed-size list."""
    import pyarrow as arrow

    columns = {"row": arrow.array(rows, type=arrow.int64())}
    for name in ("repo", "title"):
        if name in frame.columns:
            columns[name] = arrow.array(frame[name].astype(str).tolist(), type=arrow.string())
    flat = arrow.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    columns[VECTOR_COLUMN] = arrow.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    return arrow.table(columns)


class VectorWriter:
    """Appends chunks of vectors to one parquet file, opened with the first chunk's schema."""

    def __init__(self, path: Path, embedding: str | None = None) -> None:
        self.path = path
        self.embedding = embedding
        self.writer = None
        self.written = 0

    def write(self, rows: np.ndarray, frame: pd.DataFrame, vectors: np.ndarray) -> None:
        import pyarrow.parquet as parquet

        table = vectors_table(rows, frame, vectors)
        if self.writer is None:
            schema = table.schema
            if self.embedding:
                # Recorded in the file itself, so a reader can tell trained vectors from final states.
                schema = schema.with_metadata({**(schema.metadata or {}), EMBEDDING_KEY: self.embedding.encode()})
            table = table.cast(schema)
            self.writer = parquet.ParquetWriter(self.path, schema)
        else:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)
        self.written += len(rows)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def report(self, source: str | Path, rows: int) -> None:
        """Say what was written out of `rows` input rows, or fail when nothing was."""
        if self.written == 0:
            raise DataLoadError(f"{source}: no row has a body to embed")
        skipped = rows - self.written
        print(
            f"wrote {self.written:,} vectors to {self.path}"
            + (f" ({skipped:,} rows without a usable body skipped: empty or binary)" if skipped else "")
        )
        sys.stdout.flush()


def embeddable_rows(frame: pd.DataFrame) -> np.ndarray:
    """Which rows of a table loaded with `drop_bad_rows=False` can be embedded: no problem in any text
    column, and a body the model reads (not binary). Unlike `input_checks.usable_rows`, a mask in row order."""
    return (frame["problem"] == "").to_numpy() & summarizable_mask(frame["body"])


def read_vectors(path: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """An embeddings file as its rows (row, repo, title) and a float32 matrix of their vectors."""
    import pyarrow.parquet as parquet

    try:
        table = parquet.read_table(path)
    except Exception as error:  # pyarrow raises many types for a corrupt file.
        raise DataLoadError(f"{path}: not a readable embeddings file: {error}") from None
    if VECTOR_COLUMN not in table.column_names:
        raise DataLoadError(f"{path}: not an embeddings file (no {VECTOR_COLUMN!r} column); write one with `embed`")
    column = table.column(VECTOR_COLUMN).combine_chunks()
    vectors = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    vectors = vectors.reshape(len(table), -1) if len(table) else np.zeros((0, 0), dtype=np.float32)
    frame = table.drop_columns([VECTOR_COLUMN]).to_pandas()
    return frame, vectors


def read_embedding_kind(path: str | Path) -> str | None:
    """Which embedding an embeddings file holds (`trained`, `final_state`, ...), or None for a file
    written before `embed` recorded it (those hold final states)."""
    import pyarrow.parquet as parquet

    try:
        metadata = parquet.read_schema(path).metadata or {}
    except Exception as error:  # pyarrow raises many types for a corrupt file.
        raise DataLoadError(f"{path}: not a readable embeddings file: {error}") from None
    kind = metadata.get(EMBEDDING_KEY)
    return kind.decode() if kind else None


def check_embeddings_output(output: Path) -> None:
    """Raise `DataLoadError` for an output `embed` cannot write: a directory, unwritable, not `*.parquet`."""
    check_output_file(output, "--output", "vectors.parquet")
    if not output.name.lower().endswith(".parquet"):
        raise DataLoadError(f"{output}: the embeddings are written as parquet; name the output *.parquet")


def embed_file(args) -> None:
    """`embed --model DIR --input FILE --output vectors.parquet [--chunk-rows N]`."""
    from tqdm.auto import tqdm

    from issue_summarizer.scale.batch import refuse_output_that_is_input, refuse_unusable_input

    output = Path(args.output)
    check_embeddings_output(output)
    if args.chunk_rows < 1:
        raise DataLoadError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    # Before the model loads: the parquet writer would replace the input while it is being read.
    refuse_output_that_is_input(args.input, output)
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, args.chunk_rows, EMBED_COLUMNS, "embed", args.preset, mapping)
    summarizer = Summarizer.load(args.model)
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = VectorWriter(output, summarizer.embedding_kind)
    row = 0
    try:
        with tqdm(desc="embed", unit="issue") as bar:
            for raw in read_chunks(args.input, args.chunk_rows):
                if args.limit is not None:
                    raw = raw.iloc[: max(args.limit - row, 0)]
                    if raw.empty:
                        break
                refuse_columns_written_over(args.input, raw.columns, EMBED_COLUMNS, "embed")
                loaded = issues_from_table(
                    raw,
                    args.input,
                    args.preset,
                    mapping,
                    require_title=False,
                    drop_bad_rows=False,
                    first_row=row + 1,
                    kept_row_note=SKIPPED_ROW_NOTE,
                )
                for problem in loaded.problems:
                    # Above the progress bar, not on its line.
                    bar.write(problem, file=sys.stderr)
                usable = embeddable_rows(loaded.frame)
                frame = loaded.frame[usable]
                if len(frame):
                    writer.write(row_numbers(usable, row + 1), frame, summarizer.embed(frame["body"].tolist()))
                row += len(raw)
                bar.update(len(raw))
    finally:
        writer.close()
    writer.report(args.input, row)
    write_sparse_index(output, args.input, args.preset, mapping, args.chunk_rows)


def write_sparse_index(
    output: Path, source: str | Path, preset: str | None, mapping: dict[str, str] | None, chunk_rows: int
) -> Path | None:
    """Save the TF-IDF index of the embedded rows beside the vectors file (`SparseIndex.beside`), so
    that the Similar issues page searches the file by words as well as by meaning. An input in
    object storage is read by Ray's workers, not here, so it gets no index (the page then says so)."""
    import time

    from issue_summarizer.scale.similarity import SparseIndex, sparse_index_for_vectors

    if "://" in str(source):
        print(f"{output}: no word index written for an input in object storage", file=sys.stderr)
        return None
    started = time.perf_counter()
    path = sparse_index_for_vectors(output, source, preset, mapping, chunk_rows=max(chunk_rows, 10_000)).save(
        SparseIndex.beside(output)
    )
    print(f"wrote the word index {path} ({time.perf_counter() - started:.1f} s)")
    return path
