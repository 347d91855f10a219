"""Can lexical search learn the words a title uses and its body does not? Issue 27, round 4.

    python bench/lexical_gap.py [--model model] [--data ../shared/data/github_issues.jsonl.gz]

Title→body retrieval on the test split, as in `bench/similarity.py` (every test body indexed,
each issue's title the query, recall@1, recall@10 and MRR). Three rounds showed that the issues
BM25 misses are those whose title shares few words with the body. Two classic remedies for that
vocabulary gap, both cheap on CPU:

- **Document expansion** (doc2query, Nogueira et al. 2019): each body is indexed together with
  the titles the summarizer writes for it (the best, or all 4 beams).
- **A translation language model** (Berger & Lafferty 1999; Xue, Jeon & Croft 2008): IBM
  Model 1 learns t(title word | body word) from the train split's (title, body) pairs with 5 EM
  iterations; a body d scores a title Q by Σ_q log((1 − λ)·[β·Σ_w t(q|w)·P(w|d) + (1 − β)·P(q|d)]
  + λ·P(q|collection)). λ, β and the fusion weight were chosen on the validation split (a grid
  over β 0–0.8, λ 0.1–0.7 and weights 0.25–10, in a one-off run): λ 0.5 and β 0.6 alone; λ 0.3,
  β 0.6 and weight 4 fused with BM25 as z-scores.

Prints a table; the study is in docs/experiments/similarity.md (round 4).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from similarity import DEFAULT_DATA, TOKEN_PATTERN, Bm25, ranks_of_own  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.scale.similarity import standardised  # noqa: E402

TITLE_WORDS, BODY_WORDS = 30_000, 50_000
# A body's words that take part in the alignment: its 100 highest by tf-idf (long logs would
# otherwise dominate the pairs), plus the empty word that explains title words nothing else does.
WORDS_PER_BODY = 100
ITERATIONS = 5
SMALLEST_TRANSLATION = 1e-3
ALONE = {"smoothing": 0.5, "translation_share": 0.6}
FUSED = {"smoothing": 0.3, "translation_share": 0.6}
FUSION_WEIGHT = 4.0


def counter(**settings):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=True, dtype=np.float32, **settings)


def frequent_words(texts: list[str], count: int) -> dict[str, int]:
    """The `count` words (2 characters or more) in most texts, numbered from 0."""
    vectorizer = counter(binary=True)
    documents = np.asarray(vectorizer.fit_transform(texts).sum(axis=0)).ravel()
    names = vectorizer.get_feature_names_out()
    order = [index for index in np.argsort(-documents, kind="stable") if len(names[index]) >= 2][:count]
    return {names[index]: number for number, index in enumerate(order)}


def train_translations(titles: list[str], bodies: list[str]) -> tuple[sparse.csr_matrix, dict, dict]:
    """IBM Model 1: t(title word | body word) as a (title words × body words) matrix, with both vocabularies."""
    title_vocabulary, body_vocabulary = frequent_words(titles, TITLE_WORDS), frequent_words(bodies, BODY_WORDS)
    title_words = counter(vocabulary=title_vocabulary, binary=True).transform(titles).tocsr()
    body_words = counter(vocabulary=body_vocabulary).transform(bodies).tocsr()
    idf = np.log(body_words.shape[0] / (1 + np.bincount(body_words.indices, minlength=len(body_vocabulary))))
    empty = len(body_vocabulary)
    queried, sources, weights, groups = [], [], [], []
    group = 0
    for row in range(len(titles)):
        targets = title_words.indices[title_words.indptr[row] : title_words.indptr[row + 1]]
        if not len(targets):
            continue
        words = body_words.indices[body_words.indptr[row] : body_words.indptr[row + 1]]
        counts = body_words.data[body_words.indptr[row] : body_words.indptr[row + 1]]
        if len(words) > WORDS_PER_BODY:
            keep = np.argsort(-(1 + np.log(counts)) * idf[words])[:WORDS_PER_BODY]
            words, counts = words[keep], counts[keep]
        words, counts = np.append(words, empty), np.append(counts, 1.0)
        queried.append(np.repeat(targets, len(words)))
        sources.append(np.tile(words, len(targets)))
        weights.append(np.tile(counts, len(targets)))
        groups.append(np.repeat(np.arange(group, group + len(targets)), len(words)))
        group += len(targets)
    pairs, pair_of = np.unique(
        np.concatenate(queried).astype(np.int64) * (empty + 1) + np.concatenate(sources), return_inverse=True
    )
    weights, groups = np.concatenate(weights), np.concatenate(groups)
    source_of, target_of = pairs % (empty + 1), pairs // (empty + 1)
    translation = np.ones(len(pairs))
    for _ in range(ITERATIONS):
        # E step: each title word's alignment over its body's words; M step: normalise per body word.
        alignment = translation[pair_of] * weights
        expected = np.bincount(pair_of, alignment / np.bincount(groups, alignment)[groups], minlength=len(pairs))
        translation = expected / np.bincount(source_of, expected, minlength=empty + 1)[source_of]
    keep = (source_of < empty) & (translation >= SMALLEST_TRANSLATION)
    matrix = sparse.csr_matrix(
        (translation[keep], (target_of[keep], source_of[keep])), shape=(len(title_vocabulary), len(body_vocabulary))
    )
    return matrix, title_vocabulary, body_vocabulary


def translation_parts(translations, title_vocabulary, body_vocabulary, titles, bodies) -> tuple:
    """What every setting of the translation model reads, for each title word (2 characters or
    more) and body: the titles' words, P(q | d) read directly and through translation, and P(q | C)."""
    title_vectorizer = counter(binary=True)
    queries = title_vectorizer.fit_transform(titles).tocsr()
    query_words = title_vectorizer.get_feature_names_out()
    kept = np.flatnonzero([len(word) >= 2 for word in query_words])
    queries, query_words = queries[:, kept], query_words[kept]
    body_vectorizer = counter()
    body_counts = body_vectorizer.fit_transform(bodies).tocsr()
    body_words = body_vectorizer.get_feature_names_out()
    shares = sparse.diags(1 / (np.asarray(body_counts.sum(axis=1)).ravel() + 1e-9)) @ body_counts  # P(w | d)
    collection = np.asarray(body_counts.sum(axis=0)).ravel() / body_counts.sum()
    # Only the title words matter: one row each, of P(q | d) read directly and through translation.
    column_of = {word: column for column, word in enumerate(body_words)}
    in_bodies = np.array([column_of.get(word, -1) for word in query_words])
    found = in_bodies >= 0
    direct = np.zeros((len(query_words), len(bodies)), dtype=np.float32)
    direct[found] = shares[:, in_bodies[found]].T.toarray()
    model_column = np.array([body_vocabulary.get(word, -1) for word in body_words])
    known = np.flatnonzero(model_column >= 0)
    to_model = sparse.csr_matrix(
        (np.ones(len(known), dtype=np.float32), (np.arange(len(known)), model_column[known])),
        shape=(len(known), len(body_vocabulary)),
    )
    model_shares = (shares[:, known] @ to_model).tocsr()  # bodies × the model's body words
    model_row = np.array([title_vocabulary.get(word, -1) for word in query_words])
    translatable = model_row >= 0
    spread = np.zeros_like(direct)
    spread[translatable] = (translations[model_row[translatable]] @ model_shares.T).toarray()
    background = np.zeros(len(query_words), dtype=np.float32)
    background[found] = collection[in_bodies[found]]
    return queries, direct, spread, background


def translation_scores(parts: tuple, smoothing: float, translation_share: float) -> np.ndarray:
    """(titles × bodies) log-likelihood scores of the translation model, less each title's own constant."""
    queries, direct, spread, background = parts
    mixture = translation_share * spread + (1 - translation_share) * direct
    # log((1 − λ)·mixture + λ·P(q|C)) less log(λ·P(q|C)), which is the same for every body.
    per_word = np.log((1 - smoothing) * mixture / (background[:, None] + 1e-8) + smoothing) - np.log(smoothing)
    return np.asarray(queries @ per_word, dtype=np.float32)


def metrics(scores: np.ndarray) -> str:
    ranks = ranks_of_own(scores, np.arange(len(scores)))
    return f"{(ranks < 1).mean():.3f} | {(ranks < 10).mean():.3f} | {(1 / (ranks + 1)).mean():.3f}"


def main() -> None:
    from issue_summarizer.inference.summarizer import Summarizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    issues = load_issues(args.data)
    split = RepositorySplit.load(args.model / "split.json")
    train, test = select_rows(issues, "train", split), select_rows(issues, "test", split)
    titles, bodies = test["title"].tolist(), test["body"].tolist()

    started = time.perf_counter()
    translations, title_vocabulary, body_vocabulary = train_translations(
        train["title"].tolist(), train["body"].tolist()
    )
    trained = time.perf_counter() - started
    started = time.perf_counter()
    written = [
        [title for title, _ in alternatives]
        for alternatives in Summarizer.load(args.model).generate(bodies, num_alternatives=4)
    ]
    generated = time.perf_counter() - started
    expanded = [body + "\n" + "\n".join(alternatives) for body, alternatives in zip(bodies, written, strict=True)]

    bm25 = Bm25(bodies).scores(titles)
    best_only = [body + "\n" + alternatives[0] for body, alternatives in zip(bodies, written, strict=True)]
    bm25_best = Bm25(best_only).scores(titles)
    bm25_expanded = Bm25(expanded).scores(titles)
    model = (translations, title_vocabulary, body_vocabulary, titles)
    over_bodies = translation_parts(*model, bodies)
    alone = translation_scores(over_bodies, **ALONE)
    for_fusion = translation_scores(over_bodies, **FUSED)
    for_fusion_expanded = translation_scores(translation_parts(*model, expanded), **FUSED)
    weight = FUSION_WEIGHT
    rows = [
        ("BM25 (the baseline)", bm25),
        ("BM25 over body + the summarizer's best title", bm25_best),
        ("BM25 over body + its 4 beam titles", bm25_expanded),
        ("translation model alone (λ 0.5, β 0.6)", alone),
        (
            f"z(BM25) + {weight:g} × z(translation model, λ 0.3, β 0.6)",
            standardised(bm25) + weight * standardised(for_fusion),
        ),
        (
            "the same, both over body + 4 beam titles",
            standardised(bm25_expanded) + weight * standardised(for_fusion_expanded),
        ),
    ]
    print(
        f"{len(titles):,} test titles over {len(bodies):,} test bodies. IBM Model 1 on {len(train):,} train pairs: "
        f"{trained:.0f} s, {translations.nnz:,} translations; 4 beam titles per test body: {generated:.0f} s.\n"
    )
    print("| method | recall@1 | recall@10 | MRR |")
    print("|---|---:|---:|---:|")
    for name, scores in rows:
        print(f"| {name} | {metrics(scores)} |")


if __name__ == "__main__":
    main()
