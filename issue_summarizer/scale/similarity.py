"""Issues placed by meaning and by words: a hybrid nearest-neighbour search and a 2-D UMAP map.

`Summarizer.embed` places issues by meaning (the dense search, by cosine: the embedding trained
for similarity when the model directory has one). Issues that quote the same error or name the
same function share rare words, which a TF-IDF index over the raw bodies finds (the sparse
search, `SparseIndex`). `fused_scores` merges the two: each search's scores are standardised over
the searched issues and added, meaning at half the weight of words, which in
bench/similarity.py kept TF-IDF's recall and beat its same-repository precision where reciprocal
rank fusion (`reciprocal_rank_fusion`, kept for the benchmark) lost both. The Similar issues page
and the `similar` command use the same fusion. These are pure functions of numpy arrays and
frames; the page caches their results.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.data.input_checks import InputError
from issue_summarizer.training.contrastive import WORD_PATTERN

MAP_ROWS = 2000
INDEX_MIN_ROWS = 20_000  # Below this many vectors an exact search takes a few milliseconds.
MIN_MAP_ROWS = 10
TOP_REPOSITORIES = 10
OTHER_REPOSITORIES = "other"
RANDOM_STATE = 0
_WORD = re.compile(r"[a-z][a-z0-9_+#.\-]*[a-z0-9+#]|[a-z]")
# Words that name no topic: English function words and the cleaner's number placeholder.
_IGNORED_WORDS = frozenset(
    "a an and are as at be but by can cannot could do does doesn't for from has have how i if in into is it "
    "its not of on or should so that the this to use using via was were what when where which while why will "
    "with without xxnum xxcode".split()
)
# What the tokenizer leaves of a contraction ("doesn't" becomes "doesn" and "t"): no topic either.
_CONTRACTION_FRAGMENTS = frozenset(
    "aren couldn didn doesn hadn hasn haven isn mightn mustn needn shan shouldn wasn weren won wouldn".split()
)
MIN_LABEL_LETTERS = 3
# Reciprocal rank fusion's constant: 60 is the value of Cormack, Clarke and Buettcher (2009), which
# keeps one method's first place from outweighing good places in both.
FUSION_K = 60
# The dense search's weight in score fusion, against 1 for words: bench/similarity.py measured
# 0.2 to 0.5 alike with BM25, and 0.5 the best same-repository precision with TF-IDF.
DENSE_WEIGHT = 0.5
SPARSE_INDEX_SUFFIX = ".tfidf.npz"
# The words of the index: those the similarity head hashes (identifiers with inner dots whole).
INDEX_TOKEN_PATTERN = WORD_PATTERN.pattern
# Written into a saved index; an index of another version reads text otherwise and is refused.
SPARSE_INDEX_VERSION = 2
# The columns the `similar` command adds; an input with its own column of one of these names is refused.
SIMILAR_COLUMNS = ("neighbour_rows", "neighbour_scores", "problem")
# The TF-IDF vocabulary is capped so that an index of 100,000 bodies stays a few hundred MB at most;
# the most frequent terms are kept, and a term seen once in the whole file matches no other issue anyway.
SPARSE_MAX_TERMS = 262_144
# Dense rows of scores computed at a time by the sparse and exact searches: about 80 MB of float32.
_SCORES_PER_CHUNK = 20_000_000


def sample_rows(frame: pd.DataFrame, limit: int = MAP_ROWS, seed: int = RANDOM_STATE) -> pd.DataFrame:
    """At most `limit` rows, drawn reproducibly, in their original order."""
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    return frame.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length, so dot products are cosine similarities."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def nearest_neighbours(query: np.ndarray, vectors: np.ndarray, count: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the `count` rows of `vectors` most cosine-similar to `query`, and their similarities."""
    query = normalize_rows(np.asarray(query).reshape(1, -1))[0]
    similarities = normalize_rows(vectors) @ query
    count = min(count, len(similarities))
    if count <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    # argpartition finds the top rows without sorting them all; only those are sorted.
    top = np.argpartition(-similarities, count - 1)[:count]
    top = top[np.argsort(-similarities[top], kind="stable")]
    return top, similarities[top]


def check_map_size(issues: int, source: str | None = None) -> None:
    """Refuse, in words the app shows as they are, to map fewer than `MIN_MAP_ROWS` issues.

    UMAP needs a neighbourhood around every point, so a handful of issues cannot be placed;
    this is a fact about the visitor's data, not a failure, hence `InputError`.
    """
    if issues < MIN_MAP_ROWS:
        message = (
            f"a map needs at least {MIN_MAP_ROWS} issues with a readable body, and there "
            f"{'is' if issues == 1 else 'are'} {issues:,}. Add more issues and try again."
        )
        raise InputError(f"{source}: {message}" if source else message[0].upper() + message[1:])


def fit_map(vectors: np.ndarray, random_state: int = RANDOM_STATE, n_neighbors: int = 15):
    """Fit a 2-D UMAP on the vectors (cosine metric); return the fitted reducer and coordinates."""
    import umap

    vectors = np.asarray(vectors, dtype=np.float32)
    check_map_size(len(vectors))
    reducer = umap.UMAP(
        n_components=2, n_neighbors=min(n_neighbors, len(vectors) - 1), metric="cosine", random_state=random_state
    )
    with warnings.catch_warnings():
        # A fixed random_state makes UMAP single-threaded and it says so; that is the intent.
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        coordinates = reducer.fit_transform(vectors)
    return reducer, np.asarray(coordinates, dtype=np.float32)


def place_on_map(reducer, vectors: np.ndarray) -> np.ndarray:
    """Coordinates of new vectors on a fitted map."""
    vectors = np.asarray(vectors, dtype=np.float32)
    with warnings.catch_warnings():
        # UMAP warns that transform is approximate for points far from the fitted data.
        warnings.filterwarnings("ignore", category=UserWarning)
        return np.asarray(reducer.transform(vectors.reshape(-1, vectors.shape[-1])), dtype=np.float32)


def repository_groups(repositories: pd.Series | list[str], top: int = TOP_REPOSITORIES) -> list[str]:
    """Each row's repository if it is among the `top` most frequent, else "other"."""
    repositories = pd.Series(list(repositories), dtype=str)
    frequent = set(repositories.value_counts().index[:top])
    return [repo if repo in frequent else OTHER_REPOSITORIES for repo in repositories]


def cluster_labels(vectors: np.ndarray, clusters: int, random_state: int = RANDOM_STATE) -> np.ndarray:
    """KMeans clusters of the normalised vectors, numbered by size (0 is the largest)."""
    from sklearn.cluster import KMeans

    vectors = normalize_rows(vectors)
    clusters = max(1, min(clusters, len(vectors)))
    labels = KMeans(n_clusters=clusters, n_init=4, random_state=random_state).fit_predict(vectors)
    by_size = [label for label, _ in Counter(labels.tolist()).most_common()]
    renumber = {label: rank for rank, label in enumerate(by_size)}
    return np.array([renumber[label] for label in labels], dtype=np.int64)


def title_words(title: str) -> list[str]:
    """The words of a title that can name a topic: no function words, no contraction fragments
    ("doesn", "t") and nothing shorter than `MIN_LABEL_LETTERS` letters."""
    return [
        word
        for word in _WORD.findall(title.lower())
        if word not in _IGNORED_WORDS
        and word not in _CONTRACTION_FRAGMENTS
        and sum(character.isalpha() for character in word) >= MIN_LABEL_LETTERS
    ]


def cluster_names(titles: list[str], labels: np.ndarray, words: int = 3) -> dict[int, str]:
    """A short name for each cluster: the words its titles use most, relative to the other clusters.

    Words are weighted as in class-based TF-IDF: frequency in the cluster times the log of
    how rare the word is over all clusters. A word that every cluster uses ("error", "bug")
    would still win in a cluster where it is merely frequent, so with two clusters or more such
    words are left out altogether; so are fragments and words shorter than three letters
    (`title_words`). A cluster with no word left is named by its number alone.
    """
    counts: dict[int, Counter] = {}
    for title, label in zip(titles, np.asarray(labels).tolist(), strict=True):
        counts.setdefault(label, Counter()).update(title_words(title))
    overall: Counter = Counter()
    for counter in counts.values():
        overall.update(counter)
    shared = set.intersection(*(set(counter) for counter in counts.values())) if len(counts) > 1 else set()
    average_words = np.mean([sum(counter.values()) for counter in counts.values()]) if counts else 1.0
    names = {}
    for label, counter in counts.items():
        total = max(sum(counter.values()), 1)
        weights = {
            word: (count / total) * np.log(1 + average_words / overall[word])
            for word, count in counter.items()
            if word not in shared and (count >= 2 or len(counter) < words)
        }
        best = sorted(weights, key=lambda word: (-weights[word], word))[:words]
        names[label] = f"{label}: {' '.join(best)}" if best else f"{label}"
    return names


def reciprocal_rank_fusion(rankings: list[np.ndarray], k: int = FUSION_K) -> tuple[np.ndarray, np.ndarray]:
    """Merge several rankings of the same documents into one, by reciprocal rank fusion.

    Each ranking is an array of document indices, best first (a search's answer, possibly cut
    short). A document placed at rank r (counted from 1) by a ranking earns 1 / (k + r) from it,
    and its fused score is the sum over the rankings; a ranking that does not list it adds
    nothing. Scores are ranks only, never the methods' own similarities, so a cosine and a TF-IDF
    score need no common scale. A larger `k` flattens the difference between first and tenth.

    Returns the indices of every document listed by any ranking, best fused score first, and
    those scores. Ties go to the document with the better best rank, then the lower index, so
    the order is the same on every run. A document listed twice by one ranking counts at its
    first place only. With `n` rankings the highest possible score is n / (k + 1).
    """
    if k < 0:
        raise ValueError(f"the fusion constant k must be at least 0, got {k}")
    documents, contributions, ranks = [], [], []
    for ranking in rankings:
        ranking = np.asarray(ranking)
        if ranking.ndim != 1:
            raise ValueError(f"each ranking must be a 1-D array of document indices, got shape {ranking.shape}")
        if ranking.size == 0:
            continue
        if not np.issubdtype(ranking.dtype, np.integer) or ranking.min() < 0:
            raise ValueError("each ranking must hold document indices: whole numbers of at least 0")
        _, first = np.unique(ranking, return_index=True)
        first = np.sort(first)
        documents.append(ranking[first].astype(np.int64))
        ranks.append(first + 1)
        contributions.append(1.0 / (k + first + 1.0))
    if not documents:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    listed, inverse = np.unique(np.concatenate(documents), return_inverse=True)
    scores = np.bincount(inverse, weights=np.concatenate(contributions), minlength=len(listed))
    best_rank = np.full(len(listed), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best_rank, inverse, np.concatenate(ranks))
    # lexsort sorts by its last key first: the score (descending), then the best rank, then the index.
    order = np.lexsort((listed, best_rank, -scores))
    return listed[order], scores[order]


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row of scores as standard scores over the row: 0 for the row's mean, 1 for one standard
    deviation above it (a row whose scores are all equal gives zeros)."""
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std(axis=-1, keepdims=True)
    return (scores - scores.mean(axis=-1, keepdims=True)) / np.where(spread > 0, spread, 1.0)


def fused_scores(dense: np.ndarray, sparse: np.ndarray, weight: float = DENSE_WEIGHT) -> np.ndarray:
    """The hybrid search's scores: each query row's word scores and meaning scores over all the
    searched issues, standardised and added, meaning at `weight`. A score says how far an issue
    stands above the typical one, in standard deviations: about 0 for an unrelated issue."""
    dense, sparse = np.asarray(dense), np.asarray(sparse)
    if dense.shape != sparse.shape:
        raise ValueError(f"dense scores of shape {dense.shape} and sparse ones of shape {sparse.shape}")
    return standardised(sparse) + weight * standardised(dense)


def _top_of_rows(scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` highest columns of each row of a dense score matrix, highest first."""
    count = min(count, scores.shape[1])
    if count <= 0:
        return np.zeros((len(scores), 0), dtype=np.int64), np.zeros((len(scores), 0), dtype=np.float32)
    top = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    picked = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64), np.take_along_axis(picked, order, axis=1)


def _chunk_rows(documents: int) -> int:
    """Query rows scored together, so that a chunk's dense scores stay near `_SCORES_PER_CHUNK` values."""
    return max(1, _SCORES_PER_CHUNK // max(documents, 1))


def index_texts(bodies: Sequence[object]) -> list[str]:
    """Bodies as the word index reads them: raw, so that code, error messages, version numbers and
    links count (the model's cleaner folds them into placeholders, which cost a fifth of the
    same-repository precision in bench/similarity.py); anything not text matches nothing."""
    return [body if isinstance(body, str) else "" for body in bodies]


class SparseIndex:
    """TF-IDF over raw bodies, fitted once, searched by cosine similarity of the weighted words.

    It finds what the encoder's vector blurs: the same error message, function or option name.
    `save` writes it as one numpy archive (no pickle, so loading runs no code from the file);
    `beside(vectors_path)` names the archive that goes with an embeddings file written by `embed`,
    whose rows it must follow one for one (its `rows` are that file's `row` numbers).
    """

    def __init__(self, vectorizer, matrix, rows: np.ndarray | None = None) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix.tocsr().astype(np.float32)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    @staticmethod
    def _vectorizer(vocabulary: dict[str, int] | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        # Sublinear term frequency keeps a log pasted twenty times from outweighing the prose, and
        # the inverse document frequency weighs common words down (removing English stop words as
        # well cost recall in bench/similarity.py: 0.711 against 0.721). Words are read as people
        # search for them: identifiers with dots and underscores ("torch.cuda", "foo_bar") whole.
        return TfidfVectorizer(
            lowercase=True,
            token_pattern=INDEX_TOKEN_PATTERN,
            sublinear_tf=True,
            max_features=None if vocabulary is not None else SPARSE_MAX_TERMS,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    @classmethod
    def fit(cls, bodies: Sequence[object], rows: np.ndarray | None = None) -> SparseIndex:
        """Fit on `bodies` (raw text; cleaned here). `rows` names each body's row in its file, if any."""
        if rows is not None and len(rows) != len(bodies):
            raise ValueError(f"{len(bodies)} bodies but {len(rows)} row numbers")
        cleaned = index_texts(bodies)
        vectorizer = cls._vectorizer()
        try:
            matrix = vectorizer.fit_transform(cleaned)
        except ValueError:
            # No body has a word at all: an index that matches nothing.
            from scipy import sparse

            vectorizer = cls._vectorizer({"xxnothing": 0})
            vectorizer.idf_ = np.ones(1, dtype=np.float32)
            matrix = sparse.csr_matrix((len(cleaned), 1), dtype=np.float32)
        return cls(vectorizer, matrix, rows)

    def transform(self, texts: Sequence[object]):
        return self.vectorizer.transform(index_texts(texts)).astype(np.float32)

    def _search_matrix(self, queries, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        documents = self.matrix.T.tocsc()
        indices, scores = [], []
        step = _chunk_rows(len(self))
        for start in range(0, queries.shape[0], step):
            block = np.asarray((queries[start : start + step] @ documents).todense(), dtype=np.float32)
            if exclude is not None:
                # A document is not its own neighbour: its score is put below every real one.
                block[np.arange(len(block)), exclude[start : start + step]] = -np.inf
            top, values = _top_of_rows(block, k)
            indices.append(top)
            scores.append(values)
        if not indices:
            return np.zeros((0, min(k, len(self))), dtype=np.int64), np.zeros((0, min(k, len(self))), dtype=np.float32)
        return np.concatenate(indices), np.concatenate(scores).astype(np.float32)

    def scores(self, texts: Sequence[object]) -> np.ndarray:
        """Each text's TF-IDF cosine with every indexed body: an array of shape (len(texts), len(self))."""
        return np.asarray((self.transform(texts) @ self.matrix.T).todense(), dtype=np.float32)

    def search(self, texts: Sequence[object], k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each text, the positions of the `k` most similar indexed bodies (best first) and
        their cosine similarities in TF-IDF space (0 when no word is shared): two arrays of shape
        (len(texts), min(k, len(self)))."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return self._search_matrix(self.transform(texts), k)

    def search_indexed(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each indexed body, the `k` most similar OTHER indexed bodies, never itself."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return self._search_matrix(self.matrix, min(k, len(self) - 1), exclude=np.arange(len(self)))

    @staticmethod
    def beside(vectors_path: str | Path) -> Path:
        """Where the sparse index of an embeddings file is kept: `vectors.parquet.tfidf.npz`."""
        vectors_path = Path(vectors_path)
        return vectors_path.with_name(vectors_path.name + SPARSE_INDEX_SUFFIX)

    def save(self, path: str | Path) -> Path:
        """Write the index to `path` (a `.npz` archive) and return the path."""
        from issue_summarizer.atomic_files import write_atomically

        path = Path(path)
        terms = self.vectorizer.get_feature_names_out().astype(str)
        arrays = {
            "data": self.matrix.data,
            "indices": self.matrix.indices,
            "indptr": self.matrix.indptr,
            "shape": np.array(self.matrix.shape, dtype=np.int64),
            "idf": np.asarray(self.vectorizer.idf_, dtype=np.float32),
            "terms": terms,
            "rows": self.rows if self.rows is not None else np.zeros(0, dtype=np.int64),
            "version": np.array(SPARSE_INDEX_VERSION, dtype=np.int64),
        }

        def write(temporary: Path) -> None:
            # A file object, because `savez` given a name adds ".npz" to it.
            with temporary.open("wb") as handle:
                np.savez_compressed(handle, **arrays)

        write_atomically(path, write)
        return path

    @classmethod
    def load(cls, path: str | Path, rows: np.ndarray | None = None) -> SparseIndex:
        """Read an index written by `save`. With `rows` (an embeddings file's `row` column), refuse an
        index built for other rows, whose positions would name the wrong issues."""
        from scipy import sparse

        try:
            with np.load(path, allow_pickle=False) as archive:
                matrix = sparse.csr_matrix(
                    (archive["data"], archive["indices"], archive["indptr"]), shape=tuple(archive["shape"])
                )
                terms, idf, saved_rows = archive["terms"], archive["idf"], archive["rows"]
                version = int(archive["version"]) if "version" in archive.files else 1
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a readable sparse index: {error}") from None
        if version != SPARSE_INDEX_VERSION:
            raise ValueError(f"{path}: a word index of an older version, which reads text otherwise; run `embed` again")
        vectorizer = cls._vectorizer({str(term): position for position, term in enumerate(terms)})
        vectorizer.idf_ = idf
        if rows is not None and (len(saved_rows) != len(rows) or not np.array_equal(saved_rows, rows)):
            raise ValueError(f"{path}: this sparse index was built for other rows than its embeddings file")
        return cls(vectorizer, matrix, saved_rows if len(saved_rows) else None)


def sparse_index_for_vectors(
    vectors_path: str | Path,
    source: str | Path,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    chunk_rows: int = 50_000,
) -> SparseIndex:
    """The word index of an embeddings file, fitted on the bodies of the rows it holds, in its order.

    `source` (with `preset` and `mapping`) is the input `embed` read to write `vectors_path`; the
    file's `row` column names the input rows to take. Save the result with
    `index.save(SparseIndex.beside(vectors_path))` and the Similar issues page searches the file
    by meaning and by words. The input is read in chunks, so only the bodies kept are held.
    """
    import pyarrow.parquet as parquet

    from issue_summarizer.data.loading import issues_from_table, read_chunks

    try:
        rows = parquet.read_table(vectors_path, columns=["row"]).column("row").to_numpy().astype(np.int64)
    except Exception as error:  # pyarrow raises many types for a missing column or a corrupt file.
        raise ValueError(f"{vectors_path}: not an embeddings file with a 'row' column: {error}") from None
    wanted = set(rows.tolist())
    bodies: dict[int, str] = {}
    first = 1
    for raw in read_chunks(source, chunk_rows):
        loaded = issues_from_table(
            raw, source, preset, mapping, require_title=False, drop_bad_rows=False, first_row=first
        )
        for number, body in enumerate(loaded.frame["body"].tolist(), start=first):
            if number in wanted:
                bodies[number] = body if isinstance(body, str) else ""
        first += len(raw)
    missing = len(wanted) - len(bodies)
    if missing:
        raise ValueError(
            f"{source}: {missing:,} rows of {vectors_path} are not in this file; give the input `embed` read"
        )
    return SparseIndex.fit([bodies[number] for number in rows.tolist()], rows=rows)


def neighbours_within(
    vectors: np.ndarray, sparse: SparseIndex, count: int, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each of n issues, the positions of its `count` nearest OTHER issues by the hybrid search
    (`fused_scores` over all n), and their fused scores: two arrays of shape (n, count).

    Every issue is scored against every other, a block of rows at a time, so memory stays near
    `_SCORES_PER_CHUNK` numbers whatever n; the time grows with n². `progress` is told how many
    issues each block finished. Raises ValueError when there are not `count` other issues to name.
    """
    if len(vectors) != len(sparse):
        raise ValueError(f"{len(vectors)} vectors but {len(sparse)} indexed bodies")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if len(vectors) < count + 1:
        raise ValueError(f"{count} neighbours need at least {count + 1} issues, and there are {len(vectors)}")
    vectors = normalize_rows(vectors)
    documents = sparse.matrix.T.tocsc()
    indices, scores = [], []
    step = _chunk_rows(len(vectors))
    for start in range(0, len(vectors), step):
        rows = np.arange(start, min(start + step, len(vectors)))
        words = np.asarray((sparse.matrix[rows] @ documents).todense(), dtype=np.float32)
        fused = fused_scores(vectors[rows] @ vectors.T, words)
        # An issue is not its own neighbour; its own score still counts in the standardising, as
        # it does for a pasted issue that is in the collection.
        fused[np.arange(len(rows)), rows] = -np.inf
        top, values = _top_of_rows(fused, count)
        indices.append(top)
        scores.append(values)
        if progress is not None:
            progress(len(rows))
    return np.concatenate(indices), np.concatenate(scores)


class NeighbourIndex:
    """Approximate cosine nearest neighbours over many vectors: a pynndescent graph (which umap-learn
    installs), built once; below `INDEX_MIN_ROWS` vectors an exact search is as fast and is used instead."""

    def __init__(self, vectors: np.ndarray, random_state: int = RANDOM_STATE) -> None:
        self.vectors = normalize_rows(vectors)
        self.index = None
        if len(self.vectors) >= INDEX_MIN_ROWS:
            import pynndescent

            self.index = pynndescent.NNDescent(self.vectors, metric="cosine", random_state=random_state)
            self.index.prepare()

    def query(self, vector: np.ndarray, count: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the `count` nearest vectors and their cosine similarities, most similar first."""
        if self.index is None:
            return nearest_neighbours(vector, self.vectors, count)
        indices, distances = self.index.query(normalize_rows(np.asarray(vector).reshape(1, -1)), k=count)
        return indices[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)

    def query_many(self, vectors: np.ndarray, count: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """`query` for each row of `vectors` at once: two arrays of shape (len(vectors), count)."""
        vectors = normalize_rows(vectors)
        if self.index is None:
            results = [nearest_neighbours(vector, self.vectors, count) for vector in vectors]
            return np.stack([found for found, _ in results]), np.stack([values for _, values in results])
        indices, distances = self.index.query(vectors, k=count)
        return indices.astype(np.int64), (1.0 - distances).astype(np.float32)


@dataclass
class SimilarityMap:
    """A sample of issues with their normalised embeddings, map coordinates and the fitted reducer.

    With `index` and `everything`, neighbours are searched among all the issues of an embeddings
    file, while the map draws the sample it was fitted on.
    """

    frame: pd.DataFrame  # repo, title, body, x, y
    embeddings: np.ndarray
    reducer: object
    index: NeighbourIndex | None = None
    everything: pd.DataFrame | None = None  # repo, title of every indexed issue
    # TF-IDF over the searched issues' bodies (the sample's, or every file row's when an index was
    # saved beside the embeddings file); without it the search is by meaning alone.
    sparse: SparseIndex | None = None

    @property
    def hybrid(self) -> bool:
        return self.sparse is not None

    def _dense_ranking(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        if self.index is not None and self.everything is not None:
            return self.index.query(vector, count)
        return nearest_neighbours(vector, self.embeddings, count)

    def _rows(self) -> pd.DataFrame:
        return self.everything if self.index is not None and self.everything is not None else self.frame

    def neighbours(self, vector: np.ndarray, count: int = 10, text: str | None = None) -> pd.DataFrame:
        """The `count` most similar issues to `vector` (and `text`), most similar first.

        With a sparse index and the query's `text`, the search is hybrid (`fused_scores` over every
        searched issue): `similarity` is the fused score, in standard deviations above the typical
        issue, and `meaning_rank` and `words_rank` say where each search alone placed the issue
        (counted from 1; `words_rank` is 0 when the issue shares no word with the query).
        Without them, `similarity` is the cosine rescaled (`rescaled_cosine`) and `cosine` the raw one.
        """
        rows = self._rows()
        if self.sparse is None or text is None:
            indices, similarities = self._dense_ranking(vector, count)
            found = rows.iloc[indices].copy()
            found.insert(0, "cosine", np.round(similarities, 3))
            found.insert(0, "similarity", np.round(self.rescaled_cosine(vector, similarities), 3))
            return found.reset_index(drop=True)
        searched = self.index.vectors if self.index is not None and self.everything is not None else self.embeddings
        meaning = searched @ normalize_rows(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        words = self.sparse.scores([text])[0]
        fused = fused_scores(meaning[None, :], words[None, :])
        indices, scores = (part[0] for part in _top_of_rows(fused, count))
        found = rows.iloc[indices].copy()
        found.insert(0, "words_rank", [_rank(words, index) if words[index] > 0 else 0 for index in indices])
        found.insert(0, "meaning_rank", [_rank(meaning, index) for index in indices])
        found.insert(0, "similarity", np.round(scores, 2))
        return found.reset_index(drop=True)

    def rescaled_cosine(self, vector: np.ndarray, similarities: np.ndarray) -> np.ndarray:
        """Cosines stretched so that 0 is the query's median cosine to the mapped issues and 1 is identical.

        The encoder's states all point roughly one way, so raw cosines of near and far issues
        differ in the second decimal; measured from the typical issue, they spread over 0 to 1.
        """
        typical = float(np.median(self.embeddings @ normalize_rows(np.asarray(vector).reshape(1, -1))[0]))
        return np.clip((np.asarray(similarities) - typical) / max(1.0 - typical, 1e-6), 0.0, 1.0)

    def place(self, vector: np.ndarray) -> tuple[float, float]:
        x, y = place_on_map(self.reducer, np.asarray(vector).reshape(1, -1))[0]
        return float(x), float(y)


def _rank(scores: np.ndarray, index: int) -> int:
    """Where issue `index` stands by `scores`, counted from 1 (ties in its favour)."""
    return int((scores > scores[index]).sum()) + 1


def build_map(
    frame: pd.DataFrame, embeddings: np.ndarray, random_state: int = RANDOM_STATE, sparse: bool = True
) -> SimilarityMap:
    """Fit a map for `frame`'s rows (which need `repo`, `title` and `body`) from their embeddings.

    With `sparse` and bodies to read, a TF-IDF index of the bodies makes the search hybrid."""
    if len(frame) != len(embeddings):
        raise ValueError(f"{len(frame)} rows but {len(embeddings)} embeddings")
    reducer, coordinates = fit_map(embeddings, random_state=random_state)
    points = frame[["repo", "title", "body"]].reset_index(drop=True).copy()
    points["x"] = coordinates[:, 0]
    points["y"] = coordinates[:, 1]
    has_bodies = sparse and bool(points["body"].astype(str).str.strip().ne("").any())
    index = SparseIndex.fit(points["body"].tolist()) if has_bodies else None
    return SimilarityMap(points, normalize_rows(embeddings), reducer, sparse=index)


def build_file_map(
    frame: pd.DataFrame, vectors: np.ndarray, random_state: int = RANDOM_STATE, sparse: SparseIndex | None = None
) -> SimilarityMap:
    """A map of an embeddings file: UMAP fitted on a sample of `MAP_ROWS` rows, which it draws, and a
    neighbour index over every row, so the search reaches far more issues than the app could embed.
    `sparse`, the index saved beside the file (`SparseIndex.beside`), makes the search hybrid."""
    if sparse is not None and len(sparse) != len(vectors):
        raise ValueError(f"{len(vectors)} vectors but a sparse index of {len(sparse)} bodies")
    if len(frame) != len(vectors):
        raise ValueError(f"{len(frame)} rows but {len(vectors)} vectors")
    everything = frame.reset_index(drop=True).copy()
    for column in ("repo", "title"):
        if column not in everything.columns:
            everything[column] = "unknown" if column == "repo" else ""
    sample = sample_rows(everything.assign(position=np.arange(len(everything))), seed=random_state)
    drawn = build_map(
        sample.assign(body=""), vectors[sample["position"].to_numpy()], random_state=random_state, sparse=False
    )
    drawn.index = NeighbourIndex(vectors, random_state=random_state)
    drawn.everything = everything[["repo", "title"]]
    drawn.sparse = sparse
    return drawn
