"""`check`: say of every issue's title whether it is fine, vague or off topic, and suggest a better one.

    python -m issue_summarizer check --model model --input issues.csv --output checked.csv

Every input row comes back out, in order, with its own cells plus `verdict` (`fine`, `vague` or
`off_topic`), `reasons` (the rules the title broke, in words, joined by "; "), `suggested_title`
(the model's title, only for a flagged title and only when its confidence clears
`--min-confidence`), `confidence` (that suggestion's calibrated confidence) and `problem` (why a
body could not be read; such a row is judged on its title alone). The rules and their thresholds
are in `inference/title_check.py`; `bench/title_check.py` measures them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument, positive_int, probability

SKIPPED_ROW_NOTE = "judged on its title alone"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "check", help="say whether each issue's title is fine, vague or off topic, with a suggested title"
    )
    add_model_argument(parser)
    add_data_arguments(parser, "--input")
    parser.add_argument("--output", required=True, type=Path, help="CSV, JSONL(.gz) or parquet file to write")
    parser.add_argument(
        "--min-confidence",
        type=probability,
        metavar="X",
        help="suggest a title only when its confidence is at least X, 0 to 1 (default: 0.5)",
    )
    parser.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    parser.add_argument(
        "--chunk-rows", type=positive_int, default=2_000, help="rows read, checked and written at a time"
    )
    parser.set_defaults(run=run)


def check_frame(summarizer, frame, settings, calibration, beam_width=None, progress=None):
    """A copy of `frame` (loaded issues: `title`, `body`, perhaps `problem`) with the check's columns."""
    from issue_summarizer.inference.title_check import check_titles

    problems = list(frame["problem"]) if "problem" in frame.columns else [""] * len(frame)
    # A row loading could not read has no body to compare with: its title is judged alone.
    bodies = ["" if problems[row] else body for row, body in enumerate(frame["body"].tolist())]
    verdicts = check_titles(
        summarizer, frame["title"].tolist(), bodies, calibration, settings, beam_width, progress=progress
    )
    result = frame.drop(columns="problem", errors="ignore").copy()
    result["verdict"] = [verdict.verdict for verdict in verdicts]
    result["reasons"] = [verdict.reasons_text for verdict in verdicts]
    result["suggested_title"] = [verdict.suggested_title for verdict in verdicts]
    result["confidence"] = [
        None if verdict.confidence is None else round(verdict.confidence, 4) for verdict in verdicts
    ]
    result["problem"] = [problems[row] or (verdict.problem or "") for row, verdict in enumerate(verdicts)]
    return result


def run(args: argparse.Namespace) -> None:
    from collections import Counter

    from tqdm.auto import tqdm

    from issue_summarizer.data.input_checks import CHECK_COLUMNS
    from issue_summarizer.data.loading import DataLoadError, issues_from_table, parse_column_mapping, read_chunks
    from issue_summarizer.inference.confidence import calibration_problem, load_calibration
    from issue_summarizer.inference.summarizer import Summarizer, check_beam_width
    from issue_summarizer.inference.title_check import CheckSettings
    from issue_summarizer.scale.batch import (
        ChunkWriter,
        output_rows,
        refuse_output_that_is_input,
        refuse_unusable_input,
    )

    output = Path(args.output)
    settings = CheckSettings() if args.min_confidence is None else CheckSettings(min_confidence=args.min_confidence)
    if args.beam_width is not None:
        check_beam_width(args.beam_width)
    # Everything that can be refused is refused before the model loads.
    ChunkWriter.check(output)
    refuse_output_that_is_input(args.input, output)
    mapping = parse_column_mapping(args.columns)
    refuse_unusable_input(args.input, args.chunk_rows, CHECK_COLUMNS, "check", args.preset, mapping)
    summarizer = Summarizer.load(args.model)
    problem = calibration_problem(args.model)
    if problem:
        # The verdicts still stand; only the suggestions need a confidence.
        print(f"{problem}; no title will be suggested", file=sys.stderr)
    calibration = load_calibration(args.model)

    output.parent.mkdir(parents=True, exist_ok=True)
    writer = ChunkWriter(output)
    counts: Counter[str] = Counter()
    suggested = written = 0
    remaining = args.limit
    try:
        with tqdm(desc="check", unit="issue") as bar:
            for raw in read_chunks(args.input, args.chunk_rows):
                if remaining is not None:
                    raw = raw.iloc[:remaining]
                    remaining -= len(raw)
                if raw.empty:
                    break
                loaded = issues_from_table(
                    raw,
                    args.input,
                    args.preset,
                    mapping,
                    require_title=False,
                    drop_bad_rows=False,
                    first_row=written + 1,
                    kept_row_note=SKIPPED_ROW_NOTE,
                )
                if "title" not in loaded.frame.columns:
                    raise DataLoadError(
                        f"{args.input}: no title column to check; the file has columns {list(raw.columns)}. "
                        "Map yours with --columns title=COLUMN,body=COLUMN"
                    )
                for message in loaded.problems:
                    bar.write(str(message), file=sys.stderr)
                result = check_frame(summarizer, loaded.frame, settings, calibration, args.beam_width, bar.update)
                source_columns = [str(column) for column in raw.columns]
                writer.write(output_rows(result, raw, source_columns, CHECK_COLUMNS))
                counts.update(result["verdict"])
                suggested += int((result["suggested_title"] != "").sum())
                written += len(result)
    finally:
        writer.close()
    if not written:
        raise DataLoadError(f"{args.input}: the file has no rows")
    verdicts = ", ".join(f"{counts[name]:,} {name.replace('_', ' ')}" for name in ("fine", "vague", "off_topic"))
    print(f"checked {written:,} titles ({verdicts}; {suggested:,} with a suggested title) into {output}")
