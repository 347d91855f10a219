"""The paired bootstrap tells a real difference between two systems' per-row scores from noise."""

import numpy as np
import pytest

from issue_summarizer.evaluation.significance import paired_bootstrap


def test_a_consistent_gain_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    baseline = rng.uniform(0, 1, 4000)
    better = baseline + 0.01 + rng.normal(0, 0.05, 4000)
    noisy = baseline + rng.normal(0, 0.05, 4000)
    gain = paired_bootstrap(better, baseline)
    assert gain.low < gain.mean < gain.high
    assert gain.significant_gain and gain.mean == pytest.approx(0.01, abs=0.003)
    assert not paired_bootstrap(noisy, baseline).significant_gain
    assert not paired_bootstrap(baseline, better).significant_gain


def test_the_interval_narrows_with_more_rows_and_is_seeded():
    rng = np.random.default_rng(1)
    differences = rng.normal(0.0, 0.2, 4000)
    zeros = np.zeros(4000)
    many = paired_bootstrap(differences, zeros)
    few = paired_bootstrap(differences[:400], zeros[:400])
    assert many.high - many.low < few.high - few.low
    assert paired_bootstrap(differences, zeros, seed=3) == paired_bootstrap(differences, zeros, seed=3)
    # Identical systems differ by nothing, with no spread.
    same = paired_bootstrap(zeros, zeros)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0) and not same.significant_gain


@pytest.mark.parametrize(
    ("candidate", "baseline", "message"),
    [([0.1, 0.2], [0.1], "same length"), ([], [], "no rows"), ([[0.1]], [[0.2]], "1-D")],
)
def test_bad_input_is_refused_with_a_clear_error(candidate, baseline, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(candidate, baseline)


def _write_predictions(path, references, scores):
    import pandas as pd

    frame = pd.DataFrame({"reference": references, "predicted_title": references, "rougeL": scores})
    frame.to_json(path, orient="records", lines=True, compression="gzip")
    return path


def test_compare_reads_two_prediction_files_and_says_which_is_better(tmp_path, capsys):
    from issue_summarizer.cli.main import main

    rng = np.random.default_rng(2)
    references = [f"title {row}" for row in range(600)]
    baseline_scores = rng.uniform(0, 0.5, 600)
    baseline = _write_predictions(tmp_path / "a.jsonl.gz", references, baseline_scores)
    better = _write_predictions(tmp_path / "b.jsonl.gz", references, baseline_scores + 0.05)
    assert main(["compare", "--baseline", str(baseline), "--candidate", str(better)]) == 0
    output = capsys.readouterr().out
    assert "difference +0.0500" in output and "the candidate is better" in output
    assert main(["compare", "--baseline", str(better), "--candidate", str(baseline)]) == 0
    assert "the candidate is worse" in capsys.readouterr().out
    assert main(["compare", "--baseline", str(baseline), "--candidate", str(baseline)]) == 0
    assert "no significant difference" in capsys.readouterr().out


def test_compare_refuses_files_that_score_different_rows_or_are_not_predictions(tmp_path, capsys):
    from issue_summarizer.cli.main import main

    baseline = _write_predictions(tmp_path / "a.jsonl.gz", ["one", "two"], [0.1, 0.2])
    other_rows = _write_predictions(tmp_path / "b.jsonl.gz", ["one", "three"], [0.1, 0.2])
    not_predictions = tmp_path / "c.jsonl.gz"
    import pandas as pd

    pd.DataFrame({"title": ["one", "two"]}).to_json(not_predictions, orient="records", lines=True, compression="gzip")
    corrupt = tmp_path / "d.jsonl.gz"
    corrupt.write_bytes(baseline.read_bytes()[:40])
    cases = [
        (other_rows, "score different rows"),
        (not_predictions, "no reference, rougeL column"),
        (tmp_path / "missing.jsonl.gz", "no such file"),
        (corrupt, "not a predictions file"),
    ]
    for candidate, message in cases:
        assert main(["compare", "--baseline", str(baseline), "--candidate", str(candidate)]) == 2
        assert message in capsys.readouterr().err
