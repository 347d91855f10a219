import numpy as np
import pandas as pd
import pytest

from issue_summarizer.scale import similarity


def clustered_vectors(per_cluster: int = 20, clusters: int = 3, dimensions: int = 16, seed: int = 0) -> np.ndarray:
    """Points around `clusters` well separated directions."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dimensions)[:clusters] * 5
    return np.concatenate([centre + rng.normal(scale=0.3, size=(per_cluster, dimensions)) for centre in centres])


def test_normalize_rows_gives_unit_vectors_and_survives_zero_rows():
    vectors = similarity.normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(vectors[0], [0.6, 0.8]) and np.allclose(vectors[1], 0.0)


def test_nearest_neighbours_are_ranked_by_cosine_similarity():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [10.0, 1.0], [-1.0, 0.0]])
    indices, similarities = similarity.nearest_neighbours(np.array([2.0, 0.0]), vectors, count=3)
    assert indices.tolist() == [0, 3, 2]
    assert similarities[0] == pytest.approx(1.0) and np.all(np.diff(similarities) <= 0)
    assert len(similarity.nearest_neighbours(np.array([1.0, 0.0]), vectors, count=50)[0]) == 5
    assert len(similarity.nearest_neighbours(np.array([1.0, 0.0]), vectors[:0], count=3)[0]) == 0


def test_sample_rows_is_reproducible_and_keeps_order():
    frame = pd.DataFrame({"value": range(100)})
    first, second = similarity.sample_rows(frame, 10, seed=1), similarity.sample_rows(frame, 10, seed=1)
    assert first.equals(second) and first["value"].is_monotonic_increasing and len(first) == 10
    assert len(similarity.sample_rows(frame, 500)) == 100


def test_repository_groups_keep_the_most_frequent():
    repositories = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]
    assert similarity.repository_groups(repositories, top=2) == ["a"] * 5 + ["b"] * 3 + ["other"] * 3


def test_clusters_are_found_and_numbered_by_size():
    vectors = np.concatenate([clustered_vectors(per_cluster=30, clusters=1), clustered_vectors(per_cluster=10)[10:]])
    labels = similarity.cluster_labels(vectors, 3)
    assert np.bincount(labels).tolist() == sorted(np.bincount(labels).tolist(), reverse=True)
    assert len(set(labels[:30].tolist())) == 1


def test_cluster_names_use_distinctive_title_words():
    titles = ["parser crash on windows", "parser crash with utf8", "docs typo in readme", "typo in the docs"]
    names = similarity.cluster_names(titles, np.array([0, 0, 1, 1]), words=2)
    assert names[0] == "0: crash parser" and names[1] == "1: docs typo"


@pytest.mark.slow
def test_a_map_places_clusters_apart_and_new_points_near_their_cluster():
    vectors = clustered_vectors()
    frame = pd.DataFrame({"repo": ["r"] * len(vectors), "title": ["t"] * len(vectors), "body": ["b"] * len(vectors)})
    issue_map = similarity.build_map(frame, vectors)
    assert list(issue_map.frame.columns) == ["repo", "title", "body", "x", "y"]
    points = issue_map.frame[["x", "y"]].to_numpy()
    centres = points.reshape(3, 20, 2).mean(axis=1)
    spread = np.linalg.norm(points.reshape(3, 20, 2) - centres[:, None], axis=-1).mean()
    assert min(np.linalg.norm(centres[i] - centres[j]) for i, j in [(0, 1), (0, 2), (1, 2)]) > 2 * spread
    x, y = issue_map.place(vectors[5] + 0.01)
    assert np.linalg.norm(np.array([x, y]) - centres[0]) < np.linalg.norm(np.array([x, y]) - centres[1])
    neighbours = issue_map.neighbours(vectors[45], count=5)
    assert neighbours["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-5) and len(neighbours) == 5


def test_a_map_needs_enough_issues():
    from issue_summarizer.data.input_checks import InputError

    # An error the app shows as it is (see `friendly_errors`), not as something that went wrong.
    with pytest.raises(InputError, match="^A map needs at least 10 issues with a readable body, and there are 3"):
        similarity.fit_map(np.zeros((3, 4)))
    with pytest.raises(
        InputError, match="^few.csv: a map needs at least 10 issues with a readable body, and there is 1"
    ):
        similarity.check_map_size(1, "few.csv")
    similarity.check_map_size(10, "enough.csv")
    with pytest.raises(ValueError, match="5 rows but 4 embeddings"):
        similarity.build_map(pd.DataFrame({"repo": [""] * 5, "title": [""] * 5, "body": [""] * 5}), np.zeros((4, 2)))


def test_the_neighbour_index_finds_what_exact_search_finds():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 16))
    vectors = (centres[rng.integers(0, 50, 25_000)] + 0.05 * rng.normal(size=(25_000, 16))).astype(np.float32)
    index = similarity.NeighbourIndex(vectors)
    assert index.index is not None  # Large enough for the approximate index.
    queries = vectors[:50] + 0.01
    recall = []
    for query in queries:
        exact, _ = similarity.nearest_neighbours(query, vectors, 10)
        found, similarities = index.query(query, 10)
        recall.append(len(set(exact) & set(found)) / 10)
        assert np.all(np.diff(similarities) <= 1e-6)
    assert np.mean(recall) >= 0.9
    small = similarity.NeighbourIndex(vectors[:100])
    assert small.index is None and small.query(vectors[5], 3)[0][0] == 5
