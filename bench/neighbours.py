"""Nearest neighbours over many issues: exact cosine search against the pynndescent index.

    python bench/neighbours.py [--vectors vectors.parquet] [--rows 100000] [--queries 200]

With `--vectors` (a file written by `python -m issue_summarizer embed`), the vectors are real
encoder states, repeated with a little noise until there are `--rows` of them; without it, they
are drawn from a mixture of clusters of the model's dimension. Prints the index's build time,
the median and 95th-percentile query time of both searches (10 neighbours, one query at a time,
as the Similar issues page asks) and the index's recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.scale.embedding_file import read_vectors  # noqa: E402
from issue_summarizer.scale.similarity import NeighbourIndex, nearest_neighbours, normalize_rows  # noqa: E402


def make_vectors(args: argparse.Namespace, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    if args.vectors:
        _, real = read_vectors(args.vectors)
        repeats = int(np.ceil(args.rows / len(real)))
        vectors = np.concatenate([real + 0.01 * rng.normal(size=real.shape) for _ in range(repeats)])[: args.rows]
        return vectors.astype(np.float32), f"{len(real):,} encoder states from {args.vectors}, repeated with noise"
    centres = rng.normal(size=(500, args.dimensions))
    vectors = centres[rng.integers(0, 500, args.rows)] + 0.3 * rng.normal(size=(args.rows, args.dimensions))
    return vectors.astype(np.float32), f"a mixture of 500 clusters in {args.dimensions} dimensions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dimensions", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors, source = make_vectors(args, rng)
    queries = vectors[rng.choice(len(vectors), args.queries, replace=False)] + 0.01 * rng.normal(
        size=(args.queries, vectors.shape[1])
    )
    started = time.perf_counter()
    index = NeighbourIndex(vectors)
    build = time.perf_counter() - started
    index.query(queries[0], 10)  # Compiles the query code once.
    normalised = normalize_rows(vectors)
    exact_times, index_times, recall = [], [], []
    for query in queries:
        started = time.perf_counter()
        exact, _ = nearest_neighbours(query, normalised, 10)
        exact_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        found, _ = index.query(query, 10)
        index_times.append(time.perf_counter() - started)
        recall.append(len(set(exact.tolist()) & set(found.tolist())) / 10)
    print(f"{len(vectors):,} vectors ({source}); {args.queries} queries, 10 neighbours each")
    print(f"index built in {build:.1f} s")
    print("| search | p50 ms | p95 ms | recall@10 |")
    print("|---|---:|---:|---:|")
    for name, times, value in (
        ("exact (numpy)", exact_times, 1.0),
        ("pynndescent index", index_times, np.mean(recall)),
    ):
        print(f"| {name} | {np.median(times) * 1000:.2f} | {np.percentile(times, 95) * 1000:.2f} | {value:.3f} |")


if __name__ == "__main__":
    main()
