"""`average`: replace a run's model.keras by the mean of its last epoch checkpoints when that helps."""

from __future__ import annotations

import argparse
from pathlib import Path

from issue_summarizer.cli.arguments import at_least_two


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "average", help="average a run's last epoch checkpoints, kept if it lowers the validation loss"
    )
    parser.add_argument("--model", type=Path, required=True, help="model directory of a training run (--out)")
    parser.add_argument(
        "--last", type=at_least_two, default=3, help="how many of the last epoch checkpoints, at least 2 (default: 3)"
    )
    parser.add_argument("--force", action="store_true", help="write the average even if it does not help")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.training.averaging import average_command

    average_command(args)
