"""`train`: prepare the data and train a model directory, then evaluate it on the test split."""

from __future__ import annotations

import argparse
from pathlib import Path

from issue_summarizer.cli.arguments import add_data_arguments, non_negative_int, positive_int
from issue_summarizer.cli.prepare import CONFIGURATION_HELP
from issue_summarizer.config import CONFIGURATIONS, PRECISIONS


def add_parser(commands) -> None:
    parser = commands.add_parser("train", help="prepare the data and train a model directory")
    add_data_arguments(parser, "--data")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument(
        "--config", choices=CONFIGURATIONS, metavar="NAME", help=f"{CONFIGURATION_HELP}; with --resume, the run's own"
    )
    parser.add_argument("--epochs", type=positive_int, help="override the configuration's epochs")
    parser.add_argument("--batch-size", type=positive_int, help="override the configuration's batch size")
    parser.add_argument("--precision", choices=PRECISIONS, help="override the configuration's precision")
    parser.add_argument(
        "--length-buckets",
        type=non_negative_int,
        help="override the configuration's length bucketing (N similar-length batch shapes; 0 is off)",
    )
    parser.add_argument("--body-length", type=positive_int, help="override the configuration's body window, in tokens")
    parser.add_argument(
        "--title-length",
        type=positive_int,
        help="override the configuration's title length, markers included; with --resume, the run's arrays are "
        "prepared again from the same --data and --extra-data",
    )
    parser.add_argument(
        "--patience", type=non_negative_int, help="override the configuration's early-stopping patience"
    )
    parser.add_argument(
        "--learning-rate-decay",
        type=float,
        help="multiply the learning rate by this after an epoch without a better validation loss (1: never)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --out, with the run's own --data and settings",
    )
    parser.add_argument("--label-smoothing", type=float, help="override the configuration's label smoothing (0: off)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="override the configuration's learning rate; with --resume, the rate from now on",
    )
    parser.add_argument(
        "--time-budget", type=float, help="stop after this many seconds of training, even inside an epoch"
    )
    parser.add_argument(
        "--extra-data",
        type=Path,
        action="append",
        help="more training rows (other trackers, pull requests); repeatable",
    )
    parser.add_argument(
        "--max-rows-per-repository", type=non_negative_int, help="cap training rows per repository (0: no cap)"
    )
    parser.add_argument("--workers", type=positive_int, help="processes for tokenizing (default: all cores)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.evaluation.metrics import evaluate_model_directory
    from issue_summarizer.training.trainer import train_command

    loaded = train_command(args)
    if loaded is not None:  # None on the workers of a multi-worker run other than the chief.
        evaluate_model_directory(args.out, loaded, "test")
