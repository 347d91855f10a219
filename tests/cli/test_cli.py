"""The command line itself: --help, argument errors, and what a user error prints (run as a real process)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from issue_summarizer.cli.main import build_parser, main
from issue_summarizer.config import CONFIGURATIONS
from tests.conftest import REPO_ROOT, make_rows

# Runs `main` on each argv in one process, then says whether TensorFlow was ever imported.
_ERRORS_SCRIPT = """
import contextlib, io, json, sys
from issue_summarizer.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    results.append([code, stderr.getvalue()])
print(json.dumps({"results": results, "tensorflow": "tensorflow" in sys.modules}))
"""


def run_python(arguments: list[str], directory: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, *arguments], cwd=directory, env=environment, capture_output=True, text=True, timeout=timeout
    )


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(commands.choices)


def test_help_shows_every_default_and_every_named_configuration(monkeypatch, capsys):
    for name, parser in subcommands().items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                shown = formatter._expand_help(action)
                assert "default" in shown, f"{name} {action.option_strings[0]}: {shown!r}"
    monkeypatch.setenv("COLUMNS", "400")  # One line per option, whatever the terminal.
    assert main(["summarize", "--help"]) == 0
    summarize = capsys.readouterr().out
    assert "rows read, titled and written at a time (default: 2000)" in summarize
    assert "bodies decoded together; more is faster until memory runs out" in summarize
    assert "(default: 256)" in summarize
    assert main(["evaluate", "--help"]) == 0
    evaluate = capsys.readouterr().out
    assert "score only the first N rows of the chosen --split" in evaluate
    assert "train split, or all of them (default: test)" in evaluate
    for command in ("train", "prepare"):
        assert main([command, "--help"]) == 0
        shown = capsys.readouterr().out
        assert f"named configuration: {', '.join(CONFIGURATIONS)} (default: seed)" in shown
    assert {"tiny-attention", "tiny-transformer"} <= set(CONFIGURATIONS)


def test_argument_and_file_errors_are_one_error_line_before_tensorflow_loads(tmp_path):
    cases = [
        (
            ["train", "--data", "d.jsonl", "--out", "o", "--epochs", "0"],
            "argument --epochs: expected a whole number of at least 1, got '0'",
        ),
        (
            ["summarize", "--input", "in.csv", "--output", "o.csv", "--beam-width", "0"],
            "argument --beam-width: expected a whole number of at least 1, got '0'",
        ),
        (
            ["evaluate", "--data", "d.jsonl", "--limit", "0"],
            "argument --limit: expected a whole number of at least 1, got '0'",
        ),
        (
            ["average", "--model", "m", "--last", "-1"],
            "argument --last: expected a whole number of at least 2, got '-1'",
        ),
        (["average", "--model", "m", "--last", "1"], "argument --last: expected a whole number of at least 2, got '1'"),
        (["evaluate", "--data", "d.jsonl", "--split", "tests"], "argument --split: invalid choice: 'tests'"),
        (["train", "--data", "d.jsonl", "--out", "o", "--config", "huge"], "argument --config: invalid choice: 'huge'"),
        (["summarize", "--input", "missing.csv", "--output", "o.csv"], "missing.csv: no such file"),
        (["evaluate", "--data", "missing.jsonl", "--split", "all", "--out", "o"], "missing.jsonl: no such file"),
        (["embed", "--input", ".", "--output", "v.parquet"], ".: is a directory, not a data file"),
    ]
    finished = run_python(["-c", _ERRORS_SCRIPT, json.dumps([argv for argv, _ in cases])], tmp_path)
    report = json.loads(finished.stdout)
    for (argv, message), (code, stderr) in zip(cases, report["results"], strict=True):
        assert code == 2, argv
        assert len(stderr.splitlines()) == 1 and stderr.startswith(f"error: {message}"), (argv, stderr)
    assert "tiny-transformer" in report["results"][6][1]  # The invalid choice lists the names there are.
    assert report["tensorflow"] is False
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.csv").exists()


def test_a_user_error_of_the_real_command_is_exactly_one_line(tmp_path):
    finished = run_python(
        ["-m", "issue_summarizer", "summarize", "--input", "missing.csv", "--output", "o.csv"], tmp_path
    )
    assert finished.returncode == 2 and finished.stderr == "error: missing.csv: no such file\n"
    finished = run_python(
        ["-m", "issue_summarizer", "train", "--data", "d.jsonl", "--out", "o", "--epochs", "0"], tmp_path
    )
    assert finished.returncode == 2
    assert finished.stderr == "error: argument --epochs: expected a whole number of at least 1, got '0'\n"


@pytest.mark.slow
def test_a_run_that_loads_tensorflow_prints_none_of_its_start_up_lines(trained_tiny_model, tmp_path):
    pd.DataFrame(make_rows(count=3)).to_csv(tmp_path / "in.csv", index=False)
    arguments = ["-m", "issue_summarizer", "summarize", "--model", str(trained_tiny_model)]
    finished = run_python([*arguments, "--input", "in.csv", "--output", "out.csv"], tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "wrote 3 rows to out.csv\n"
    # Only the progress bar is left on stderr: no "All log messages before absl::InitializeLog()", no oneDNN notice.
    assert "absl" not in finished.stderr and "oneDNN" not in finished.stderr
    assert all(
        segment.startswith("summarize:")
        for segment in finished.stderr.replace("\r", "\n").split("\n")
        if segment.strip()
    )
