"""`action`: the GitHub Action's entry point, which the action's Docker image runs.

    python -m issue_summarizer action

It takes no arguments: like any action, it reads the environment GitHub sets for the job
(`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_API_URL`, `GITHUB_TOKEN` or `INPUT_TOKEN`,
`INPUT_MODE`, `INPUT_MIN-CONFIDENCE`, `INPUT_SKIP-LABEL`, `INPUT_EXEMPT-USERS`, `GITHUB_OUTPUT`),
and `ISSUE_SUMMARIZER_MODEL` for the model directory (default: the model shipped beside the
package). So the tests, and anyone outside Docker, run it exactly as the image does. See
`issue_summarizer/github/action.py` and docs/action.md.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "action",
        help="run the GitHub Action's title check for the event in GITHUB_EVENT_PATH (reads the environment only)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The action's exit status: 1 fails the job (a misconfiguration, already said in one log line)."""
    from issue_summarizer.github.action import run as run_action

    status = run_action()
    sys.stdout.flush()
    return status
