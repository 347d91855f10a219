import pytest

from issue_summarizer.config import CleaningOptions
from issue_summarizer.data.length_report import (
    coverage_frame,
    display_limit,
    histogram_frame,
    histograms_from_texts,
    pad_report,
)
from issue_summarizer.data.length_stats import LengthHistogram


def test_pad_report_counts_documents_and_cells():
    histogram = LengthHistogram.from_lengths([2, 4, 4, 10])
    report = pad_report(histogram, 4)
    assert report.documents == 4 and report.coverage == 0.75
    assert report.truncated_share == 0.25 and report.padded_share == 0.25
    # Padding cells: 2 (the length-2 document) of 16; tokens cut: 6 of 20.
    assert report.padding_token_share == pytest.approx(2 / 16)
    assert report.truncated_token_share == pytest.approx(6 / 20)
    assert pad_report(LengthHistogram({}), 5).coverage == 1.0


def test_frames_for_the_charts_clip_the_long_tail():
    histogram = LengthHistogram.from_lengths(list(range(1, 101)) + [5000])
    frame, longer = histogram_frame(histogram, 50)
    assert frame["length"].max() == 50 and longer == 51
    assert display_limit(histogram, 0.5) == 51
    curve = coverage_frame(histogram, 10)
    assert curve["length"].max() == 10 and curve["coverage"].is_monotonic_increasing


def test_histograms_from_texts_clean_like_the_model_and_sample():
    bodies = ["The Parser crashes on 42 files", "short", "one two three"] * 4
    titles = ["Crash", "A title here", "x"] * 4
    histograms = histograms_from_texts(bodies, titles, CleaningOptions(), sample=6, workers=1)
    assert histograms["body"].total == 6 and histograms["title"].total == 6
    assert set(histograms["body"].counts) <= {6, 1, 3}
    assert "title" not in histograms_from_texts(bodies, None, CleaningOptions(), workers=1)
