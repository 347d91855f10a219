import numpy as np
import pytest

from issue_summarizer.text.padding import bucket_lengths, cut_padding, kept_columns, pad_sequences


def test_pre_padding_and_post_truncation_are_the_seed_body_defaults():
    result = pad_sequences([[1, 2], [1, 2, 3, 4, 5]], 4)
    assert result.tolist() == [[0, 0, 1, 2], [1, 2, 3, 4]]


def test_post_padding_and_pre_truncation():
    result = pad_sequences([[5], [1, 2, 3, 4, 5]], 3, padding="post", truncating="pre")
    assert result.tolist() == [[5, 0, 0], [3, 4, 5]]
    assert result.dtype == np.int32


def test_empty_sequences_and_bad_arguments():
    assert pad_sequences([[]], 2).tolist() == [[0, 0]]
    assert pad_sequences([], 2).shape == (0, 2)
    with pytest.raises(ValueError):
        pad_sequences([[1]], 0)
    with pytest.raises(ValueError):
        pad_sequences([[1]], 2, padding="middle")


def test_bucket_lengths_round_up_to_evenly_spaced_lengths():
    bodies = np.zeros((5, 10), dtype=np.int32)
    for row, length in enumerate((0, 1, 4, 5, 10)):
        bodies[row, 10 - length :] = 7
    assert bucket_lengths(bodies, 2).tolist() == [5, 5, 5, 5, 10]
    assert bucket_lengths(bodies, 3).tolist() == [4, 4, 4, 8, 10]
    assert bucket_lengths(bodies, 10).tolist() == [1, 1, 4, 5, 10]
    # Rows already cut to 5 columns still round against the full length of 10.
    assert bucket_lengths(bodies[:, 5:], 2, full=10).tolist() == [5, 5, 5, 5, 5]


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_cut_padding_keeps_the_words_side(padding):
    padded = pad_sequences([[5, 6], [7]], 4, padding=padding)
    cut = cut_padding(padded, 2, padding)
    assert cut.tolist() == ([[5, 6], [0, 7]] if padding == "pre" else [[5, 6], [7, 0]])
    assert cut_padding(padded, 9, padding) is padded
    assert padded[:, kept_columns(4, 2, padding)].tolist() == cut.tolist()
    with pytest.raises(ValueError, match="padding"):
        cut_padding(padded, 2, "middle")
