"""`tune`: choose a model's decoding settings by validation ROUGE-L, only on a significant gain."""

from __future__ import annotations

import argparse

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument, non_negative_int, positive_int


def add_parser(commands) -> None:
    parser = commands.add_parser("tune", help="choose decoding defaults by validation ROUGE-L")
    add_model_argument(parser)
    add_data_arguments(parser, "--data", limit_help="use only the first N validation rows, before --rows samples")
    parser.add_argument(
        "--rows", type=non_negative_int, default=1000, help="validation rows to score (default: 1000; 0: all)"
    )
    # The grid's axes (defaults in evaluation/tuning.py, which this module must not import: it loads TensorFlow).
    parser.add_argument("--beam-widths", type=positive_int, nargs="+", help="grid: beam widths (default: 1 4 8)")
    parser.add_argument("--length-penalties", type=float, nargs="+", help="grid: length penalties (default: 0.6 1 1.4)")
    parser.add_argument(
        "--ngram-blocks", type=non_negative_int, nargs="+", help="grid: blocked repeated n-grams (default: 0 1 2)"
    )
    parser.add_argument(
        "--min-lengths", type=non_negative_int, nargs="+", help="grid: minimum title words (default: 0 4)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.evaluation.tuning import tune_command

    tune_command(args)
