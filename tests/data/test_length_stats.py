import pytest

from issue_summarizer.data.length_stats import LengthHistogram, load_length_stats, save_length_stats


def test_coverage_and_suggested_length():
    histogram = LengthHistogram.from_lengths([1] * 5 + [10] * 4 + [100])
    assert histogram.total == 10
    assert histogram.coverage_at(1) == 0.5
    assert histogram.suggest_length(0.9) == 10
    assert histogram.suggest_length(0.95) == 100
    assert histogram.suggest_length(0.5) == 1


def test_round_trip_holds_only_counts(tmp_path):
    histograms = {"body": LengthHistogram.from_lengths([3, 3, 7]), "title": LengthHistogram.from_lengths([2])}
    save_length_stats(tmp_path / "s.json", histograms, {"sample": 3})
    loaded, meta = load_length_stats(tmp_path / "s.json")
    assert loaded["body"].counts == {3: 2, 7: 1} and meta == {"sample": 3}


def test_errors(tmp_path):
    with pytest.raises(ValueError):
        LengthHistogram({}).suggest_length(0.9)
    with pytest.raises(ValueError):
        LengthHistogram.from_lengths([1]).suggest_length(1.5)
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError):
        load_length_stats(tmp_path / "bad.json")
