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
def test_average_command_writes_a_loadable_model_and_its_record(tmp_path, corpus_file, capsys):
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
    # The mean is judged against what model.keras holds now (here the mean just written),
    # not against the last checkpoint: the same mean again does not beat it, so nothing changes,
    # and the record goes on describing the mean that model.keras holds.
    shipped = (directory / "model.keras").read_bytes()
    capsys.readouterr()
    assert main(["average", "--model", str(directory), "--last", "2"]) == 0
    printed = capsys.readouterr().out
    assert "below that of model.keras; model.keras is unchanged" in printed
    assert json.loads((directory / "averaging.json").read_text()) == record
    assert (directory / "model.keras").read_bytes() == shipped


def test_an_average_worse_than_model_keras_is_not_kept(tmp_path, monkeypatch, capsys):
    """model.keras may hold early stopping's best epoch, which beats the mean of the last
    epochs even when the mean beats the last one: then model.keras stays as it is."""
    from issue_summarizer import checkpoint_averaging
    from issue_summarizer.__main__ import main
    from issue_summarizer.checkpoint_averaging import AveragingResult

    (tmp_path / "model.keras").write_bytes(b"the best epoch's weights")
    result = AveragingResult(["epoch-02.keras", "epoch-03.keras"], last_loss=2.0, averaged_loss=1.5, model_loss=1.2)
    monkeypatch.setattr(checkpoint_averaging, "average_last_checkpoints", lambda directory, last: (None, result))
    assert main(["average", "--model", str(tmp_path), "--last", "2"]) == 0
    assert "does not lower the validation loss below that of model.keras" in capsys.readouterr().out
    assert (tmp_path / "model.keras").read_bytes() == b"the best epoch's weights"
    record = json.loads((tmp_path / "averaging.json").read_text())
    assert record["model_loss"] == 1.2 and not record["kept"]
    assert AveragingResult([], last_loss=2.0, averaged_loss=1.5).helps  # Without a model.keras: the last epoch.
    assert AveragingResult([], last_loss=2.0, averaged_loss=1.5, model_loss=1.6).helps


def test_a_run_still_under_way_is_not_averaged(tmp_path):
    """Its checkpoints belong to the description waiting in checkpoints/, not to the directory's."""
    from issue_summarizer.checkpoint_averaging import average_last_checkpoints
    from issue_summarizer.config import CONFIGURATIONS

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for epoch in (1, 2):
        (checkpoints / f"epoch-0{epoch}.keras").write_bytes(b"")
    CONFIGURATIONS["tiny"].save(checkpoints)
    with pytest.raises(ValueError, match="has not finished; finish it with `train --resume`"):
        average_last_checkpoints(tmp_path, 2)
