"""What the commands share: the parser, its help and errors, argument types and common flags.

Nothing here imports TensorFlow, so that a bad argument is refused at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from issue_summarizer.data.loading import LoadedData


class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default in --help, unless its help already speaks of it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The parser of the command and of each subcommand (argparse makes subparsers of the parent's class).

    A bad argument ends with one `error:` line and exit status 2, like every other user error
    (`main`), rather than a usage block first.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        # The top level has only commands to offer, which its --help lists.
        hint = f" (see {self.prog} --help)" if self._subparsers is not None else ""
        self.exit(2, f"error: {message}{hint}\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of rows, epochs, beams, ...)."""
    return _bounded_int(text, 1, "a whole number of at least 1")


def at_least_two(text: str) -> int:
    """An argparse type: a whole number of at least 2 (a mean of one checkpoint is that checkpoint)."""
    return _bounded_int(text, 2, "a whole number of at least 2")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0, for counts where 0 has a documented meaning."""
    return _bounded_int(text, 0, "a whole number of at least 0")


def positive_float(text: str) -> float:
    """An argparse type: a number above 0 (seconds to wait)."""
    value = _parsed_float(text, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number of at least 0 (milliseconds to wait, 0 for none)."""
    value = _parsed_float(text, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number from 0 to 1 (a confidence threshold)."""
    value = _parsed_float(text, "a number from 0 to 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _parsed_float(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _bounded_int(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def add_data_arguments(
    parser: argparse.ArgumentParser, flag: str, remote: bool = False, limit_help: str = "read only the first N rows"
) -> None:
    """The data file (`--data` or `--input`) and how to read it: `--preset`, `--columns`, `--limit`."""
    # Path() would fold "s3://bucket/x" into "s3:/bucket/x", so inputs that Ray may read from
    # object storage stay strings.
    parser.add_argument(
        flag,
        required=True,
        type=str if remote else Path,
        help="CSV, TSV, JSONL(.gz) or parquet file" + (" (with --engine ray also s3:// or gs://)" if remote else ""),
    )
    parser.add_argument("--preset", choices=["kaggle", "news", "corpus"], help="column names of a known format")
    parser.add_argument("--columns", help="column mapping, e.g. title=issue_title,body=body,repo=repo")
    parser.add_argument("--limit", type=positive_int, help=limit_help)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("model"), help="model directory (default: model)")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """`--engine` and the Ray settings of `summarize` and `embed`."""
    parser.add_argument(
        "--engine", choices=["local", "ray"], default="local", help="local (default), or Ray Data actors"
    )
    parser.add_argument("--address", help="with --engine ray: an existing Ray cluster (default: start one here)")
    parser.add_argument(
        "--ray-actors", type=positive_int, default=1, help="with --engine ray: model actors (default: 1)"
    )


def refuse_remote_input_locally(args: argparse.Namespace) -> None:
    """Say which engine reads object storage, rather than report "no such file" for an s3:// input."""
    if args.engine == "local" and "://" in args.input:
        from issue_summarizer.data.loading import DataLoadError

        raise DataLoadError(f"{args.input}: the local engine reads local files only; use --engine ray for a URL")


def load_data(args: argparse.Namespace, require_title: bool) -> LoadedData:
    """Read `--data` (or `--input`) as the flags say, printing the rows left out on stderr."""
    from issue_summarizer.data.loading import load_issues, parse_column_mapping

    loaded = load_issues(
        args.data if hasattr(args, "data") and args.data else args.input,
        preset=args.preset,
        columns=parse_column_mapping(args.columns),
        require_title=require_title,
        limit=args.limit,
    )
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return loaded
