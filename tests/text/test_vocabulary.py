import pytest

from issue_summarizer.text.vocabulary import END_ID, PAD_ID, RARE_ID, START_ID, Vocabulary

DOCUMENTS = [["the", "parser", "crashes"], ["the", "cache", "leaks"], ["the", "parser", "hangs"]]


def test_reserved_ids():
    body = Vocabulary.fit(DOCUMENTS, with_markers=False)
    title = Vocabulary.fit(DOCUMENTS, with_markers=True)
    assert body.tokens[:2] == ["<pad>", "<rare>"] and (PAD_ID, RARE_ID) == (0, 1)
    assert title.tokens[START_ID] == "<start>" and title.tokens[END_ID] == "<end>"


def test_top_n_and_min_count():
    top = Vocabulary.fit(DOCUMENTS, with_markers=False, max_size=4)
    assert top.tokens == ["<pad>", "<rare>", "the", "parser"]
    frequent = Vocabulary.fit(DOCUMENTS, with_markers=False, min_count=2)
    assert frequent.tokens == ["<pad>", "<rare>", "the", "parser"]


def test_ties_are_broken_alphabetically_so_fitting_is_deterministic():
    vocabulary = Vocabulary.fit([["b", "a", "c"]], with_markers=False)
    assert vocabulary.tokens[2:] == ["a", "b", "c"]


def test_encode_decode_round_trip_with_markers_and_rare_words():
    title = Vocabulary.fit(DOCUMENTS, with_markers=True)
    ids = title.encode(["the", "unknownword", "parser"])
    assert ids[0] == START_ID and ids[-1] == END_ID and RARE_ID in ids
    assert title.decode(ids) == ["the", "parser"]
    assert title.decode(ids, show_rare=True) == ["the", "<rare>", "parser"]
    assert title.decode(title.encode(["the", "parser"]) + [PAD_ID, PAD_ID]) == ["the", "parser"]


def test_json_round_trip_is_exact(tmp_path):
    vocabulary = Vocabulary.fit(DOCUMENTS + [["ünïcode", "😀", "数据"]], with_markers=True)
    vocabulary.save(tmp_path / "v.json")
    loaded = Vocabulary.load(tmp_path / "v.json")
    assert loaded == vocabulary
    assert loaded.encode(["数据", "😀"]) == vocabulary.encode(["数据", "😀"])


def test_bad_files_and_arguments(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")
    # Valid JSON that is not a vocabulary: the message names the file, as the app shows it.
    (tmp_path / "title_vocabulary.json").write_text("{}")
    with pytest.raises(ValueError, match=r"title_vocabulary\.json: not a vocabulary: missing field 'tokens'"):
        Vocabulary.load(tmp_path / "title_vocabulary.json")
    with pytest.raises(ValueError):
        Vocabulary(["a", "b"], with_markers=False)
    with pytest.raises(ValueError):
        Vocabulary.fit(DOCUMENTS, with_markers=False, max_size=2)
    with pytest.raises(ValueError):
        Vocabulary.fit([["x"]], with_markers=False).decode([99])


def test_coverage():
    vocabulary = Vocabulary.fit(DOCUMENTS, with_markers=False, max_size=3)
    assert vocabulary.coverage([["the", "x"]]) == 0.5
    assert vocabulary.coverage([]) == 1.0
