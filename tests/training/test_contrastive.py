"""The similarity head: InfoNCE falls on a tiny fixture, a body's own title ranks first, saving round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from issue_summarizer.training.contrastive import (
    HEAD_FILE,
    HEAD_INFO_FILE,
    WORD_BUCKETS,
    WORD_LENGTH,
    HeadInputs,
    HeadSettings,
    build_head,
    info_nce_loss,
    inverse_document_frequency,
    load_head,
    retrieval_recall,
    save_head,
    train_head,
    word_ids,
)


def pairs(count: int, width: int = 24, seed: int = 0) -> tuple[HeadInputs, HeadInputs]:
    """Bodies and titles that share a hidden topic vector, each seen through its own mixing plus
    noise, so that matching a title to its body has to be learned (raw cosine is a poor guide).
    Their words are common words drawn at random, which say nothing. The mixings are fixed;
    `seed` draws other issues (topics, noise and words)."""
    mixing = np.random.default_rng(100)
    body_mixing, title_mixing = mixing.normal(size=(8, width)), mixing.normal(size=(8, width))
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(count, 8))
    bodies = topics @ body_mixing + 0.3 * rng.normal(size=(count, width))
    titles = topics @ title_mixing + 0.3 * rng.normal(size=(count, width))
    body_words = rng.integers(1, 50, size=(count, 12)).astype(np.int32)
    title_words = rng.integers(1, 50, size=(count, 4)).astype(np.int32)
    return HeadInputs(bodies.astype(np.float32), body_words), HeadInputs(titles.astype(np.float32), title_words)


def predict(head, inputs: HeadInputs) -> np.ndarray:
    return head.predict(inputs.as_model_input(), verbose=0)


def test_loss_is_low_for_matching_pairs_and_high_for_shuffled_ones():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(8, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    matched = float(info_nce_loss(vectors, vectors, 0.1))
    shuffled = float(info_nce_loss(vectors, vectors[::-1].copy(), 0.1))
    assert matched < 0.5 < np.log(8) < shuffled


def test_training_lowers_the_loss_and_ranks_a_body_s_own_title_first():
    train_bodies, train_titles = pairs(512)
    validation_bodies, validation_titles = pairs(64, seed=2)
    decoy_bodies, decoy_titles = pairs(6, seed=1)
    settings = HeadSettings(dimension=16, hidden=64, temperature=0.1, batch_size=64, epochs=8, patience=8)
    head, report = train_head(
        train_bodies, train_titles, validation_bodies, validation_titles, settings, log=lambda _: None
    )
    assert report.losses[-1] < report.losses[0] - 0.5
    # A handful of unseen issues: each title's own body beats the five decoys.
    queries = predict(head, decoy_titles)
    documents = predict(head, decoy_bodies)
    assert retrieval_recall(queries, documents, ks=(1,))[1] >= 5 / 6
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)


def test_the_head_and_its_record_round_trip(tmp_path):
    bodies, titles = pairs(64)
    settings = HeadSettings(dimension=8, hidden=16, batch_size=16, epochs=1, patience=1)
    head, report = train_head(
        bodies, titles, bodies.take(slice(8)), titles.take(slice(8)), settings, log=lambda _: None
    )
    assert load_head(tmp_path) is None
    save_head(tmp_path, head, report)
    loaded, info = load_head(tmp_path)
    assert info["dimension"] == 8 and info["input_dimension"] == 24 and info["temperature"] == settings.temperature
    assert json.loads((tmp_path / HEAD_INFO_FILE).read_text())["train_rows"] == 64
    assert np.allclose(predict(loaded, bodies), predict(head, bodies), atol=1e-6)
    (tmp_path / HEAD_INFO_FILE).unlink()
    with pytest.raises(ValueError, match=HEAD_INFO_FILE):
        load_head(tmp_path)
    assert (tmp_path / HEAD_FILE).exists()


@pytest.mark.parametrize(
    "settings",
    [HeadSettings(temperature=0), HeadSettings(batch_size=1), HeadSettings(dimension=0), HeadSettings(epochs=0)],
)
def test_settings_a_user_gets_wrong_are_refused(settings):
    with pytest.raises(ValueError):
        settings.check()


def test_pairs_must_line_up():
    bodies, titles = pairs(4)
    with pytest.raises(ValueError, match="pair up"):
        train_head(bodies, titles.take(slice(3)), bodies, titles, HeadSettings(batch_size=2), log=lambda _: None)
    with pytest.raises(ValueError, match="a row per text"):
        HeadInputs(bodies.features, bodies.words[:3])


def test_build_head_outputs_unit_vectors():
    head = build_head(24, HeadSettings(dimension=4, hidden=8))
    output = predict(head, pairs(3)[0])
    assert output.shape == (3, 4)
    assert np.allclose(np.linalg.norm(output, axis=1), 1.0, atol=1e-5)


def test_word_ids_hash_raw_words_the_same_way_everywhere():
    ids = word_ids(["TypeError in foo.bar_baz() on Python 3.12", "typeerror", ""])
    assert ids.shape == (3, WORD_LENGTH) and ids.dtype == np.int32
    # Lower-cased, identifiers and versions whole, padding 0, and the same number on every run
    # (CRC-32, not Python's salted hash).
    assert ids[0, 0] == ids[1, 0] != 0 and (ids[0] != 0).sum() == 6 and not ids[2].any()
    assert int(ids[1, 0]) == 1 + __import__("zlib").crc32(b"typeerror") % (WORD_BUCKETS - 1)
    assert (word_ids(["word " * 1000])[0] != 0).sum() == WORD_LENGTH


def test_word_weights_start_at_the_inverse_document_frequency():
    ids = np.array([[1, 2, 0], [1, 0, 0], [1, 3, 3]], dtype=np.int32)
    idf = inverse_document_frequency(ids, 8)
    assert idf[0] == 0 and idf[1] < idf[2] == idf[3] < idf[4]


def test_a_body_s_own_rare_words_find_it():
    """Words alone, with features that say nothing: a title finds its body through the words they share."""
    rng = np.random.default_rng(3)
    count = 256
    topics = rng.integers(100, 30_000, size=count)
    noise = rng.integers(1, 60, size=(count, 10))
    body_words = np.column_stack([topics, noise]).astype(np.int32)
    title_words = np.column_stack([topics, rng.integers(1, 60, size=(count, 2))]).astype(np.int32)
    blank = np.zeros((count, 4), dtype=np.float32)
    bodies, titles = HeadInputs(blank, body_words), HeadInputs(blank, title_words)
    settings = HeadSettings(dimension=16, hidden=8, word_dimension=64, batch_size=64, epochs=10, patience=10)
    head, _ = train_head(bodies, titles, bodies.take(slice(64)), titles.take(slice(64)), settings, log=lambda _: None)
    assert retrieval_recall(predict(head, titles), predict(head, bodies), ks=(1,))[1] > 0.9


@pytest.mark.slow
def test_train_embedding_adds_a_head_that_embed_uses_and_leaves_titles_alone(trained_copy_model, tmp_path, capsys):
    import shutil

    from issue_summarizer.cli.main import main
    from issue_summarizer.inference.summarizer import Summarizer, model_digest
    from issue_summarizer.scale.embedding_file import read_embedding_kind, read_vectors
    from tests.conftest import make_copy_rows, write_jsonl_gz

    model = tmp_path / "model"
    shutil.copytree(trained_copy_model, model)
    rows = make_copy_rows()
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", rows)
    bodies = [row["body"] for row in rows[:5]]
    before = Summarizer.load(model)
    titles, states, digest = before.summarize(bodies), before.embed(bodies), model_digest(model)
    assert before.embedding_kind == "final_state"
    with pytest.raises(ValueError, match="no similarity head"):
        before.embed(bodies, kind="trained")
    argv = ["train-embedding", "--model", str(model), "--data", str(data), "--train-rows", "300"]
    arguments = ["--batch-size", "32", "--dimension", "8", "--epochs", "2", "--cache", str(tmp_path / "cache")]
    assert main([*argv, *arguments]) == 0
    assert "wrote" in capsys.readouterr().out
    after = Summarizer.load(model)
    assert after.embedding_kind == "trained" and after.similarity_info["dimension"] == 8
    # The encoder is frozen: titles and the final state are exactly as before; only `embed`'s default changed.
    assert after.summarize(bodies) == titles
    assert np.array_equal(after.embed(bodies, kind="final_state"), states)
    vectors = after.embed(bodies)
    assert vectors.shape == (5, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert after.embed(bodies, kind="mean_pooled").shape == (5, 2 * after.config.hidden_dim)
    with pytest.raises(ValueError, match="unknown embedding kind"):
        after.embed(bodies, kind="other")
    # Cached vectors keyed by the digest must not outlive the head.
    assert model_digest(model) != digest
    output = tmp_path / "vectors.parquet"
    assert main(["embed", "--model", str(model), "--input", str(data), "--output", str(output), "--limit", "5"]) == 0
    assert read_embedding_kind(output) == "trained"
    assert np.allclose(read_vectors(output)[1], vectors, atol=1e-5)
