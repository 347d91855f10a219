import pytest

from issue_summarizer.data.splitting import RepositorySplit, split_indices, split_repositories


def rows():
    return [f"repo{index % 40}" for index in range(4000)] + ["giant/repo"] * 5000


def test_no_repository_in_two_splits_and_giants_train():
    split = split_repositories(rows(), validation_share=0.1, test_share=0.1, seed=3)
    sets = [set(split.train), set(split.validation), set(split.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert "giant/repo" in split.train
    assert split.validation and split.test


def test_split_is_deterministic_and_seeded():
    assert split_repositories(rows(), seed=1) == split_repositories(rows(), seed=1)
    assert split_repositories(rows(), seed=1) != split_repositories(rows(), seed=2)


def test_evaluation_splits_are_capped_per_repository(tmp_path):
    repositories = rows()
    split = split_repositories(repositories, max_rows_per_eval_repository=30, seed=0)
    indices = split_indices(repositories, split)
    test_repos = [repositories[row] for row in indices["test"]]
    assert max(test_repos.count(repo) for repo in set(test_repos)) <= 30
    split.save(tmp_path / "split.json")
    assert RepositorySplit.load(tmp_path / "split.json") == split


def test_errors():
    with pytest.raises(ValueError):
        split_repositories(["a", "b"])
    with pytest.raises(ValueError):
        split_repositories(rows(), validation_share=0.6, test_share=0.5)
    split = split_repositories(rows())
    with pytest.raises(ValueError, match="in no split"):
        split_indices(["unknown/repo"], split)
