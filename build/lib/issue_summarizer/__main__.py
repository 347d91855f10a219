"""`python -m issue_summarizer COMMAND`: dispatches to `cli/main.py`, one module per command in `cli/`."""

import sys

from issue_summarizer.cli.main import run

if __name__ == "__main__":
    sys.exit(run())
