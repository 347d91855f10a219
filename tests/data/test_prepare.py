import json

import numpy as np
import pytest

from issue_summarizer.cli.main import main
from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.data.length_stats import load_length_stats
from issue_summarizer.data.loading import load_issues
from issue_summarizer.data.prepare import prepare
from issue_summarizer.data.splitting import RepositorySplit
from issue_summarizer.text.vocabulary import END_ID, START_ID, Vocabulary


def test_prepare_command_end_to_end(corpus_file, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert main(["prepare", "--data", str(corpus_file), "--out", str(out), "--config", "tiny", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "read 240 rows" in printed and "suggested pad length" in printed and "train:" in printed
    arrays = np.load(out / "arrays.npz")
    config = CONFIGURATIONS["tiny"]
    assert arrays["train_bodies"].shape[1] == config.body_length
    assert (arrays["train_titles"][:, 0] == START_ID).all()
    assert (arrays["train_titles"] == END_ID).any(axis=1).all()
    split = RepositorySplit.load(out / "split.json")
    assert not set(split.train) & set(split.test)
    histograms, _ = load_length_stats(out / "length_stats.json")
    assert histograms["body"].total > 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["rows_read"] == 240
    assert sum(size["rows"] for size in provenance["split"].values()) <= 240
    assert len(Vocabulary.load(out / "title_vocabulary.json")) <= config.title_vocab_size
    # Aggregates only: no file in the output holds an issue body.
    for path in out.glob("*.json"):
        assert "segmentation fault" not in path.read_text()


def test_prepare_is_deterministic(corpus_file):
    loaded = load_issues(corpus_file)
    first = prepare(loaded, CONFIGURATIONS["tiny"], workers=1, show_progress=False)
    second = prepare(loaded, CONFIGURATIONS["tiny"], workers=1, show_progress=False)
    for name, array in first.arrays.items():
        assert np.array_equal(array, second.arrays[name])


def test_an_unknown_configuration_is_an_error_without_traceback(corpus_file, tmp_path, capsys):
    assert main(["prepare", "--data", str(corpus_file), "--out", str(tmp_path / "o"), "--config", "atention"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'atention'" in error and "tiny-attention" in error and "Traceback" not in error
    assert error.count("\n") == 1 and error.startswith("error: ")


def test_prepare_reports_a_bad_file_without_traceback(tmp_path, capsys):
    path = tmp_path / "wrong.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["prepare", "--data", str(path), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and "wrong.csv" in error and "Traceback" not in error


def test_extra_data_only_adds_training_rows_from_unseen_repositories(corpus_file, tmp_path):
    from tests.conftest import make_rows, write_jsonl_gz

    loaded = load_issues(corpus_file)
    base = prepare(loaded, CONFIGURATIONS["tiny"], workers=1, show_progress=False)
    test_repository = base.split.test[0]
    extra_rows = [dict(row, repo="tracker/project") for row in make_rows(count=30, seed=4)]
    extra_rows += [dict(row, repo=test_repository) for row in make_rows(count=5, seed=5)]
    extra = load_issues(write_jsonl_gz(tmp_path / "extra.jsonl.gz", extra_rows))
    prepared = prepare(loaded, CONFIGURATIONS["tiny"], workers=1, show_progress=False, extra=[extra])
    assert prepared.split == base.split
    assert len(prepared.arrays["train_titles"]) == len(base.arrays["train_titles"]) + 30
    assert np.array_equal(prepared.arrays["test_rows"], base.arrays["test_rows"])
    assert prepared.provenance["extra_training_data"]["rows_from_evaluation_repositories_left_out"] == 5


def test_training_rows_can_be_capped_per_repository(corpus_file):
    loaded = load_issues(corpus_file)
    capped = prepare(
        loaded, CONFIGURATIONS["tiny"].updated(max_rows_per_train_repository=5), workers=1, show_progress=False
    )
    repositories = loaded.frame["repo"].to_numpy()[capped.arrays["train_rows"]]
    assert max(list(repositories).count(repo) for repo in set(repositories)) <= 5


def test_prepare_refuses_a_model_directory(corpus_file, tmp_path, capsys):
    """Its config.json and vocabularies would no longer describe the model.keras beside them."""
    from tests.conftest import directory_digest

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.keras").write_bytes(b"weights")
    CONFIGURATIONS["tiny"].save(model)
    before = directory_digest(model)
    assert main(["prepare", "--data", str(corpus_file), "--out", str(model), "--config", "tiny"]) == 2
    error = capsys.readouterr().err
    assert f"error: {model}: holds a trained model (model.keras)" in error and "choose another --out" in error
    assert directory_digest(model) == before


def test_an_out_that_is_a_file_is_one_line_of_error(corpus_file, tmp_path, capsys):
    taken = tmp_path / "f.csv"
    taken.write_text("a,b\n")
    assert main(["prepare", "--data", str(corpus_file), "--out", str(taken), "--config", "tiny"]) == 2
    assert capsys.readouterr().err == f"error: {taken}: a file, not a directory; --out names the directory to write\n"
    # Any other error of the file system is one line too, naming the file: here a directory
    # cannot be made inside a file.
    inside = taken / "prepared"
    argv = ["prepare", "--data", str(corpus_file), "--out", str(inside), "--config", "tiny", "--workers", "1"]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {inside}: Not a directory"
    assert taken.read_text() == "a,b\n"


@pytest.mark.parametrize("limit", ["0", "-1", "two"])
def test_limit_must_be_a_positive_count(corpus_file, tmp_path, capsys, limit):
    """--limit 0 read nothing and --limit -1 dropped the last row."""
    argv = ["prepare", "--data", str(corpus_file), "--out", str(tmp_path / "o"), "--limit", limit]
    assert main(argv) == 2
    assert f"argument --limit: expected a whole number of at least 1, got '{limit}'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "accepted"),
    [
        (["summarize", "--input", "in.csv", "--output", "out.csv", "--beam-width", "0"], False),
        (["summarize", "--input", "in.csv", "--output", "out.csv", "--chunk-rows", "0"], False),
        (["summarize", "--input", "in.csv", "--output", "out.csv", "--batch-size", "-4"], False),
        (["embed", "--input", "in.csv", "--output", "out.parquet", "--chunk-rows", "-1"], False),
        (["evaluate", "--data", "in.csv", "--beam-width", "-2"], False),
        (["tune", "--data", "in.csv", "--rows", "-1"], False),
        (["tune", "--data", "in.csv", "--beam-widths", "1", "0"], False),
        (["tune", "--data", "in.csv", "--min-lengths", "-1"], False),
        # 0 keeps its documented meaning where it has one.
        (["tune", "--data", "in.csv", "--rows", "0", "--ngram-blocks", "0", "--min-lengths", "0"], True),
        (["train", "--data", "in.csv", "--out", "o", "--max-rows-per-repository", "0", "--length-buckets", "0"], True),
        (["train", "--data", "in.csv", "--out", "o", "--patience", "0", "--limit", "1"], True),
    ],
)
def test_count_flags_refuse_counts_out_of_range(argv, accepted, capsys):
    from issue_summarizer.cli.main import build_parser

    if accepted:
        build_parser().parse_args(argv)
        return
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "expected a whole number of at least" in capsys.readouterr().err
