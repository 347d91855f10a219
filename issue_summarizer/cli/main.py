"""The command line's entry point: `issue-summarizer COMMAND` or `python -m issue_summarizer COMMAND`.

Every user error (a bad file, a missing model, an argument out of range) ends with one line
on stderr and exit status 2, never a traceback or a usage block. Files and arguments are
checked before TensorFlow loads wherever the check does not need the model.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from issue_summarizer.cli import (
    action,
    average,
    calibrate,
    check,
    compare,
    embed,
    evaluate,
    prepare,
    serve,
    similar,
    summarize,
    train,
    train_embedding,
    tune,
    warm_cache,
)
from issue_summarizer.cli.arguments import Parser
from issue_summarizer.quiet_imports import quiet_tensorflow_start_up

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# In the order `--help` lists them: the flow from data to model to titles, then the app's cache.
COMMANDS = (
    prepare,
    train,
    average,
    tune,
    evaluate,
    calibrate,
    compare,
    summarize,
    check,
    embed,
    similar,
    train_embedding,
    warm_cache,
    serve,
    action,
)


def build_parser() -> argparse.ArgumentParser:
    # Usage lines name the command as it was typed: the installed console command, or the module.
    program = "issue-summarizer" if Path(sys.argv[0]).name == "issue-summarizer" else "python -m issue_summarizer"
    parser = Parser(prog=program, description="Issue Summarizer: write a GitHub issue's title from its body.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def describe_os_error(error: OSError) -> str:
    if error.filename is None or error.strerror is None:
        return str(error)  # Raised with a message of our own, such as "model/config.json: missing".
    return f"{error.filename}: {error.strerror}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0, 2 for a user error, 130 when interrupted)."""
    from issue_summarizer.data.loading import DataLoadError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:
        # argparse exits after --help (0) and after its one `error:` line (2); callers of main() get the status.
        return exit.code if isinstance(exit.code, int) else 2
    try:
        # A command returns nothing, or its own exit status (`action` fails the job with 1).
        status = args.run(args)
    except (DataLoadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file the system refused (a directory given for a file, a full disk, no permission):
        # one line that names it, as for every other user error.
        print(f"error: {describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status if isinstance(status, int) else 0


def run() -> int:
    """The `issue-summarizer` console command and `python -m issue_summarizer`."""
    quiet_tensorflow_start_up()
    return main()
