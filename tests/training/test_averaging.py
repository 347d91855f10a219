import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.training.averaging import average_weights, epoch_checkpoints


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


@pytest.fixture(scope="module")
def three_epoch_run(tmp_path_factory):
    """A tiny run trained 3 epochs, which tests copy before changing."""
    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    directory = tmp_path_factory.mktemp("three_epoch_run")
    data = write_jsonl_gz(directory / "issues.jsonl.gz", make_rows())
    run = directory / "run"
    train = ["train", "--data", str(data), "--out", str(run), "--config", "tiny", "--workers", "1"]
    assert main([*train, "--epochs", "3", "--patience", "3"]) == 0
    return run


def copy_of(run, tmp_path):
    return Path(shutil.copytree(run, tmp_path / "run"))


@pytest.mark.slow
def test_average_command_writes_a_loadable_model_and_its_record(three_epoch_run, tmp_path, capsys):
    from issue_summarizer.cli.main import main
    from issue_summarizer.inference.summarizer import Summarizer

    directory = copy_of(three_epoch_run, tmp_path)
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


@pytest.mark.slow
def test_average_saves_the_mean_of_exactly_the_named_checkpoints(three_epoch_run, tmp_path):
    """model.keras may hold an earlier epoch than the last (early stopping's best): judging it
    must not change what is averaged, and each reported loss is that of the weights it names."""
    import keras

    from issue_summarizer.cli.main import main
    from issue_summarizer.models.building import save_for_inference
    from issue_summarizer.training.trainer import split_inputs, training_dataset

    directory = copy_of(three_epoch_run, tmp_path)
    checkpoints = [keras.saving.load_model(path) for path in epoch_checkpoints(directory)]
    weights = [checkpoint.get_weights() for checkpoint in checkpoints]
    assert len(weights) == 3
    assert not all(np.array_equal(left, right) for left, right in zip(weights[1], weights[2], strict=True))
    config = SummarizerConfig.load(directory)
    # As a run whose second epoch was its best ships it.
    save_for_inference(checkpoints[1], config, directory / "model.keras")

    assert main(["average", "--model", str(directory), "--last", "3", "--force"]) == 0
    saved = keras.saving.load_model(directory / "model.keras", compile=False).get_weights()
    assert len(saved) == len(weights[0])
    for index, tensor in enumerate(saved):
        expected = np.mean(np.stack([checkpoint[index] for checkpoint in weights]), axis=0)
        np.testing.assert_allclose(tensor, expected, rtol=1e-6, atol=1e-7, err_msg=f"weight {index}")

    # The losses are judged by the checkpoints' own compiled loss on the run's validation rows.
    with np.load(directory / "checkpoints" / "arrays.npz") as arrays:
        validation = split_inputs({key: arrays[key] for key in arrays.files}, "validation", config)
    data = training_dataset(*validation, config.batch_size, shuffle_seed=None)
    judge = checkpoints[2]

    def loss(tensors):
        judge.set_weights(tensors)
        return float(judge.evaluate(data, verbose=0))

    record = json.loads((directory / "averaging.json").read_text())
    assert record["checkpoints"] == ["epoch-01.keras", "epoch-02.keras", "epoch-03.keras"] and record["kept"]
    assert record["last_loss"] == pytest.approx(loss(weights[2]), rel=1e-5)
    assert record["model_loss"] == pytest.approx(loss(weights[1]), rel=1e-5)
    assert record["averaged_loss"] == pytest.approx(loss(saved), rel=1e-5)
    assert record["averaged_loss"] != pytest.approx(record["model_loss"], rel=1e-4)


def test_average_names_a_model_directory_that_is_missing(tmp_path, capsys):
    from issue_summarizer.cli.main import main

    missing = tmp_path / "runs" / "x"
    assert main(["average", "--model", str(missing), "--last", "3"]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such directory\n"
    (tmp_path / "model.keras").write_bytes(b"")
    assert main(["average", "--model", str(tmp_path / "model.keras"), "--last", "3"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'model.keras'}: not a directory\n"


def test_an_average_worse_than_model_keras_is_not_kept(tmp_path, monkeypatch, capsys):
    """model.keras may hold early stopping's best epoch, which beats the mean of the last
    epochs even when the mean beats the last one: then model.keras stays as it is."""
    from issue_summarizer.cli.main import main
    from issue_summarizer.training import averaging as checkpoint_averaging
    from issue_summarizer.training.averaging import AveragingResult

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
    from issue_summarizer.config import CONFIGURATIONS
    from issue_summarizer.training.averaging import average_last_checkpoints

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for epoch in (1, 2):
        (checkpoints / f"epoch-0{epoch}.keras").write_bytes(b"")
    CONFIGURATIONS["tiny"].save(checkpoints)
    with pytest.raises(ValueError, match="has not finished; finish it with `train --resume`"):
        average_last_checkpoints(tmp_path, 2)
