"""GRU attention against the Transformer at an equal training time, and label smoothing. One run, real data.

    python bench/architectures.py [--data ../shared/data/github_issues.jsonl.gz] [--train-rows 24000]
                                  [--validation-rows 500] [--test-rows 1000] [--minutes 8]
                                  [--body-length 250] [--latency-bodies 30] [--skip-smoothing]

Every arm trains with the library's training code on the same sampled rows (`--train-rows`
GitHub training rows drawn after the cap of 3,000 rows per repository), for the same
wall-clock budget on this machine (`--minutes`; training stops after the batch that passes it,
and the best epoch by validation loss is kept), with the shipped model's body window and
length bucketing. Each is scored greedily on the same `--test-rows` rows of the fixed test
split (projects no arm saw) and on the same `--validation-rows` validation rows. The arms:

* `attention`: the bidirectional GRU with attention and copying (the shipped architecture).
* `transformer`: 2 + 2 pre-layer-norm blocks, width 256, 4 heads, copying through the last
  cross-attention layer.
* `attention`, label smoothing 0.1: judged on the validation rows, as a training choice must be.

Reported: parameters, training samples/s, epochs done in the budget, ROUGE, copy rate and the
single-issue latency at beam width 4. Titles of every arm are cleaned of template tags.
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
    subset,
    table,
    train_and_score,
)
from issue_summarizer.config import CONFIGURATIONS  # noqa: E402
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.prepare import prepare  # noqa: E402
from issue_summarizer.evaluation.metrics import LEAD_WORDS, lead_titles, score_titles  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize  # noqa: E402

BUCKETS = 5
LATENCY_BEAM_WIDTH = 4
COLUMNS = (
    ("arm", "arm", ""),
    ("parameters", "parameters", ","),
    ("samples/s", "samples_per_second", ",.0f"),
    ("beam-4 single-issue p50 ms", "latency_ms", ".0f"),
    ("validation ROUGE-L", "validation_rougeL", ".4f"),
    *SCORE_COLUMNS,
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--train-rows", type=int, default=24_000)
    parser.add_argument("--validation-rows", type=int, default=500)
    parser.add_argument("--test-rows", type=int, default=1_000)
    parser.add_argument("--minutes", type=float, default=8.0, help="training time per arm")
    parser.add_argument("--body-length", type=int, default=250)
    parser.add_argument("--latency-bodies", type=int, default=30, help="single bodies timed per arm")
    parser.add_argument("--skip-smoothing", action="store_true", help="only the two architectures")
    return parser.parse_args()


def main() -> None:
    args = parse_arguments()
    command = shlex.join(["python", "bench/architectures.py", *sys.argv[1:]])
    started = time.perf_counter()
    common = {
        "max_rows_per_train_repository": None,
        "epochs": 50,  # The time budget ends training, not the epoch count.
        "patience": 50,
        "strip_title_tags": True,
        "body_length": args.body_length,
        "length_buckets": BUCKETS,
    }
    arms = [
        ("attention (GRU)", CONFIGURATIONS["attention"].updated(**common)),
        ("transformer", CONFIGURATIONS["transformer"].updated(**common)),
    ]
    if not args.skip_smoothing:
        arms.append(("attention, label smoothing 0.1", arms[0][1].updated(label_smoothing=0.1)))
    loaded = load_issues(args.data)
    rows, split, _ = capped_sample(
        loaded,
        arms[0][1],
        args.train_rows,
        0,
        args.validation_rows,
        args.test_rows,
        CONFIGURATIONS["attention"].max_rows_per_train_repository,
    )
    titles = loaded.frame["title"].to_numpy()
    bodies = loaded.frame["body"].to_numpy()
    cleaning = arms[0][1].cleaning
    references = {
        name: [" ".join(tokens) for tokens in clean_and_tokenize(titles[rows[name]].tolist(), cleaning)]
        for name in ("validation", "test")
    }
    test_bodies = bodies[rows["test"]].tolist()
    lead_tokens = clean_and_tokenize(test_bodies, cleaning, max_tokens=LEAD_WORDS)
    results = [{"arm": f"lead-{LEAD_WORDS}"} | score_titles(lead_titles(lead_tokens), references["test"])[0]]
    sample = subset(loaded, np.sort(np.concatenate([rows["train"], rows["validation"], rows["test"]])))
    for arm, config in arms:
        prepared = prepare(sample, config, show_progress=False, split=split)
        tokens = {
            name: clean_and_tokenize(bodies[rows[name]].tolist(), config.cleaning, max_tokens=config.body_length)
            for name in ("validation", "test")
        }
        row = train_and_score(
            arm,
            prepared.arrays,
            config,
            (prepared.body_vocabulary, prepared.title_vocabulary),
            tokens["test"],
            references["test"],
            latency_bodies=test_bodies[: args.latency_bodies],
            latency_beam_width=LATENCY_BEAM_WIDTH,
            time_budget=args.minutes * 60,
            validation=(tokens["validation"], references["validation"]),
        )
        results.append(row)
        print(f"{arm}: ROUGE-L {row['rougeL']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    print()
    print(
        f"Test: {len(rows['test']):,} GitHub issues from {loaded.frame['repo'].iloc[rows['test']].nunique()} "
        f"repositories that no arm saw; {args.train_rows:,} capped training rows, {args.minutes:g} minutes of "
        f"training per arm on this machine (the best epoch by validation loss is kept), body window "
        f"{args.body_length} tokens, greedy decoding, titles without template tags. Measured with `{command}`."
    )
    print()
    print(table(results, COLUMNS))
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
