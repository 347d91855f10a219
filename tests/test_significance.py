"""The paired bootstrap tells a real difference between two systems' per-row scores from noise."""

import numpy as np
import pytest

from issue_summarizer.significance import paired_bootstrap


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
