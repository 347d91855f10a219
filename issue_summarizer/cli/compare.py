"""`compare`: is one model's score on the same rows better than another's? (paired bootstrap)"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser("compare", help="is one model's score on the same rows better than another's?")
    parser.add_argument("--baseline", required=True, type=Path, help="predictions file of `evaluate`")
    parser.add_argument("--candidate", required=True, type=Path, help="predictions file of `evaluate`, same rows")
    parser.add_argument("--metric", default="rougeL", help="per-row column: rougeL (default) or lead_rougeL")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.evaluation.significance import compare_command

    compare_command(args)
