import json

import numpy as np
import pytest

from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.training import teacher_forcing, train_model

pytestmark = pytest.mark.slow


def test_teacher_forcing_shifts_titles_and_masks_padding():
    titles = np.array([[2, 7, 8, 3, 0]])
    (bodies, decoder_input), targets, weights = teacher_forcing(np.zeros((1, 4)), titles)
    assert decoder_input.tolist() == [[2, 7, 8, 3]] and targets.tolist() == [[7, 8, 3, 0]]
    assert weights.tolist() == [[1, 1, 1, 0]]


def test_tiny_model_loss_falls_and_directory_is_self_describing(trained_tiny_model):
    history = json.loads((trained_tiny_model / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0] * 0.5
    for name in (
        "model.keras",
        "config.json",
        "body_vocabulary.json",
        "title_vocabulary.json",
        "length_stats.json",
        "split.json",
        "provenance.json",
        "training.json",
        "metrics.json",
    ):
        assert (trained_tiny_model / name).is_file(), name
    training = json.loads((trained_tiny_model / "training.json").read_text())
    assert training["samples_per_second"] > 0


def test_resume_continues_from_the_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    config = CONFIGURATIONS["tiny"].updated(epochs=2, patience=5)
    arrays = {}
    for name in ("train", "validation"):
        arrays[f"{name}_bodies"] = rng.integers(0, config.body_vocab_size, size=(32, config.body_length)).astype(
            np.int32
        )
        titles = rng.integers(4, config.title_vocab_size, size=(32, config.title_length)).astype(np.int32)
        titles[:, 0], titles[:, -1] = 2, 3
        arrays[f"{name}_titles"] = titles
    _, first = train_model(arrays, config, tmp_path, verbose=0)
    assert first.epochs_run == 2
    _, resumed = train_model(arrays, config.updated(epochs=3), tmp_path, resume=True, verbose=0)
    assert resumed.epochs_run == 1 and len(resumed.history["loss"]) == 3
