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


def test_reciprocal_rank_fusion_orders_a_hand_made_example():
    # Document 7 is second and first, 3 first and third, 5 third and second, 9 only in one list.
    dense = np.array([3, 7, 5, 9])
    sparse = np.array([7, 5, 3])
    indices, scores = similarity.reciprocal_rank_fusion([dense, sparse], k=60)
    expected = {7: 1 / 62 + 1 / 61, 3: 1 / 61 + 1 / 63, 5: 1 / 63 + 1 / 62, 9: 1 / 64}
    assert indices.tolist() == [7, 3, 5, 9]
    assert scores == pytest.approx([expected[index] for index in indices.tolist()])
    # A larger k flattens the ranks, so a document in both lists beats one that tops a single list.
    indices, _ = similarity.reciprocal_rank_fusion([np.array([1, 2, 3]), np.array([4, 5, 2])], k=60)
    assert indices[0] == 2
    indices, _ = similarity.reciprocal_rank_fusion([np.array([1, 2, 3]), np.array([4, 5, 2])], k=0)
    assert indices[:2].tolist() == [1, 4]


def test_score_fusion_orders_a_hand_made_example():
    # Five issues. Words: issue 1 shares a rare word with the query and stands far out; 2 a little.
    # Meaning: issue 2 is closest, 1 middling, the rest alike.
    words = np.array([[0.0, 0.9, 0.3, 0.0, 0.0]])
    meaning = np.array([[0.2, 0.5, 0.8, 0.2, 0.2]])
    fused = similarity.fused_scores(meaning, words)
    expected = similarity.standardised(words) + 0.5 * similarity.standardised(meaning)
    assert np.allclose(fused, expected)
    # Issue 1's far-out word match outweighs issue 2's better meaning at half weight; the three
    # unrelated issues come last, below 0 (the typical issue).
    assert np.argsort(-fused[0]).tolist()[:2] == [1, 2] and (fused[0, [0, 3, 4]] < 0).all()
    # With meaning weighted as much as words, issue 2 comes first.
    assert np.argmax(similarity.fused_scores(meaning, words, weight=2.0)[0]) == 2
    # A search whose scores are all equal (no word shared with anything) adds nothing.
    flat = similarity.fused_scores(meaning, np.zeros((1, 5)))
    assert np.allclose(flat, 0.5 * similarity.standardised(meaning))
    with pytest.raises(ValueError, match="shape"):
        similarity.fused_scores(meaning, words[:, :3])


def test_reciprocal_rank_fusion_breaks_ties_by_best_rank_then_index_and_checks_its_input():
    indices, scores = similarity.reciprocal_rank_fusion([np.array([4, 2]), np.array([2, 4])])
    assert indices.tolist() == [2, 4] and scores[0] == pytest.approx(scores[1])
    indices, _ = similarity.reciprocal_rank_fusion([np.array([8, 8, 1])])  # A repeat counts once, at its first place.
    assert indices.tolist() == [8, 1]
    assert len(similarity.reciprocal_rank_fusion([np.array([], dtype=np.int64)])[0]) == 0
    with pytest.raises(ValueError, match="at least 0"):
        similarity.reciprocal_rank_fusion([np.array([1])], k=-1)
    with pytest.raises(ValueError, match="document indices"):
        similarity.reciprocal_rank_fusion([np.array([0.5, 1.0])])


BODIES = [
    "The parser crashes on Windows paths with a backslash",
    "Parser crash on Windows when the path has a backslash",
    "Typo in the README installation section",
    "The README has a typo in the docs section",
    "GPU memory leak during training with CUDA",
    "Memory leak on the GPU when training",
]


def test_the_sparse_index_finds_shared_words_and_saves_beside_a_vectors_file(tmp_path):
    index = similarity.SparseIndex.fit(BODIES, rows=np.arange(1, 7))
    indices, scores = index.search(["windows backslash crash", "cuda leak"], 2)
    assert indices.shape == (2, 2) and indices[0, 0] in (0, 1) and indices[1, 0] in (4, 5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    others, _ = index.search_indexed(1)
    assert others[:, 0].tolist() == [1, 0, 3, 2, 5, 4]  # Never the body itself.
    path = similarity.SparseIndex.beside(tmp_path / "vectors.parquet")
    assert path.name == "vectors.parquet.tfidf.npz"
    loaded = similarity.SparseIndex.load(index.save(path), rows=np.arange(1, 7))
    again, again_scores = loaded.search(["windows backslash crash", "cuda leak"], 2)
    assert np.array_equal(again, indices) and np.allclose(again_scores, scores)
    with pytest.raises(ValueError, match="built for other rows"):
        similarity.SparseIndex.load(path, rows=np.arange(2, 8))
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(["x"], 0)


def test_hybrid_neighbours_within_a_file_are_k_other_rows():
    vectors = clustered_vectors(per_cluster=2, clusters=3)
    index = similarity.SparseIndex.fit(BODIES)
    neighbours, scores = similarity.neighbours_within(vectors, index, 3)
    assert neighbours.shape == (6, 3) and scores.shape == (6, 3)
    for row in range(6):
        assert row not in neighbours[row] and len(set(neighbours[row].tolist())) == 3
    # Both searches agree on each body's twin, which therefore comes first, well above the typical row.
    assert neighbours[:, 0].tolist() == [1, 0, 3, 2, 5, 4]
    assert (scores[:, 0] > 1.0).all() and (np.diff(scores, axis=1) <= 0).all()
    with pytest.raises(ValueError, match="6 neighbours need at least 7 issues, and there are 6"):
        similarity.neighbours_within(vectors, index, 6)


def test_cluster_labels_leave_out_short_words_fragments_and_words_every_cluster_shares():
    titles = [
        "error: parser doesn't handle t unicode",
        "parser error on unicode input",
        "bug: docs error typo",
        "docs typo error in readme",
        "gpu error memory leak",
        "memory leak error on gpu",
    ]
    names = similarity.cluster_names(titles, np.array([0, 0, 1, 1, 2, 2]))
    words = [word for name in names.values() for word in name.split(": ", 1)[-1].split()]
    assert words and all(len(word) >= 3 for word in words)
    assert "error" not in words and "doesn" not in words and "t" not in words
    assert names[0].startswith("0: ") and "parser" in names[0] and "typo" in names[1] and "leak" in names[2]


def test_the_pasted_issue_has_a_colour_no_group_uses():
    from issue_summarizer.app import charts

    assert charts.QUERY_COLOUR not in charts.MAP_PALETTE and charts.QUERY_COLOUR != charts.OTHER_GROUP_COLOUR


def test_a_sparse_index_for_an_embeddings_file_follows_its_rows_and_makes_the_file_map_hybrid(tmp_path):
    rows = pd.DataFrame({"repo": ["r"] * 7, "title": [f"t{number}" for number in range(7)], "body": [*BODIES, ""]})
    source = tmp_path / "issues.jsonl"
    rows.to_json(source, orient="records", lines=True)
    vectors_path = tmp_path / "vectors.parquet"
    # As `embed` writes it: row 7 has no body, so no vector; rows are counted from 1.
    pd.DataFrame({"row": [1, 2, 3, 4, 5, 6], "title": rows["title"][:6]}).to_parquet(vectors_path)
    index = similarity.sparse_index_for_vectors(vectors_path, source, chunk_rows=4)
    assert index.rows.tolist() == [1, 2, 3, 4, 5, 6] and len(index) == 6
    assert index.search(["readme typo"], 1)[0][0, 0] in (2, 3)
    loaded = similarity.SparseIndex.load(index.save(similarity.SparseIndex.beside(vectors_path)), rows=index.rows)
    vectors = clustered_vectors(per_cluster=2, clusters=3)
    frame = pd.DataFrame({"row": index.rows, "repo": ["r"] * 6, "title": rows["title"][:6]})
    issue_map = similarity.SimilarityMap(
        frame.assign(body="", x=0.0, y=0.0), similarity.normalize_rows(vectors), None, sparse=loaded
    )
    found = issue_map.neighbours(vectors[4], 3, text="gpu memory leak with cuda")
    assert found["title"].iloc[0] in ("t4", "t5") and found["similarity"].is_monotonic_decreasing
    assert {"meaning_rank", "words_rank"} <= set(found.columns)
    # Another input than the one `embed` read is refused: its rows would not be the file's.
    short = tmp_path / "short.jsonl"
    rows.iloc[:3].to_json(short, orient="records", lines=True)
    with pytest.raises(ValueError, match="3 rows of .* are not in this file"):
        similarity.sparse_index_for_vectors(vectors_path, short)
