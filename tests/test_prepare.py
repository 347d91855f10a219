import json

import numpy as np

from issue_summarizer.__main__ import main
from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.data_loading import load_issues
from issue_summarizer.length_stats import load_length_stats
from issue_summarizer.prepare import prepare
from issue_summarizer.splitting import RepositorySplit
from issue_summarizer.vocabulary import END_ID, START_ID, Vocabulary


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
    assert "unknown configuration 'atention'" in error and "Traceback" not in error


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
