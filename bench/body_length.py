"""How much of the body should the model read, and which new training files help? One run, real data.

    python bench/body_length.py [--data ../shared/data/github_issues.jsonl.gz] [--train-rows 8000]
                                [--extra-rows 4000] [--validation-rows 500] [--test-rows 1000] [--epochs 2]
                                [--lengths 70,150,250] [--latency-bodies 50]

Every arm trains the attention configuration with the library's training code on the same
sampled rows: `--train-rows` GitHub training rows drawn after the cap of 3,000 rows per
repository, with the same validation rows for the best-epoch choice, and is scored greedily on
the same `--test-rows` rows of the fixed test split (projects no arm saw). The arms:

* **Body length.** The body window is 70, 150 or 250 tokens, with length bucketing (5 buckets)
  so that short bodies do not pay for a long window, and 150 without bucketing, which measures
  what bucketing saves. Reported: ROUGE-L, training samples/s and single-issue greedy latency.
* **New data** (at the shipped model's 70 tokens): the same rows plus `--extra-rows` rows of
  `github_issues_more.jsonl.gz` or of `pull_requests_more.jsonl.gz` (capped per repository like
  the other extra sources), against as many more capped rows of the main corpus. An extra file
  helps only where it beats more rows of the corpus itself.

Titles of every arm are cleaned of template tags (`strip_title_tags`), as the next model's are.
Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sampled_comparison import (  # noqa: E402
    DEFAULT_DATA,
    SCORE_COLUMNS,
    capped_sample,
    draw,
    subset,
    table,
    train_and_score,
)
from issue_summarizer.config import CONFIGURATIONS  # noqa: E402
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.prepare import cap_rows_per_repository, prepare  # noqa: E402
from issue_summarizer.evaluation.metrics import LEAD_WORDS, lead_titles, score_titles  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize  # noqa: E402

DATA_DIRECTORY = DEFAULT_DATA.parent
BUCKETS = 5
COLUMNS = (
    ("arm", "arm", ""),
    ("body length", "body_length", ""),
    ("samples/s", "samples_per_second", ",.0f"),
    ("single-issue p50 ms", "latency_ms", ".1f"),
    *SCORE_COLUMNS,
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--issues-more", type=Path, default=DATA_DIRECTORY / "github_issues_more.jsonl.gz")
    parser.add_argument("--pull-requests-more", type=Path, default=DATA_DIRECTORY / "pull_requests_more.jsonl.gz")
    parser.add_argument("--train-rows", type=int, default=8_000)
    parser.add_argument("--extra-rows", type=int, default=4_000)
    parser.add_argument("--validation-rows", type=int, default=500)
    parser.add_argument("--test-rows", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lengths", default="70,150,250", help="body windows to compare, in tokens")
    parser.add_argument("--latency-bodies", type=int, default=50, help="single bodies timed per arm")
    parser.add_argument("--skip-data", action="store_true", help="only the body-length arms")
    return parser.parse_args()


def main() -> None:
    args = parse_arguments()
    command = shlex.join(["python", "bench/body_length.py", *sys.argv[1:]])
    started = time.perf_counter()
    attention = CONFIGURATIONS["attention"]
    config = attention.updated(max_rows_per_train_repository=None, epochs=args.epochs, strip_title_tags=True)
    loaded = load_issues(args.data)
    rows, split, rng = capped_sample(
        loaded,
        config,
        args.train_rows,
        args.extra_rows,
        args.validation_rows,
        args.test_rows,
        attention.max_rows_per_train_repository,
    )
    train, more, validation, test = rows["train"], rows["more"], rows["validation"], rows["test"]
    titles = loaded.frame["title"].to_numpy()
    bodies = loaded.frame["body"].to_numpy()
    test_bodies = bodies[test].tolist()
    references = [" ".join(tokens) for tokens in clean_and_tokenize(titles[test].tolist(), config.cleaning)]
    lead_tokens = clean_and_tokenize(test_bodies, config.cleaning, max_tokens=LEAD_WORDS)
    results = [{"arm": f"lead-{LEAD_WORDS}"} | score_titles(lead_titles(lead_tokens), references)[0]]
    latency_bodies = test_bodies[: args.latency_bodies]

    def run(arm: str, rows: np.ndarray, arm_config, extra=()) -> None:
        sample = subset(loaded, np.sort(np.concatenate([rows, validation, test])))
        prepared = prepare(sample, arm_config, show_progress=False, split=split, extra=extra)
        test_tokens = clean_and_tokenize(test_bodies, arm_config.cleaning, max_tokens=arm_config.body_length)
        row = train_and_score(
            arm,
            prepared.arrays,
            arm_config,
            (prepared.body_vocabulary, prepared.title_vocabulary),
            test_tokens,
            references,
            latency_bodies=latency_bodies,
        )
        results.append(row)
        print(f"{arm}: ROUGE-L {row['rougeL']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    for length in (int(value) for value in args.lengths.split(",")):
        run(f"{length} tokens, bucketed", train, config.updated(body_length=length, length_buckets=BUCKETS))
    if 150 in {int(value) for value in args.lengths.split(",")}:
        run("150 tokens, not bucketed", train, config.updated(body_length=150, length_buckets=0))
    if not args.skip_data:
        base = config.updated(length_buckets=BUCKETS)
        run(f"70 tokens + {args.extra_rows:,} more capped corpus rows", more, base)
        for name, path in (("github_issues_more", args.issues_more), ("pull_requests_more", args.pull_requests_more)):
            extra = load_issues(path)
            extra_repositories = extra.frame["repo"].tolist()
            capped = cap_rows_per_repository(
                np.arange(len(extra.frame)), extra_repositories, attention.max_rows_per_train_repository, config.seed
            )
            chosen = subset(extra, draw(capped, args.extra_rows, rng, str(path)))
            run(f"70 tokens + {args.extra_rows:,} {name} rows", train, base, extra=[chosen])

    print()
    print(
        f"Test: {len(test):,} GitHub issues from {loaded.frame['repo'].iloc[test].nunique()} repositories that no "
        f"arm saw; {args.train_rows:,} capped training rows per arm, up to {config.epochs} epochs (the best by "
        f"validation loss is kept), greedy decoding, titles without template tags. Measured with `{command}`."
    )
    print()
    print(table(results, COLUMNS))
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
