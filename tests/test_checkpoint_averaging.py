import json

import numpy as np
import pytest

from issue_summarizer.checkpoint_averaging import average_weights, epoch_checkpoints


def test_average_weights_is_the_elementwise_mean():
    first = [np.array([1.0, 2.0], dtype="float32"), np.array([[0.0]], dtype="float32")]
    second = [np.array([3.0, 6.0], dtype="float32"), np.array([[4.0]], dtype="float32")]
    averaged = average_weights([first, second])
    assert np.allclose(averaged[0], [2.0, 4.0]) and np.allclose(averaged[1], [[2.0]])
    assert averaged[0].dtype == np.float32


def test_weights_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="different weight shapes"):
        average_weights([[np.zeros(2)], [np.zeros(3)]])
    with pytest.raises(ValueError, match="nothing to average"):
        average_weights([])


@pytest.mark.slow
def test_average_command_writes_a_loadable_model_and_its_record(tmp_path, corpus_file):
    from issue_summarizer.__main__ import main
    from issue_summarizer.summarizer import Summarizer

    directory = tmp_path / "run"
    train = ["train", "--data", str(corpus_file), "--out", str(directory), "--config", "tiny", "--workers", "1"]
    assert main([*train, "--epochs", "3", "--patience", "3"]) == 0
    assert [path.name for path in epoch_checkpoints(directory)] == [
        "epoch-01.keras",
        "epoch-02.keras",
        "epoch-03.keras",
    ]
    assert main(["average", "--model", str(directory), "--last", "5"]) == 2  # Only 3 checkpoints.
    assert main(["average", "--model", str(directory), "--last", "2", "--force"]) == 0
    record = json.loads((directory / "averaging.json").read_text())
    assert record["checkpoints"] == ["epoch-02.keras", "epoch-03.keras"] and record["kept"]
    assert np.isfinite(record["averaged_loss"]) and np.isfinite(record["last_loss"])
    titles = Summarizer.load(directory).summarize(["The app crashes when I open the settings page."])
    assert titles[0][0]
