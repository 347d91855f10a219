"""Which training data titles GitHub issues from unseen projects best? One run, real data.

    python bench/training_data.py [--data ../shared/data/github_issues.jsonl.gz] [--github-rows 8000]
                                  [--extra-rows 4000] [--validation-rows 500] [--test-rows 1000] [--epochs 2]
                                  [--trackers ../shared/data/other_trackers.jsonl.gz]
                                  [--pull-requests ../shared/data/pull_requests.jsonl.gz]

The validation and test rows are one seeded sample of the GitHub split that `prepare` makes
(by repository, evaluation repositories capped at 300 rows), shared by every arm, so every
test row comes from a project that no arm trained on. The arms differ only in their training
rows:

* `github, uncapped`: `--github-rows` rows drawn at random from all GitHub training rows, where
  golang/go, rust-lang/rust and neovim/neovim are about half of the rows;
* `github, capped`: as many rows drawn from the training rows left after the attention
  configuration's cap of 3,000 rows per repository, which is how `train` draws them;
* `github, capped, more rows`: the capped rows plus `--extra-rows` more capped GitHub rows;
* `capped + other_trackers`: the capped rows plus `--extra-rows` JIRA/YouTrack reports;
* `capped + pull_requests`: the capped rows plus `--extra-rows` pull-request descriptions.

The first two compare the mix of projects at an equal number of rows. The last three add as
many rows each, from GitHub itself or from another source, so an extra source counts as
helping only where it beats more GitHub rows as well as fewer rows. Extra rows go through
`prepare`'s `extra` path, as with `train --extra-data`: they only add training rows.
Everything else is held equal (configuration, epochs, seed, training code, greedy decoding).
Each arm fits its own vocabularies on its own training rows, as `train` would. Nothing is written into the repository.
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
    draw,
    repository_split,
    subset,
    table,
    train_and_score,
)
from issue_summarizer.config import CONFIGURATIONS  # noqa: E402
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.prepare import cap_rows_per_repository, prepare  # noqa: E402
from issue_summarizer.data.splitting import split_indices  # noqa: E402
from issue_summarizer.evaluation.metrics import LEAD_WORDS, lead_titles, score_titles  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize  # noqa: E402

DATA_DIRECTORY = DEFAULT_DATA.parent


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trackers", type=Path, default=DATA_DIRECTORY / "other_trackers.jsonl.gz")
    parser.add_argument("--pull-requests", type=Path, default=DATA_DIRECTORY / "pull_requests.jsonl.gz")
    parser.add_argument("--github-rows", type=int, default=8_000, help="GitHub training rows of every arm")
    parser.add_argument("--extra-rows", type=int, default=4_000, help="rows an extra source adds")
    parser.add_argument("--validation-rows", type=int, default=500, help="for the library's best-epoch choice")
    parser.add_argument("--test-rows", type=int, default=1_000, help="a seeded sample of the test split")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    for name in ("github_rows", "extra_rows", "validation_rows", "test_rows", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def main() -> None:
    args = parse_arguments()
    command = shlex.join(["python", "bench/training_data.py", *sys.argv[1:]])
    started = time.perf_counter()
    attention = CONFIGURATIONS["attention"]
    # Every arm trains on exactly the rows drawn here, so `prepare` caps nothing more.
    config = attention.updated(max_rows_per_train_repository=None, epochs=args.epochs)
    loaded = load_issues(args.data)
    split = repository_split(loaded, config)
    repositories = loaded.frame["repo"].tolist()
    indices = split_indices(repositories, split)
    rng = np.random.default_rng(config.seed)
    validation = draw(indices["validation"], args.validation_rows, rng, "the validation split")
    test = draw(indices["test"], args.test_rows, rng, "the test split")
    capped_pool = cap_rows_per_repository(
        indices["train"], repositories, attention.max_rows_per_train_repository, config.seed
    )
    training = {
        "uncapped": draw(indices["train"], args.github_rows, rng, "the training split"),
        # The capped arm's rows are a random part of these, so the more-rows arm only adds rows.
        "capped, more": draw(capped_pool, args.github_rows + args.extra_rows, rng, "the capped training split"),
    }
    training["capped"] = np.sort(rng.permutation(training["capped, more"])[: args.github_rows])
    extras = {
        name: subset(data, draw(np.arange(len(data.frame)), args.extra_rows, rng, str(path)))
        for name, path in (("other_trackers", args.trackers), ("pull_requests", args.pull_requests))
        for data in [load_issues(path)]
    }
    print(
        f"{loaded.summary()}; {len(capped_pool):,} of {len(indices['train']):,} training rows are left after "
        f"the cap of {attention.max_rows_per_train_repository:,} per repository; validation {len(validation):,} "
        f"and test {len(test):,} rows (test from {loaded.frame['repo'].iloc[test].nunique()} repositories)",
        flush=True,
    )

    titles = loaded.frame["title"].to_numpy()
    bodies = loaded.frame["body"].to_numpy()
    references = [" ".join(tokens) for tokens in clean_and_tokenize(titles[test].tolist(), config.cleaning)]
    test_tokens = clean_and_tokenize(bodies[test].tolist(), config.cleaning, max_tokens=config.body_length)
    results = [
        {"arm": f"lead-{LEAD_WORDS} (first {LEAD_WORDS} words of the cleaned body)"}
        | score_titles(lead_titles(test_tokens), references)[0]
    ]
    arms = (
        ("github, uncapped", "uncapped", None),
        ("github, capped", "capped", None),
        ("github, capped, more rows", "capped, more", None),
        ("capped + other_trackers", "capped", "other_trackers"),
        ("capped + pull_requests", "capped", "pull_requests"),
    )
    for arm, pool, extra in arms:
        sample = subset(loaded, np.sort(np.concatenate([training[pool], validation, test])))
        prepared = prepare(sample, config, show_progress=False, split=split, extra=[extras[extra]] if extra else ())
        row = train_and_score(
            arm,
            prepared.arrays,
            config,
            (prepared.body_vocabulary, prepared.title_vocabulary),
            test_tokens,
            references,
        )
        results.append(row)
        print(f"{arm}: ROUGE-L {row['rougeL']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    print()
    print(
        f"Test: {len(test):,} GitHub issues from {loaded.frame['repo'].iloc[test].nunique()} repositories that no "
        f"arm saw; configuration {config.name}, up to {config.epochs} epochs (the best by validation loss is kept), "
        f"greedy decoding. Measured with `{command}`."
    )
    print()
    print(table(results, (("arm", "arm", ""), *SCORE_COLUMNS)))
    print()
    print(
        "Train rows: after `prepare` drops titles without a known word. Copied: the share of titles holding a "
        "token copied from outside the title vocabulary."
    )
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
