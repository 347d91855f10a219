"""`calibrate`: fit the confidence of a model's titles on its validation split; write `confidence.json`."""

from __future__ import annotations

import argparse

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "calibrate",
        help="fit the confidence of titles on the model's validation split (writes confidence.json)",
    )
    add_model_argument(parser)
    add_data_arguments(parser, "--data", limit_help="fit on only the first N rows of the validation split")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.evaluation.calibration import calibrate_command

    calibrate_command(args)
