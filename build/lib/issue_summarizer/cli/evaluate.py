"""`evaluate`: ROUGE and BLEU of a model and the lead baseline on one split of a data file."""

from __future__ import annotations

import argparse
from pathlib import Path

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument, positive_int


def add_parser(commands) -> None:
    parser = commands.add_parser("evaluate", help="ROUGE and BLEU of a model and the lead baseline")
    add_model_argument(parser)
    add_data_arguments(parser, "--data", limit_help="score only the first N rows of the chosen --split")
    parser.add_argument(
        "--split",
        default="test",
        choices=["test", "validation", "train", "all"],
        help="rows of --data in the model's test, validation or train split, or all of them",
    )
    parser.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    parser.add_argument("--out", type=Path, help="directory for metrics and predictions (default: the model's)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.evaluation.metrics import evaluate_command

    evaluate_command(args)
