"""`similar`: write, for every row of a file, the rows of the same file most like it.

    python -m issue_summarizer similar --model model --input issues.csv --output similar.csv --k 10

Every input row comes back out, in order, with its own cells, plus `neighbour_rows` (the numbers,
counted from 1 as every message numbers rows, of its k nearest OTHER rows, best first; never the
row itself) and `neighbour_scores` (their fused scores, in standard deviations above the typical
row), found by the same hybrid search as the Similar issues page: the embeddings' cosines and the
TF-IDF cosines of the raw bodies, each standardised over the file's rows and added
(`scale.similarity.fused_scores`). A row without a usable body gets empty lists and its reason in
`problem`. Every row is compared with every other, exactly, a block of rows at a time: the file
is held in memory and the time grows with the square of its rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument, positive_int

# Rows embedded at a time, so that the progress bar moves on a large file.
EMBED_ROWS = 2_000
# Rows read at a time while the file is gathered; the whole file is held in the end anyway.
READ_ROWS = 50_000
SCORE_DECIMALS = 5
SKIPPED_ROW_NOTE = "no neighbours written"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "similar", help="write the k most similar other rows of every row of a file (hybrid search)"
    )
    add_model_argument(parser)
    add_data_arguments(parser, "--input")
    parser.add_argument("--output", required=True, type=Path, help="CSV, JSONL(.gz) or parquet file to write")
    parser.add_argument("--k", type=positive_int, default=10, help="neighbours written for each row")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd
    from tqdm.auto import tqdm

    from issue_summarizer.data.input_checks import InputError, check_body, refuse_columns_written_over
    from issue_summarizer.data.loading import issues_from_table, parse_column_mapping, read_chunks
    from issue_summarizer.inference.summarizer import Summarizer
    from issue_summarizer.scale.batch import ChunkWriter, refuse_output_that_is_input, refuse_unusable_input
    from issue_summarizer.scale.similarity import SIMILAR_COLUMNS, SparseIndex, neighbours_within

    output = Path(args.output)
    # Everything that can be refused is refused before the model loads.
    ChunkWriter.check(output)
    refuse_output_that_is_input(args.input, output)
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, READ_ROWS, SIMILAR_COLUMNS, "similar", args.preset, mapping)
    raw = pd.concat(list(read_chunks(args.input, READ_ROWS)), ignore_index=True)
    if args.limit is not None:
        raw = raw.iloc[: args.limit]
    refuse_columns_written_over(args.input, raw.columns, SIMILAR_COLUMNS, "similar")
    loaded = issues_from_table(
        raw, args.input, args.preset, mapping, require_title=False, drop_bad_rows=False, kept_row_note=SKIPPED_ROW_NOTE
    )
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    problems = [str(problem) for problem in loaded.frame["problem"]]
    bodies = loaded.frame["body"].tolist()
    for position, body in enumerate(bodies):
        if problems[position]:
            continue
        try:
            check_body(body)
        except InputError as error:
            problems[position] = str(error)
    usable = np.array([not problem for problem in problems], dtype=bool)
    positions = np.flatnonzero(usable)
    if len(positions) < args.k + 1:
        raise ValueError(
            f"{args.input}: --k {args.k} needs at least {args.k + 1} rows with a usable body (a row's neighbours "
            f"are other rows), and the file has {len(positions):,}; add rows or lower --k"
        )

    summarizer = Summarizer.load(args.model)
    usable_bodies = [str(bodies[position]) for position in positions]
    vectors = []
    with tqdm(total=len(usable_bodies), desc="embed", unit="issue") as bar:
        for start in range(0, len(usable_bodies), EMBED_ROWS):
            chunk = usable_bodies[start : start + EMBED_ROWS]
            vectors.append(summarizer.embed(chunk))
            bar.update(len(chunk))
    sparse = SparseIndex.fit(usable_bodies, rows=positions + 1)
    with tqdm(total=len(usable_bodies), desc="search", unit="issue") as bar:
        neighbours, scores = neighbours_within(np.concatenate(vectors), sparse, args.k, progress=bar.update)

    neighbour_rows: list[list[int]] = [[] for _ in range(len(raw))]
    neighbour_scores: list[list[float]] = [[] for _ in range(len(raw))]
    for found, (position, fused) in zip(neighbours, zip(positions, scores, strict=True), strict=True):
        neighbour_rows[position] = (positions[found] + 1).tolist()
        neighbour_scores[position] = [round(float(score), SCORE_DECIMALS) for score in fused]
    result = raw.reset_index(drop=True).copy()
    result["neighbour_rows"] = neighbour_rows
    result["neighbour_scores"] = neighbour_scores
    result["problem"] = problems
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = ChunkWriter(output)
    try:
        writer.write(result)
    finally:
        writer.close()
    skipped = len(raw) - len(positions)
    print(
        f"wrote {len(raw):,} rows with their {args.k} most similar rows to {output}"
        + (f" ({skipped:,} rows without a usable body have none, see 'problem')" if skipped else "")
    )
