import numpy as np
import pytest

from issue_summarizer.padding import pad_sequences


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
