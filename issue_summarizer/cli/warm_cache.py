"""`warm-cache`: compute what the app's Holdout browser and Similar issues pages compute on a first visit."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "warm-cache", help="compute what the app's Holdout browser and Similar issues pages compute on a first visit"
    )
    # No --limit, --preset or --columns: the app reads the whole file with the default columns,
    # and the cache is keyed by the file, so anything else would be stored as what it is not.
    parser.add_argument(
        "--model", type=Path, help="model directory the app uses (default: $ISSUE_SUMMARIZER_MODEL, else model/)"
    )
    parser.add_argument(
        "--data", type=Path, help="data file the app reads (default: $ISSUE_SUMMARIZER_DATA, else the shared corpus)"
    )
    parser.add_argument("--force", action="store_true", help="compute again what is already cached")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.app.cache_warming import warm_cache_command

    warm_cache_command(args)
