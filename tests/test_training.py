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


def test_float32_weights_predict_the_same_tokens_in_mixed_bfloat16(trained_copy_model):
    """The same trained weights, computed in float32 and in bfloat16, choose the same next words."""
    from issue_summarizer.config import SummarizerConfig
    from issue_summarizer.model import build_training_model, precision_policy
    from issue_summarizer.summarizer import Summarizer
    from issue_summarizer.training import split_inputs

    config = SummarizerConfig.load(trained_copy_model)
    weights = Summarizer.load(trained_copy_model).model.get_weights()
    arrays = dict(np.load(trained_copy_model / "checkpoints" / "arrays.npz"))
    inputs, targets, _ = split_inputs(arrays, "validation", config)
    predictions = {}
    for precision in ("float32", "mixed_bfloat16"):
        with precision_policy(precision):
            model = build_training_model(config, compile=False)
            model.set_weights(weights)
            predictions[precision] = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    real = targets != 0
    float32, bfloat16 = predictions["float32"], predictions["mixed_bfloat16"]
    agreement = (float32.argmax(-1) == bfloat16.argmax(-1))[real].mean()
    assert agreement >= 0.95, agreement
    assert np.abs(float32 - bfloat16).max() < 0.1


def test_mixed_bfloat16_training_writes_the_same_titles_as_float32(tmp_path, trained_copy_model):
    from issue_summarizer.__main__ import main
    from issue_summarizer.summarizer import Summarizer
    from tests.conftest import make_copy_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "copy.jsonl.gz", make_copy_rows())
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "bf16"), "--config", "tiny-attention"]
    assert main([*argv, "--precision", "mixed_bfloat16", "--workers", "1"]) == 0
    bfloat16 = Summarizer.load(tmp_path / "bf16")
    assert bfloat16.config.precision == "mixed_bfloat16"
    bodies = [row["body"] for row in make_copy_rows(count=20, seed=99)]
    float32_titles = [title for title, _ in Summarizer.load(trained_copy_model).summarize(bodies)]
    bfloat16_titles = [title for title, _ in bfloat16.summarize(bodies)]
    same = sum(left == right for left, right in zip(float32_titles, bfloat16_titles, strict=True))
    assert same >= 16, list(zip(float32_titles, bfloat16_titles, strict=True))
