"""Does the summarizer itself rerank lexical search? BM25's top k, rescored by P(title | body).

    python bench/query_likelihood.py [--model model] [--data ../shared/data/github_issues.jsonl.gz]
                                     [--queries 1000] [--depth 30]

Issue 27 asks for a hybrid search that beats BM25's title→body recall@10 by 0.05. The model
was trained to write a body's title, so the mean log-probability of a query title given a
candidate body (`Summarizer.title_log_likelihoods`, teacher forcing) is a query-likelihood
score. For a random sample of test titles (the queries), every test body is indexed with BM25
(`bench/similarity.py`'s), the top `--depth` bodies are rescored, and BM25's and the model's
scores are fused as z-scores over those candidates, the model's at several weights. A reranker
can only reorder what BM25 found, so BM25's recall at the depth is the ceiling. Prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from similarity import DEFAULT_DATA, Bm25, top_k  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.scale.similarity import standardised  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=1000, help="test titles sampled as queries")
    parser.add_argument("--depth", type=int, default=30, help="BM25 candidates rescored per query")
    args = parser.parse_args()
    summarizer = Summarizer.load(args.model)
    frame = select_rows(load_issues(args.data), "test", RepositorySplit.load(args.model / "split.json"))
    bodies, titles = frame["body"].tolist(), frame["title"].tolist()
    queries = np.random.default_rng(0).choice(len(bodies), min(args.queries, len(bodies)), replace=False)
    lexical = Bm25(bodies).scores([titles[row] for row in queries])
    candidates = top_k(lexical, args.depth)
    started = time.perf_counter()
    likelihoods = summarizer.title_log_likelihoods(
        [bodies[row] for row in candidates.ravel()], [titles[row] for row in queries for _ in range(args.depth)]
    ).reshape(candidates.shape)
    seconds = time.perf_counter() - started
    found = candidates == queries[:, None]
    print(
        f"{len(queries):,} test titles as queries over {len(bodies):,} test bodies; BM25's top {args.depth} rescored "
        f"({candidates.size:,} title-body pairs in {seconds:.0f} s, "
        f"{candidates.size / seconds:.0f} pairs/s on this machine)."
    )
    print(f"BM25 recall@{args.depth} (the ceiling of any reranking): {found.any(axis=1).mean():.3f}\n")
    print("| model's weight (z-scores: BM25 + weight × log P(title given body)) | recall@1 | recall@10 |")
    print("|---|---:|---:|")
    bm25 = standardised(np.take_along_axis(lexical, candidates, axis=1))
    model = standardised(likelihoods)
    for weight in (*WEIGHTS, float("inf")):
        fused = model if weight == float("inf") else bm25 + weight * model
        order = np.argsort(-fused, axis=1, kind="stable")
        ranked = np.take_along_axis(found, order, axis=1)
        rank = np.where(ranked.any(axis=1), ranked.argmax(axis=1), args.depth)
        name = "the model alone" if weight == float("inf") else ("BM25 alone" if weight == 0 else f"{weight:g}")
        print(f"| {name} | {(rank < 1).mean():.3f} | {(rank < 10).mean():.3f} |")


if __name__ == "__main__":
    main()
