"""`embed`: write the encoder's vector of every row of a file to parquet, for the Similar issues page."""

from __future__ import annotations

import argparse
from pathlib import Path

from issue_summarizer.cli.arguments import (
    add_data_arguments,
    add_engine_arguments,
    add_model_argument,
    positive_int,
    refuse_remote_input_locally,
)


def add_parser(commands) -> None:
    parser = commands.add_parser("embed", help="write the encoder's vector of every row of a file to parquet")
    add_model_argument(parser)
    add_data_arguments(parser, "--input", remote=True)
    parser.add_argument("--output", required=True, type=Path, help="parquet file to write")
    parser.add_argument("--chunk-rows", type=positive_int, default=10_000, help="rows read and embedded at a time")
    add_engine_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    refuse_remote_input_locally(args)
    if args.engine == "ray":
        from issue_summarizer.scale.ray_engine import embed_with_ray

        embed_with_ray(args)
        return
    from issue_summarizer.scale.embedding_file import embed_file

    embed_file(args)
