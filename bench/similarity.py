"""Similar-issue search on the test split: lexical, encoder and trained embeddings, and their fusion.

    python bench/similarity.py [--model model] [--data ../shared/data/github_issues.jsonl.gz] [--no-readme]

Every method runs on the same test rows of the model's split, in one run:

- title→body retrieval: every test body is indexed, and each issue's own title is the query;
  recall@1, recall@10 and MRR of finding that issue's body among all of them.
- same-repository precision@10 (body→body): the share of a body's 10 nearest other bodies
  that come from its own repository.
- index build time (all test bodies) and the median time of one title query, text to top 10.

Methods: TF-IDF and BM25 (scikit-learn over the raw words), the encoder's final state (today's
`embed`), the encoder outputs mean-pooled over real tokens, the embedding trained by
`train-embedding` (a head on the frozen encoder) and four hybrids: reciprocal rank fusion of BM25's
(or TF-IDF's) and the trained embedding's top 100 (`reciprocal_rank_fusion` from `scale/similarity.py`), and
two score fusions: each method's scores standardised per query and added, the dense one weighted
0.5. The RRF hybrid's MRR counts an issue found below both top-100 lists as not found. The table goes into
bench/README.md between the similarity markers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marked_tables import write_between_markers  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.scale.similarity import (  # noqa: E402
    DENSE_WEIGHT,
    INDEX_TOKEN_PATTERN,
    SparseIndex,
    fused_scores,
    neighbours_within,
    normalize_rows,
    reciprocal_rank_fusion,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
MARKERS = ("<!-- similarity:start -->", "<!-- similarity:end -->")
FUSION_DEPTH = 100
# The dense method's weight in score fusion, the library's; 0.2-0.5 gave the same recall@10 (0.767) with BM25.
SCORE_FUSION_WEIGHT = DENSE_WEIGHT
CHUNK = 512
TIMED_QUERIES = 100
# Words as people search for them: identifiers with dots and underscores stay whole (the library's).
TOKEN_PATTERN = INDEX_TOKEN_PATTERN

# A method scores a chunk of queries against every document: (queries, documents) similarities.
Scorer = Callable[[slice], np.ndarray]


class Bm25:
    """Okapi BM25 on scikit-learn's counts: each document's term weights are computed once, so a
    query's scores are one sparse product."""

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vectorizer = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=True)
        counts = self.vectorizer.fit_transform(documents).tocsr().astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log1p((len(documents) - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9))
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        counts.data = counts.data * (k1 + 1) / (counts.data + norm[rows]) * self.idf[counts.indices]
        self.weights = counts.T.tocsr()

    def scores(self, queries: list[str]) -> np.ndarray:
        # A query word counts once: a title rarely repeats one, and a body query should not
        # weigh a word it repeats above the document side's saturation.
        query = self.vectorizer.transform(queries)
        query.data[:] = 1
        return np.asarray((query @ self.weights).todense(), dtype=np.float32)


def ranks_of_own(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each query (row i of `scores`, its own document `rows[i]`), how many documents score strictly higher."""
    own = scores[np.arange(len(rows)), rows]
    return (scores > own[:, None]).sum(axis=1)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def retrieval(scorer: Scorer, count: int) -> dict[str, float]:
    ranks = np.concatenate(
        [
            ranks_of_own(scorer(slice(start, min(start + CHUNK, count))), np.arange(start, min(start + CHUNK, count)))
            for start in range(0, count, CHUNK)
        ]
    )
    return {
        "r@1": float((ranks < 1).mean()),
        "r@10": float((ranks < 10).mean()),
        "mrr": float((1 / (ranks + 1)).mean()),
    }


def neighbours(scorer: Scorer, count: int, k: int = 10) -> np.ndarray:
    """Each document's `k` nearest other documents (itself left out)."""
    found = []
    for start in range(0, count, CHUNK):
        rows = np.arange(start, min(start + CHUNK, count))
        scores = scorer(slice(rows[0], rows[-1] + 1)).copy()
        scores[np.arange(len(rows)), rows] = -np.inf
        found.append(top_k(scores, k))
    return np.concatenate(found)


def same_repository_precision(found: np.ndarray, repositories: np.ndarray) -> float:
    return float((repositories[found] == repositories[:, None]).mean())


def fused(first: Scorer, second: Scorer, count: int, leave_out_self: bool) -> tuple[dict[str, float], np.ndarray]:
    """RRF of two methods' top `FUSION_DEPTH`: title→body recall and MRR when queries are titles
    (`leave_out_self` False), else each body's 10 fused neighbours."""
    ranks, found = [], []
    for start in range(0, count, CHUNK):
        rows = np.arange(start, min(start + CHUNK, count))
        lists = []
        for scorer in (first, second):
            scores = scorer(slice(rows[0], rows[-1] + 1)).copy()
            if leave_out_self:
                scores[np.arange(len(rows)), rows] = -np.inf
            lists.append(top_k(scores, FUSION_DEPTH))
        for position, row in enumerate(rows):
            order, _ = reciprocal_rank_fusion([lists[0][position], lists[1][position]])
            if leave_out_self:
                found.append(order[:10])
            else:
                hits = np.flatnonzero(order == row)
                ranks.append(hits[0] if hits.size else np.inf)
    if leave_out_self:
        return {}, np.stack(found)
    ranks = np.asarray(ranks, dtype=np.float64)
    metrics = {
        "r@1": float((ranks < 1).mean()),
        "r@10": float((ranks < 10).mean()),
        "mrr": float((1 / (ranks + 1)).mean()),
    }
    return metrics, np.zeros((0, 10), dtype=np.int64)


def standardised_sum(first: Scorer, second: Scorer, weight: float) -> Scorer:
    """A scorer adding `first`'s and `weight` × `second`'s scores, each standardised per query row:
    the library's `fused_scores` (words first, meaning second), as the page and `similar` use it."""
    return lambda part: fused_scores(second(part), first(part), weight)


def median_ms(query: Callable[[str], np.ndarray], titles: list[str]) -> float:
    query(titles[0])  # Compiles or warms what the first call would.
    times = []
    for title in titles[:TIMED_QUERIES]:
        started = time.perf_counter()
        query(title)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def write_into_readme(text: str) -> None:
    write_between_markers(ROOT / "bench" / "README.md", text, MARKERS)


def main() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-readme", action="store_true", help="only print the table")
    args = parser.parse_args()
    summarizer = Summarizer.load(args.model)
    if summarizer.similarity_head is None:
        raise SystemExit(f"{args.model} has no similarity head; run `python -m issue_summarizer train-embedding` first")
    frame = select_rows(load_issues(args.data), "test", RepositorySplit.load(args.model / "split.json"))
    bodies, titles = frame["body"].tolist(), frame["title"].tolist()
    repositories = frame["repo"].to_numpy()
    count = len(frame)
    print(f"{count:,} test issues from {frame['repo'].nunique()} repositories", file=sys.stderr)

    rows: list[tuple[str, dict[str, float], float, float, float]] = []
    scorers: dict[str, tuple[Scorer, Scorer]] = {}

    started = time.perf_counter()
    tfidf = TfidfVectorizer(token_pattern=TOKEN_PATTERN, sublinear_tf=True)
    tfidf_bodies = tfidf.fit_transform(bodies).tocsr()
    tfidf_build = time.perf_counter() - started
    tfidf_titles = tfidf.transform(titles)
    tfidf_t = tfidf_bodies.T.tocsr()
    scorers["TF-IDF"] = (
        lambda part: np.asarray((tfidf_titles[part] @ tfidf_t).todense()),
        lambda part: np.asarray((tfidf_bodies[part] @ tfidf_t).todense()),
    )
    tfidf_ms = median_ms(lambda title: top_k(np.asarray((tfidf.transform([title]) @ tfidf_t).todense()), 10), titles)

    started = time.perf_counter()
    bm25 = Bm25(bodies)
    bm25_build = time.perf_counter() - started
    bm25_title_scores = bm25.scores(titles)
    scorers["BM25"] = (lambda part: bm25_title_scores[part], lambda part: bm25.scores(bodies[part]))
    bm25_ms = median_ms(lambda title: top_k(bm25.scores([title]), 10), titles)

    # One encoder pass gives all three dense embeddings; its time is each one's build time.
    started = time.perf_counter()
    body_features = summarizer.similarity_inputs(bodies)
    encode_build = time.perf_counter() - started
    title_features = summarizer.similarity_inputs(titles)
    dense_builds = {}
    for kind, name in (
        ("final_state", "final state (today's embed)"),
        ("mean_pooled", "mean-pooled encoder outputs"),
        ("trained", "trained embedding (head)"),
    ):
        started = time.perf_counter()
        documents = normalize_rows(summarizer.embed_inputs(body_features, kind))
        dense_builds[name] = encode_build + time.perf_counter() - started
        queries = normalize_rows(summarizer.embed_inputs(title_features, kind))
        scorers[name] = (
            lambda part, q=queries, d=documents: q[part] @ d.T,
            lambda part, d=documents: d[part] @ d.T,
        )

        def query(title: str, kind: str = kind, documents: np.ndarray = documents) -> np.ndarray:
            return top_k(normalize_rows(summarizer.embed([title], kind=kind)) @ documents.T, 10)

        dense_builds[name + " ms"] = median_ms(query, titles)

    for name, (title_scorer, body_scorer) in scorers.items():
        print(f"scoring {name}", file=sys.stderr)
        build = {"TF-IDF": tfidf_build, "BM25": bm25_build}.get(name, dense_builds.get(name))
        ms = {"TF-IDF": tfidf_ms, "BM25": bm25_ms}.get(name, dense_builds.get(name + " ms"))
        precision = same_repository_precision(neighbours(body_scorer, count), repositories)
        rows.append((name, retrieval(title_scorer, count), precision, build, ms))

    print("scoring the hybrid", file=sys.stderr)
    trained = "trained embedding (head)"
    for lexical in ("BM25", "TF-IDF"):
        metrics, _ = fused(scorers[lexical][0], scorers[trained][0], count, leave_out_self=False)
        _, found = fused(scorers[lexical][1], scorers[trained][1], count, leave_out_self=True)
        build = {"BM25": bm25_build, "TF-IDF": tfidf_build}[lexical] + dense_builds[trained]
        ms = {"BM25": bm25_ms, "TF-IDF": tfidf_ms}[lexical] + dense_builds[trained + " ms"]
        name = f"hybrid: RRF of {lexical} and the trained embedding (top {FUSION_DEPTH} each, k=60)"
        rows.append((name, metrics, same_repository_precision(found, repositories), build, ms))

    # Score fusion: each method's scores standardised per query (z-scores), then added with the
    # dense method weighted below the lexical one. Unlike RRF it sees how far ahead a method's
    # best match is, so a confident BM25 match is not pushed down by the dense list.
    for lexical in ("BM25", "TF-IDF"):
        title_scorer = standardised_sum(scorers[lexical][0], scorers[trained][0], SCORE_FUSION_WEIGHT)
        body_scorer = standardised_sum(scorers[lexical][1], scorers[trained][1], SCORE_FUSION_WEIGHT)
        precision = same_repository_precision(neighbours(body_scorer, count), repositories)
        build = {"BM25": bm25_build, "TF-IDF": tfidf_build}[lexical] + dense_builds[trained]
        ms = {"BM25": bm25_ms, "TF-IDF": tfidf_ms}[lexical] + dense_builds[trained + " ms"]
        name = f"hybrid: z-scores of {lexical} + {SCORE_FUSION_WEIGHT} × the trained embedding's"
        rows.append((name, retrieval(title_scorer, count), precision, build, ms))

    # The search the product runs (the Similar issues page, `similar`): its own word index over the
    # cleaned bodies (`SparseIndex`, stop words out), alone and fused with the trained embedding.
    started = time.perf_counter()
    product_index = SparseIndex.fit(bodies)
    product_build = time.perf_counter() - started
    product_titles = product_index.transform(titles)
    product_t = product_index.matrix.T.tocsc()

    def product_words(part: slice) -> np.ndarray:
        return np.asarray((product_titles[part] @ product_t).todense(), dtype=np.float32)

    def product_body_words(part: slice) -> np.ndarray:
        return np.asarray((product_index.matrix[part] @ product_t).todense(), dtype=np.float32)

    product_ms = median_ms(lambda title: top_k(product_index.scores([title]), 10), titles)
    name = "the product's word index alone (`SparseIndex`)"
    precision = same_repository_precision(neighbours(product_body_words, count), repositories)
    rows.append((name, retrieval(product_words, count), precision, product_build, product_ms))
    trained_queries = scorers[trained][0]
    product = standardised_sum(product_words, trained_queries, DENSE_WEIGHT)
    found, _ = neighbours_within(summarizer.embed_inputs(body_features, "trained"), product_index, 10)
    name = "**the product's hybrid** (the page, `similar`): `fused_scores` of that index and the trained embedding"
    rows.append(
        (
            name,
            retrieval(product, count),
            same_repository_precision(found, repositories),
            product_build + dense_builds[trained],
            product_ms + dense_builds[trained + " ms"],
        )
    )

    lines = [
        f"Test split of `model/split.json`: {count:,} issues from {frame['repo'].nunique()} repositories; "
        "title→body retrieval over all test bodies, body→body neighbours for same-repository precision.",
        "",
        "| method | title→body recall@1 | recall@10 | MRR | same-repo precision@10 | index build s | query ms (p50) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, metrics, precision, build, ms in rows:
        lines.append(
            f"| {name} | {metrics['r@1']:.3f} | {metrics['r@10']:.3f} | {metrics['mrr']:.3f} | {precision:.3f} "
            f"| {build:.1f} | {ms:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if not args.no_readme:
        write_into_readme(table)


if __name__ == "__main__":
    main()
