"""`summarize`: write a title for every row of a file, in chunks, locally or with Ray Data."""

from __future__ import annotations

import argparse
from pathlib import Path

from issue_summarizer.cli.arguments import (
    add_data_arguments,
    add_engine_arguments,
    add_model_argument,
    positive_int,
    probability,
    refuse_remote_input_locally,
)


def add_parser(commands) -> None:
    parser = commands.add_parser("summarize", help="write a predicted title for every row of a file")
    add_model_argument(parser)
    add_data_arguments(parser, "--input", remote=True)
    parser.add_argument("--output", required=True, type=Path, help="CSV, JSONL(.gz) or parquet file to write")
    parser.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        help="bodies decoded together; more is faster until memory runs out, and the titles are the same",
    )
    # 2,000 rows keep a run under 2 GiB (bench/streaming.py); 10,000 peaked at 2.16 GiB.
    parser.add_argument(
        "--chunk-rows", type=positive_int, default=2_000, help="rows read, titled and written at a time"
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run after its last chunk")
    parser.add_argument(
        "--min-confidence",
        type=probability,
        metavar="X",
        help="leave the title empty where its confidence is below X (0 to 1), saying so in 'problem'; "
        "needs the model's confidence.json (run calibrate)",
    )
    add_engine_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    refuse_remote_input_locally(args)
    if args.engine == "ray":
        from issue_summarizer.scale.ray_engine import summarize_with_ray

        summarize_with_ray(args)
        return
    from issue_summarizer.scale.batch import summarize_file

    summarize_file(args)
