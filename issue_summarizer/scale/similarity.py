"""Issues placed by meaning: cosine nearest neighbours and a 2-D UMAP map of encoder states.

The encoder's final state (`Summarizer.embed`) is the vector the decoder writes the title
from, so issues whose states point the same way tend to get similar titles. These are
pure functions of numpy arrays and frames; the Similar issues page caches their results.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from issue_summarizer.data.input_checks import InputError

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
    return [word for word in _WORD.findall(title.lower()) if word not in _IGNORED_WORDS]


def cluster_names(titles: list[str], labels: np.ndarray, words: int = 3) -> dict[int, str]:
    """A short name for each cluster: the words its titles use most, relative to the other clusters.

    Words are weighted as in class-based TF-IDF: frequency in the cluster times the log of
    how rare the word is over all clusters, so words every cluster uses do not name one.
    """
    counts: dict[int, Counter] = {}
    for title, label in zip(titles, labels.tolist(), strict=True):
        counts.setdefault(label, Counter()).update(title_words(title))
    overall = Counter()
    for counter in counts.values():
        overall.update(counter)
    average_words = np.mean([sum(counter.values()) for counter in counts.values()]) if counts else 1.0
    names = {}
    for label, counter in counts.items():
        total = max(sum(counter.values()), 1)
        weights = {
            word: (count / total) * np.log(1 + average_words / overall[word])
            for word, count in counter.items()
            if count >= 2 or len(counter) < words
        }
        best = sorted(weights, key=lambda word: (-weights[word], word))[:words]
        names[label] = f"{label}: {' '.join(best)}" if best else f"{label}"
    return names


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

    def neighbours(self, vector: np.ndarray, count: int = 10) -> pd.DataFrame:
        """The `count` most similar issues to `vector`, most similar first, with a `similarity` column."""
        if self.index is not None and self.everything is not None:
            indices, similarities = self.index.query(vector, count)
            rows = self.everything.iloc[indices].copy()
        else:
            indices, similarities = nearest_neighbours(vector, self.embeddings, count)
            rows = self.frame.iloc[indices].copy()
        rows.insert(0, "similarity", np.round(similarities, 3))
        return rows.reset_index(drop=True)

    def place(self, vector: np.ndarray) -> tuple[float, float]:
        x, y = place_on_map(self.reducer, np.asarray(vector).reshape(1, -1))[0]
        return float(x), float(y)


def build_map(frame: pd.DataFrame, embeddings: np.ndarray, random_state: int = RANDOM_STATE) -> SimilarityMap:
    """Fit a map for `frame`'s rows (which need `repo`, `title` and `body`) from their embeddings."""
    if len(frame) != len(embeddings):
        raise ValueError(f"{len(frame)} rows but {len(embeddings)} embeddings")
    reducer, coordinates = fit_map(embeddings, random_state=random_state)
    points = frame[["repo", "title", "body"]].reset_index(drop=True).copy()
    points["x"] = coordinates[:, 0]
    points["y"] = coordinates[:, 1]
    return SimilarityMap(points, normalize_rows(embeddings), reducer)


def build_file_map(frame: pd.DataFrame, vectors: np.ndarray, random_state: int = RANDOM_STATE) -> SimilarityMap:
    """A map of an embeddings file: UMAP fitted on a sample of `MAP_ROWS` rows, which it draws, and a
    neighbour index over every row, so the search reaches far more issues than the app could embed."""
    if len(frame) != len(vectors):
        raise ValueError(f"{len(frame)} rows but {len(vectors)} vectors")
    everything = frame.reset_index(drop=True).copy()
    for column in ("repo", "title"):
        if column not in everything.columns:
            everything[column] = "unknown" if column == "repo" else ""
    sample = sample_rows(everything.assign(position=np.arange(len(everything))), seed=random_state)
    drawn = build_map(sample.assign(body=""), vectors[sample["position"].to_numpy()], random_state=random_state)
    drawn.index = NeighbourIndex(vectors, random_state=random_state)
    drawn.everything = everything[["repo", "title"]]
    return drawn
