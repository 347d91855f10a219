"""Benchmark inference of a model directory on real test-split bodies.

    python bench/inference.py [--model model] [--data ../shared/data/github_issues.jsonl.gz]

Prints, in one run:
* batched greedy titles/s over 2,000 test bodies at batch size 256 (text in, title out);
* the original tutorial's loop, one issue at a time with a Keras `predict` call for the
  encoder and for every decoder step, on a subset (it is too slow for all 2,000);
* single-issue latency p50/p95 for greedy decoding and for beam width 5;
* where the model's tuned decoding is a beam search, its batched titles/s and single-issue
  latency as well (what the app and `summarize` use by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.text.vocabulary import END_ID, START_ID  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"


def tutorial_loop(summarizer: Summarizer, bodies: list[str]) -> list[str]:
    """The tutorial's inference: one issue at a time, `predict` for every step, argmax, stop at <end>."""
    titles = []
    for body in bodies:
        ids = summarizer.encode([body])
        state = summarizer.encoder.predict(ids, verbose=0)
        previous = np.array([[START_ID]], dtype=np.int32)
        words = []
        for _ in range(summarizer.config.title_length - 1):
            probabilities, state = summarizer.decoder_step.predict([previous, state], verbose=0)
            token = int(probabilities[0].argmax())
            if token == END_ID:
                break
            words.append(token)
            previous = np.array([[token]], dtype=np.int32)
        titles.append(summarizer.title_text(words))
    return titles


def latencies(function, bodies: list[str]) -> np.ndarray:
    timings = []
    for body in bodies:
        started = time.perf_counter()
        function(body)
        timings.append((time.perf_counter() - started) * 1000)
    return np.array(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bodies", type=int, default=2000)
    parser.add_argument("--loop-bodies", type=int, default=100)
    parser.add_argument("--latency-bodies", type=int, default=100)
    args = parser.parse_args()
    summarizer = Summarizer.load(args.model)
    split = RepositorySplit.load(args.model / "split.json")
    test = select_rows(load_issues(args.data), "test", split)
    bodies = test["body"].tolist()[: args.bodies]

    summarizer.summarize(bodies[:256], beam_width=1)  # Warm-up: traces the compiled graphs once.
    started = time.perf_counter()
    summarizer.summarize(bodies, beam_width=1, batch_size=256)
    batched_rate = len(bodies) / (time.perf_counter() - started)

    # The tutorial's loop exists for the seed architecture only.
    loop_bodies = bodies[: args.loop_bodies] if not summarizer.uses_attention else []
    loop_rate = float("nan")
    if loop_bodies:
        tutorial_loop(summarizer, loop_bodies[:2])
        started = time.perf_counter()
        tutorial_loop(summarizer, loop_bodies)
        loop_rate = len(loop_bodies) / (time.perf_counter() - started)

    single = bodies[: args.latency_bodies]
    greedy = latencies(lambda body: summarizer.summarize([body], beam_width=1), single)
    beam = latencies(lambda body: summarizer.summarize([body], beam_width=5), single)
    timed = [("greedy", greedy), ("beam 5", beam)]
    tuned_width = summarizer.config.beam_width
    tuned_rate = None
    if tuned_width > 1:
        started = time.perf_counter()
        summarizer.summarize(bodies, batch_size=256)
        tuned_rate = len(bodies) / (time.perf_counter() - started)
        tuned = latencies(lambda body: summarizer.summarize([body]), single)
        timed.append((f"tuned (beam {tuned_width})", tuned))

    print(f"model {args.model} ({summarizer.config.name}), test split of {args.data.name}")
    print(f"{'measure':<58} {'value':>10}")
    print(f"{f'batched greedy, {len(bodies):,} bodies, batch 256 (titles/s)':<58} {batched_rate:10.1f}")
    if loop_bodies:
        print(f"{f'tutorial loop, {len(loop_bodies)} bodies (titles/s)':<58} {loop_rate:10.1f}")
        print(f"{'speed-up of batched over the loop':<58} {batched_rate / loop_rate:9.1f}x")
    if tuned_rate is not None:
        print(f"{f'batched tuned (beam {tuned_width}), batch 256 (titles/s)':<58} {tuned_rate:10.1f}")
    for name, timings in timed:
        print(
            f"{f'single issue {name}, p50 / p95 (ms, {len(timings)} bodies)':<58} "
            f"{np.percentile(timings, 50):5.1f} / {np.percentile(timings, 95):5.1f}"
        )


if __name__ == "__main__":
    main()
