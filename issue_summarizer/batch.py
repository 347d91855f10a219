"""Titles for every row of a table: the `summarize` command and the app's batch mode.

Every input row comes back out, in order, with its columns unchanged plus
`predicted_title` and `title_score`. A row whose body cannot be summarized (empty, binary)
gets an empty title and its reason in `problem`, so nothing is lost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.data_loading import DataLoadError, load_issues, parse_column_mapping
from issue_summarizer.github_issues import GitHubError, GitHubSettings, fetch_many
from issue_summarizer.input_checks import InputError, check_body
from issue_summarizer.summarizer import Summarizer

OUTPUT_SUFFIXES = (".csv", ".jsonl", ".jsonl.gz", ".parquet")


def fetch_bodies(
    frame: pd.DataFrame,
    column: str,
    settings: GitHubSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """A copy of `frame` with each issue's `github_title` and `body` fetched from the URL in `column`.

    Requests go one at a time and respect GitHub's rate limit (`fetch_many`). A row whose
    URL cannot be fetched keeps an empty body and says why in `problem`, so no row is lost.
    """
    urls = [
        "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value) for value in frame[column]
    ]
    results = fetch_many(urls, settings, progress=progress)
    result = frame.copy()
    result["github_title"] = [
        item.title if not isinstance(item, GitHubError) else (item.title or "") for item in results
    ]
    result["body"] = [item.body if not isinstance(item, GitHubError) else "" for item in results]
    result["problem"] = [str(item) if isinstance(item, GitHubError) else "" for item in results]
    return result


def summarize_frame(
    summarizer: Summarizer,
    frame: pd.DataFrame,
    beam_width: int | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Return a copy of `frame` with `predicted_title`, `title_score` and `problem` columns."""
    problems = list(frame["problem"]) if "problem" in frame.columns else [""] * len(frame)
    result = frame.drop(columns="problem", errors="ignore")
    bodies = []
    for row, body in enumerate(result["body"].tolist()):
        if problems[row]:
            continue
        try:
            check_body(body)
            bodies.append((row, body))
        except InputError as error:
            problems[row] = str(error)
    titles = [""] * len(result)
    scores = [np.nan] * len(result)
    generated = summarizer.summarize(
        [body for _, body in bodies], beam_width=beam_width, batch_size=batch_size, progress=progress
    )
    for (row, _), (title, score) in zip(bodies, generated, strict=True):
        titles[row], scores[row] = title, round(score, 4)
    if progress and len(bodies) < len(result):
        progress(len(result) - len(bodies))
    result["predicted_title"] = titles
    result["title_score"] = scores
    result["problem"] = problems
    return result


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    elif name.endswith((".jsonl", ".jsonl.gz")):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        raise DataLoadError(f"{path}: unknown output type; use one of {', '.join(OUTPUT_SUFFIXES)}")


def summarize_file(args) -> None:
    """`summarize --model DIR --input FILE --output FILE`."""
    from tqdm.auto import tqdm

    if not str(args.output).lower().endswith(OUTPUT_SUFFIXES):
        raise DataLoadError(f"{args.output}: unknown output type; use one of {', '.join(OUTPUT_SUFFIXES)}")
    summarizer = Summarizer.load(args.model)
    loaded = load_issues(
        args.input,
        preset=args.preset,
        columns=parse_column_mapping(args.columns),
        require_title=False,
        limit=args.limit,
        drop_bad_rows=False,
    )
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    # Columns that loading added are dropped again: the output has the input's columns and ours.
    original = loaded.source_columns
    with tqdm(total=len(loaded.frame), desc="summarize", unit="issue") as bar:
        result = summarize_frame(summarizer, loaded.frame, args.beam_width, args.batch_size, progress=bar.update)
    extra = ["predicted_title", "title_score", "problem"]
    kept = [column for column in result.columns if column in original or column in extra]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_table(result[kept], args.output)
    failed = sum(1 for problem in result["problem"] if problem)
    print(
        f"wrote {len(result):,} rows to {args.output}"
        + (f" ({failed:,} without a title, see 'problem')" if failed else "")
    )
