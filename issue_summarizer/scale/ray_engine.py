"""Titles and embeddings on Ray Data: `summarize --engine ray` and `embed --engine ray`.

    python -m issue_summarizer summarize --engine ray --input issues.csv --output titled.csv
    python -m issue_summarizer summarize --engine ray --address ray://head:10001 --ray-actors 8 ...

Ray Data reads the input file in blocks, `map_batches` sends each block to a pool of actors
that each load the `Summarizer` once, and the driver writes the results in input order with
the same writer as the local engine, so the output has the same rows, order and columns.

The model directory travels with the job (its files go through Ray's object store, about
17 MB), so the workers need no copy of the repository's `model/`. The input must be readable
where Ray's read tasks run: a local path for a one-machine Ray, a shared or cloud path
(`s3://...`) on a cluster. Ray is an optional dependency (`pip install -r requirements-ray.txt`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.data.input_checks import EMBED_COLUMNS, SUMMARIZE_COLUMNS, refuse_columns_written_over
from issue_summarizer.data.loading import (
    CSV_SUFFIXES,
    DataLoadError,
    check_input_file,
    file_csv_separator,
    is_json_array_file,
    issues_from_table,
    parse_column_mapping,
    read_table,
)
from issue_summarizer.inference.confidence import CONFIDENCE_FILE
from issue_summarizer.inference.summarizer import REQUIRED_FILES, Summarizer, check_beam_width
from issue_summarizer.scale.batch import (
    ChunkWriter,
    check_min_confidence,
    flagged_rows,
    output_rows,
    problem_counts,
    refuse_output_that_is_input,
    refuse_unusable_input,
    summarize_frame,
    untitled_rows,
)
from issue_summarizer.scale.embedding_file import (
    check_embeddings_output,
    embeddable_rows,
    row_numbers,
    write_sparse_index,
)

# Rows per actor call: large enough that Ray's per-task overhead (milliseconds) is small next
# to titling them (seconds), small enough to spread a file over many actors.
ROWS_PER_TASK = 1024


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--engine ray needs Ray: pip install -r requirements-ray.txt (or use the default --engine local)"
        ) from None
    return ray


def model_files(directory: str | Path) -> dict[str, bytes]:
    """The files a `Summarizer` loads from a model directory, as bytes to send to the workers, with
    its fitted confidence when it has one."""
    directory = Path(directory)
    Summarizer.load(directory)  # Fail here, on the driver, with the loader's message.
    names = [*REQUIRED_FILES, *([CONFIDENCE_FILE] if (directory / CONFIDENCE_FILE).is_file() else [])]
    return {name: (directory / name).read_bytes() for name in names}


class ModelActor:
    """One Ray actor: loads the model once, then titles or embeds every batch it is given."""

    def __init__(
        self,
        files: dict[str, bytes],
        task: str,
        source: str,
        preset,
        mapping,
        beam_width,
        batch_size,
        min_confidence: float | None = None,
    ):
        self.directory = tempfile.mkdtemp(prefix="issue-summarizer-model-")
        for name, content in files.items():
            Path(self.directory, name).write_bytes(content)
        self.summarizer = Summarizer.load(self.directory)
        self.task, self.source, self.preset, self.mapping = task, source, preset, mapping
        self.beam_width, self.batch_size, self.min_confidence = beam_width, batch_size, min_confidence

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        loaded = issues_from_table(
            batch, self.source, self.preset, self.mapping, require_title=False, drop_bad_rows=False
        )
        if self.task == "summarize":
            result = summarize_frame(
                self.summarizer, loaded.frame, self.beam_width, self.batch_size, min_confidence=self.min_confidence
            )
            return output_rows(result, batch, loaded.source_columns)
        usable = embeddable_rows(loaded.frame)
        vectors = np.zeros((len(batch), self.summarizer.config.hidden_dim), dtype=np.float32)
        if usable.any():
            vectors[usable] = self.summarizer.embed(loaded.frame.loc[usable, "body"].tolist())
        result = pd.DataFrame({"usable": usable, "vector": list(vectors)})
        for name in ("repo", "title"):
            if name in loaded.frame.columns:
                result[name] = loaded.frame[name].astype(str).to_numpy()
        return result

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "directory", ""), ignore_errors=True)


def read_dataset(path: str, limit: int | None = None):
    """The input file as a Ray dataset whose text columns read as `read_chunks` reads them."""
    ray = _import_ray()
    name = path.lower()
    if is_json_array_file(path):
        # One JSON array is one value, which no reader can split into blocks: the driver parses it
        # as the local engine does and hands Ray the table.
        dataset = ray.data.from_pandas(read_table(path))
    elif name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
        dataset = ray.data.read_json(path, lines=True)
    elif name.endswith(CSV_SUFFIXES):
        import pyarrow.csv as arrow_csv

        # Tab-separated as the local engine decides it: by the name, or by a header of tabs without commas.
        separator = file_csv_separator(path)
        # Every column as text, empty cells as "", as the local engine reads a CSV.
        header = pd.read_csv(path, nrows=0, sep=separator, encoding="utf-8-sig").columns
        convert = arrow_csv.ConvertOptions(
            column_types={column: "string" for column in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        parse = arrow_csv.ParseOptions(delimiter=separator)
        dataset = ray.data.read_csv(path, convert_options=convert, parse_options=parse)
    elif name.endswith(".parquet"):
        dataset = ray.data.read_parquet(path)
    else:
        raise DataLoadError(f"{path}: unknown file type for --engine ray; use CSV, JSONL(.gz) or parquet")
    return dataset.limit(limit) if limit is not None else dataset


def _start(address: str | None) -> None:
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # The driver writes batches in the order they come; keep that the input's order.
    ray.data.DataContext.get_current().execution_options.preserve_order = True


def mapped_batches(args, task: str):
    """The input's rows titled (`summarize`) or embedded (`embed`) by a pool of actors, in input order."""
    source = str(args.input)
    if "://" not in source:
        check_input_file(source)
    files = model_files(args.model)
    mapping = parse_column_mapping(args.columns)
    _start(args.address)
    dataset = read_dataset(source, args.limit)
    # The column check runs here, so a wrong file fails with one line rather than in a worker.
    _check_columns(dataset, source, args.preset, mapping, task)
    mapped = dataset.map_batches(
        ModelActor,
        fn_constructor_kwargs={
            "files": files,
            "task": task,
            "source": source,
            "preset": args.preset,
            "mapping": mapping,
            "beam_width": getattr(args, "beam_width", None),
            "batch_size": getattr(args, "batch_size", 256),
            "min_confidence": getattr(args, "min_confidence", None),
        },
        batch_size=ROWS_PER_TASK,
        batch_format="pandas",
        concurrency=args.ray_actors,
        # One logical CPU per actor leaves room for the read tasks; TensorFlow inside the actor
        # still uses every core of its machine.
        num_cpus=1,
    )
    return mapped.iter_batches(batch_size=None, batch_format="pandas")


def _check_columns(dataset, source: str, preset, mapping, task: str) -> None:
    from issue_summarizer.data.loading import resolve_columns

    found = [str(column) for column in dataset.schema().names]
    # Checked on the driver before a local input is read (`refuse_unusable_input`); here for object storage.
    refuse_columns_written_over(source, found, SUMMARIZE_COLUMNS if task == "summarize" else EMBED_COLUMNS, task)
    chosen = resolve_columns(found, preset, mapping, require_title=False)
    missing = [f"{ours} (column {theirs!r})" for ours, theirs in chosen.items() if theirs not in found]
    if missing:
        raise DataLoadError(
            f"{source}: missing {', '.join(missing)}; the file has columns {found}. "
            "Map yours with --columns title=COLUMN,body=COLUMN"
        )


def summarize_with_ray(args) -> None:
    """`summarize --engine ray`: the same output as the local engine, computed by Ray actors."""
    from tqdm.auto import tqdm

    if args.resume:
        raise DataLoadError("--resume works with the local engine; rerun without --resume, or with --engine local")
    output = Path(args.output)
    # Checked here, on the driver, before Ray starts or the model loads: a bad width would
    # otherwise fail in every actor, and the writer would replace a local input while Ray reads it.
    if args.beam_width is not None:
        check_beam_width(args.beam_width)
    check_min_confidence(args.model, getattr(args, "min_confidence", None))
    refuse_output_that_is_input(args.input, output)
    writer = ChunkWriter(output)  # Refuses an output it cannot write, before anything is created.
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, ROWS_PER_TASK, SUMMARIZE_COLUMNS, "summarize", args.preset, mapping)
    output.parent.mkdir(parents=True, exist_ok=True)
    written, failed, flagged = 0, 0, 0
    try:
        with tqdm(desc="summarize (ray)", unit="issue") as bar:
            for batch in mapped_batches(args, "summarize"):
                writer.write(batch)
                written += len(batch)
                failed += untitled_rows(batch)
                flagged += flagged_rows(batch)
                bar.update(len(batch))
    finally:
        writer.close()
    if written == 0:
        raise DataLoadError(f"{args.input}: the file has no rows")
    print(f"wrote {written:,} rows to {output}" + problem_counts(failed, flagged))


def embed_with_ray(args) -> None:
    """`embed --engine ray`: the same embeddings file as the local engine, computed by Ray actors."""
    from tqdm.auto import tqdm

    from issue_summarizer.scale.embedding_file import VectorWriter
    from issue_summarizer.training.contrastive import HEAD_FILE

    output = Path(args.output)
    check_embeddings_output(output)
    refuse_output_that_is_input(args.input, output)
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, ROWS_PER_TASK, EMBED_COLUMNS, "embed", args.preset, mapping)
    output.parent.mkdir(parents=True, exist_ok=True)
    # The kind `Summarizer.embed` returns for this model directory, recorded as the local engine records it.
    kind = "trained" if (Path(args.model) / HEAD_FILE).is_file() else "final_state"
    writer, row = VectorWriter(output, kind), 0
    try:
        with tqdm(desc="embed (ray)", unit="issue") as bar:
            for batch in mapped_batches(args, "embed"):
                usable = batch["usable"].to_numpy(dtype=bool)
                if usable.any():
                    vectors = np.stack(batch.loc[usable, "vector"].to_list()).astype(np.float32)
                    writer.write(row_numbers(usable, row + 1), batch[usable], vectors)
                row += len(batch)
                bar.update(len(batch))
    finally:
        writer.close()
    writer.report(args.input, row)
    write_sparse_index(output, args.input, args.preset, mapping, 10_000)
