"""Benchmark the text pipeline against a seed-style baseline, in one run, on real bodies.

    python bench/preprocess.py [--data ../shared/data/github_issues.jsonl.gz] [--rows 20000]

(a) The pipeline: clean, tokenize (parallel, only the window the model reads), encode, pad.
(b) The seed-style baseline: the same cleaning, then one `nlp(text)` call per document in a
    single process, then the same encoding and padding.
Both produce the same padded arrays; the script checks that and prints bodies/s and the ratio.
Both sides first warm spaCy's tokenizer cache on the same 2,000 other bodies, as a long-running
process (the app, `prepare` on the whole corpus) has a warm cache.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.config import (
    CleaningOptions,  # noqa: E402
    SummarizerConfig,  # noqa: E402
)
from issue_summarizer.text.cleaning import clean_text  # noqa: E402
from issue_summarizer.text.encoding import encode_bodies, encode_texts, surface_forms  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize, clean_and_tokenize_one  # noqa: E402
from issue_summarizer.text.vocabulary import Vocabulary  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "github_issues.jsonl.gz"


def read_bodies(path: Path, rows: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["body"] for line in itertools.islice(handle, rows)]


WARM_UP_BODIES = 2000


def pipeline(bodies: list[str], vocabulary: Vocabulary, config: SummarizerConfig) -> np.ndarray:
    return encode_texts(bodies, vocabulary, config)


def make_baseline(warm_up: list[str], config: SummarizerConfig):
    import spacy

    nlp = spacy.blank("en")
    for body in warm_up:
        nlp(clean_text(body, config.cleaning))

    def baseline(bodies: list[str], vocabulary: Vocabulary, config: SummarizerConfig) -> np.ndarray:
        tokens = [
            [token.text for token in nlp(clean_text(body, config.cleaning)) if not token.is_space] for body in bodies
        ]
        return encode_bodies(tokens, vocabulary, config)

    return baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--surface-rows", type=int, default=5_000, help="bodies for the surface-form cost")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"error: {args.data}: no such file; pass --data")
    config = SummarizerConfig()
    everything = read_bodies(args.data, args.rows + WARM_UP_BODIES)
    bodies, warm_up = everything[: args.rows], everything[args.rows :]
    # The vocabulary is fitted, and both tokenizers warmed, before timing starts. The pipeline's
    # workers are forked from this process, so they inherit its warm tokenizer.
    vocabulary = Vocabulary.fit(
        clean_and_tokenize(warm_up, CleaningOptions(), max_tokens=config.body_length, workers=1),
        with_markers=False,
        max_size=config.body_vocab_size,
    )
    baseline = make_baseline(warm_up, config)
    results = {}
    for name, function in (("pipeline", pipeline), ("baseline", baseline)):
        started = time.perf_counter()
        arrays = function(bodies, vocabulary, config)
        seconds = time.perf_counter() - started
        results[name] = (seconds, arrays)
    same = float((results["pipeline"][1] == results["baseline"][1]).all(axis=1).mean())
    print(f"{len(bodies):,} bodies from {args.data.name}, {os.cpu_count()} cores, body length {config.body_length}")
    print(f"{'':<38} {'seconds':>8} {'bodies/s':>9}")
    rate = {name: len(bodies) / seconds for name, (seconds, _) in results.items()}
    labels = {
        "pipeline": "pipeline (parallel, windowed)",
        "baseline": "baseline (nlp(text), one process)",
    }
    for name, (seconds, _) in results.items():
        print(f"{labels[name]:<38} {seconds:8.2f} {rate[name]:9,.0f}")
    print(f"speed-up: {rate['pipeline'] / rate['baseline']:.1f}x; identical padded rows: {same:.2%}")
    surface_cost(bodies[: args.surface_rows], config)


def surface_cost(bodies: list[str], config: SummarizerConfig) -> None:
    """What keeping each token's own form costs at inference: one process, as the Summarizer runs."""
    started = time.perf_counter()
    tokens = [clean_and_tokenize_one(body, config.cleaning, config.body_length) for body in bodies]
    tokens_only = time.perf_counter() - started
    started = time.perf_counter()
    for body, body_tokens in zip(bodies, tokens, strict=True):
        surface_forms(body, body_tokens, config.cleaning)
    surface = time.perf_counter() - started
    print(
        f"\nsurface forms, {len(bodies):,} bodies in one process: tokens {len(bodies) / tokens_only:,.0f} bodies/s, "
        f"surface forms {len(bodies) / surface:,.0f} bodies/s ({surface / tokens_only:.2f}x the tokenizing time; "
        f"{surface / len(bodies) * 1000:.2f} ms per body)"
    )


if __name__ == "__main__":
    main()
