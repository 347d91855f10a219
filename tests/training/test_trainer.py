import json
from pathlib import Path

import numpy as np
import pytest

from issue_summarizer.config import CONFIGURATIONS, SummarizerConfig
from issue_summarizer.training.trainer import teacher_forcing, train_model
from tests.conftest import directory_digest

pytestmark = pytest.mark.slow


def random_arrays(config, rng, rows: int = 32) -> dict[str, np.ndarray]:
    """Prepared arrays of random ids: titles framed by <start> and <end>, for training mechanics."""
    arrays = {}
    for name in ("train", "validation"):
        bodies = rng.integers(0, config.body_vocab_size, size=(rows, config.body_length))
        titles = rng.integers(4, config.title_vocab_size, size=(rows, config.title_length))
        titles[:, 0], titles[:, -1] = 2, 3
        arrays[f"{name}_bodies"], arrays[f"{name}_titles"] = bodies.astype(np.int32), titles.astype(np.int32)
    return arrays


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
    arrays = random_arrays(config, rng)
    _, first = train_model(arrays, config, tmp_path, verbose=0)
    assert first.epochs_run == 2
    _, resumed = train_model(arrays, config.updated(epochs=3), tmp_path, resume=True, verbose=0)
    assert resumed.epochs_run == 1 and len(resumed.history["loss"]) == 3


def test_a_resumed_run_can_continue_at_a_lower_rate_with_label_smoothing(tmp_path):
    """Fine-tuning a finished run: the last epochs run at a new rate and loss, and the
    checkpoint they write keeps both, so resuming again does not fall back."""
    import keras

    from issue_summarizer.models.layers import SmoothedCrossEntropy
    from issue_summarizer.training.trainer import CHECKPOINT_DIRECTORY, CHECKPOINT_MODEL

    rng = np.random.default_rng(1)
    config = CONFIGURATIONS["tiny"].updated(epochs=1, patience=5)
    arrays = random_arrays(config, rng)
    train_model(arrays, config, tmp_path, verbose=0)
    fine_tuning = config.updated(epochs=2, label_smoothing=0.1)
    model, resumed = train_model(arrays, fine_tuning, tmp_path, resume=True, verbose=0, resume_learning_rate=1e-4)
    assert resumed.epochs_run == 1 and np.isfinite(resumed.history["loss"]).all()
    # A smoothed loss is higher than the unsmoothed one it cannot be compared with, so the
    # earlier epoch's lower loss does not take the fine-tuned weights back.
    assert resumed.history["val_loss"][1] > resumed.history["val_loss"][0]
    assert resumed.best_epoch == 2
    _, again = train_model(arrays, fine_tuning.updated(epochs=3), tmp_path, resume=True, verbose=0)
    assert again.best_epoch == min((2, 3), key=lambda epoch: again.history["val_loss"][epoch - 1])
    checkpoint = keras.saving.load_model(tmp_path / CHECKPOINT_DIRECTORY / CHECKPOINT_MODEL)
    assert float(checkpoint.optimizer.learning_rate) == pytest.approx(1e-4)
    assert isinstance(checkpoint.loss, SmoothedCrossEntropy) and checkpoint.loss.smoothing == pytest.approx(0.1)


def test_float32_weights_predict_the_same_tokens_in_mixed_bfloat16(trained_copy_model):
    """The same trained weights, computed in float32 and in bfloat16, choose the same next words."""
    from issue_summarizer.config import SummarizerConfig
    from issue_summarizer.inference.summarizer import Summarizer
    from issue_summarizer.models.building import build_training_model
    from issue_summarizer.models.layers import precision_policy
    from issue_summarizer.training.trainer import split_inputs

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
    from issue_summarizer.cli.main import main
    from issue_summarizer.inference.summarizer import Summarizer
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


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_bucketed_batches_hold_every_row_once_and_cut_only_padding(padding):
    from issue_summarizer.text.padding import pad_sequences
    from issue_summarizer.training.trainer import bucketed_dataset

    rng = np.random.default_rng(0)
    config = CONFIGURATIONS["tiny-attention"].updated(length_buckets=3, batch_size=8, body_padding=padding)
    documents = [list(rng.integers(4, 50, size=rng.integers(1, 45))) for _ in range(60)]
    bodies = pad_sequences(documents, config.body_length, padding=padding, truncating="post")
    copy_ids = bodies + 1000 * (bodies != 0)
    decoder_input = np.arange(60 * 4, dtype=np.int32).reshape(60, 4)
    targets, weights = decoder_input + 1, np.ones((60, 4), dtype=np.float32)
    dataset = bucketed_dataset([bodies, copy_ids, decoder_input], targets, weights, config, shuffle_seed=0)
    seen = []
    for _ in range(2):  # Two epochs over the same dataset.
        order = []
        for (batch_bodies, batch_copy_ids, batch_decoder), batch_targets, _ in dataset.as_numpy_iterator():
            rows = batch_decoder[:, 0] // 4
            assert len(rows) <= config.batch_size and batch_bodies.shape[1] in (10, 20, 30)
            padded = pad_sequences([list(row[row != 0]) for row in batch_bodies], config.body_length, padding=padding)
            assert (padded == bodies[rows]).all()
            assert (batch_copy_ids == batch_bodies + 1000 * (batch_bodies != 0)).all()
            assert (batch_targets == targets[rows]).all()
            order.extend(rows.tolist())
        assert sorted(order) == list(range(60))
        seen.append(order)
    assert seen[0] != seen[1]  # Each epoch has its own order.


def test_length_bucketed_training_learns_to_copy(tmp_path):
    from issue_summarizer.cli.main import main
    from issue_summarizer.inference.summarizer import Summarizer
    from tests.conftest import assert_copies_unseen_identifiers, make_copy_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "copy.jsonl.gz", make_copy_rows())
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "bucketed"), "--config", "tiny-attention"]
    assert main([*argv, "--length-buckets", "3", "--workers", "1"]) == 0
    bucketed = Summarizer.load(tmp_path / "bucketed")
    assert bucketed.config.length_buckets == 3
    rows = assert_copies_unseen_identifiers(bucketed)
    # Inference reads each body at its own bucket's length, as training did, so a title does not
    # depend on the other bodies in its batch: a short body (bucket 20) beside a long one (30).
    mixed = [rows[0]["body"], rows[1]["body"] + " It still fails." * 4, rows[2]["body"]]
    together = [title for title, _ in bucketed.summarize(mixed)]
    alone = [bucketed.summarize([body])[0][0] for body in mixed]
    assert together == alone
    assert bucketed.explain(mixed[1]).title == together[1]
    assert bucketed.embed(mixed)[1] == pytest.approx(bucketed.embed([mixed[1]])[0], abs=1e-5)


def test_learning_rate_halves_after_an_epoch_without_a_better_validation_loss(tmp_path):
    """The halved rate is in the epoch's checkpoint, so a resumed run keeps it."""
    import keras

    from issue_summarizer.models.building import build_training_model
    from issue_summarizer.training.trainer import CHECKPOINT_DIRECTORY, CHECKPOINT_MODEL, _make_callbacks

    config = CONFIGURATIONS["tiny"].updated(learning_rate=0.004, learning_rate_decay=0.5, patience=2)
    model = build_training_model(config)
    # Built as a training step would build it, so the checkpoint holds every optimizer variable.
    model.optimizer.build(model.trainable_variables)
    callbacks = _make_callbacks(tmp_path, config, initial_epoch=0, history={})
    (tmp_path / CHECKPOINT_DIRECTORY).mkdir()
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    for epoch, validation_loss in enumerate([2.0, 1.5, 1.6]):
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": validation_loss})
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)
    restored = keras.saving.load_model(tmp_path / CHECKPOINT_DIRECTORY / CHECKPOINT_MODEL)
    assert float(restored.optimizer.learning_rate) == pytest.approx(0.002)


def test_learning_rate_decay_must_be_a_factor_in_zero_to_one():
    with pytest.raises(ValueError, match="learning_rate_decay"):
        CONFIGURATIONS["tiny"].updated(learning_rate_decay=1.5)


def test_a_time_budget_stops_training_inside_the_first_epoch(tmp_path):
    from issue_summarizer.data.loading import load_issues
    from issue_summarizer.data.prepare import prepare
    from tests.conftest import make_rows, write_jsonl_gz

    config = CONFIGURATIONS["tiny"].updated(batch_size=8, epochs=5)
    data = write_jsonl_gz(tmp_path / "rows.jsonl.gz", make_rows(count=240))
    prepared = prepare(load_issues(data), config, workers=1, show_progress=False)
    _, result = train_model(prepared.arrays, config, tmp_path / "run", verbose=0, time_budget=0.0)
    assert result.epochs_run == 1  # Stopped after its first batch, then validated and checkpointed.
    assert result.samples_per_second * result.seconds == pytest.approx(8, rel=1e-3)
    assert (tmp_path / "run" / "checkpoints" / "epoch-01.keras").is_file()


def test_a_resumed_run_can_go_on_with_longer_titles_from_the_same_data(tmp_path, capsys):
    from issue_summarizer.cli.main import main
    from issue_summarizer.inference.summarizer import Summarizer
    from tests.conftest import make_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=300, repositories=12))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny-attention", "--workers", "1"]
    assert main([*argv, "--epochs", "1", "--title-length", "5"]) == 0
    before = {name: (out / name).read_text() for name in ("body_vocabulary.json", "title_vocabulary.json")}
    assert main([*argv, "--resume", "--epochs", "2", "--title-length", "9"]) == 0
    assert "prepared the run's arrays again with titles of 9 tokens" in capsys.readouterr().out
    summarizer = Summarizer.load(out)
    history = json.loads((out / "history.json").read_text())
    assert summarizer.config.title_length == 9 and len(history["loss"]) == 2
    with np.load(out / "checkpoints" / "arrays.npz") as arrays:
        assert arrays["train_titles"].shape[1] == 9
    assert {name: (out / name).read_text() for name in before} == before
    # Other data would give other vocabularies, which the checkpoint was not trained on. Another
    # file is refused by its name; the same file with other rows, by the vocabularies it gives.
    other = write_jsonl_gz(tmp_path / "other.jsonl.gz", make_rows(count=300, repositories=12, seed=5))
    assert main([*argv[:2], str(other), *argv[3:], "--resume", "--epochs", "3", "--title-length", "12"]) == 2
    assert "resume with the run's own --data" in capsys.readouterr().err
    write_jsonl_gz(data, make_rows(count=300, repositories=12, seed=5))
    assert main([*argv, "--resume", "--epochs", "3", "--title-length", "12"]) == 2
    assert "resume with the run's own --data and --extra-data" in capsys.readouterr().err


def test_an_interrupted_run_on_longer_titles_leaves_the_model_directory_as_it_was(tmp_path, monkeypatch):
    from issue_summarizer.cli.main import main
    from issue_summarizer.training import trainer as training
    from tests.conftest import make_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=300, repositories=12))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny-attention", "--workers", "1"]
    assert main([*argv, "--epochs", "2", "--title-length", "5"]) == 0
    assert main(["average", "--model", str(out), "--last", "2", "--force"]) == 0
    shipped = {name: (out / name).read_bytes() for name in ("config.json", "model.keras", "averaging.json")}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_model", interrupted)
    assert main([*argv, "--resume", "--epochs", "3", "--title-length", "9"]) == 130
    # The directory still describes the model it holds; the run's new settings wait in its checkpoints.
    assert {name: (out / name).read_bytes() for name in shipped} == shipped
    assert SummarizerConfig.load(out / "checkpoints").title_length == 9
    monkeypatch.undo()
    # Resuming without the flag goes on with the run's own settings, and the finished run's
    # model.keras holds its last weights, so the averaging record goes.
    assert main([*argv, "--resume", "--epochs", "3"]) == 0
    assert SummarizerConfig.load(out).title_length == 9
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 3
    assert not (out / "checkpoints" / "config.json").exists()
    assert not (out / "averaging.json").exists()


def test_a_transformer_run_cannot_change_its_title_length(tmp_path, capsys):
    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=200, repositories=10))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny-transformer", "--workers", "1"]
    assert main([*argv, "--epochs", "1", "--title-length", "5"]) == 0
    assert main([*argv, "--resume", "--epochs", "2", "--title-length", "9"]) == 2
    assert "cannot go on with another --title-length" in capsys.readouterr().err
    assert SummarizerConfig.load(out).title_length == 5


def test_a_new_run_removes_an_earlier_runs_epoch_checkpoints(tmp_path):
    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=200, repositories=10))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny-attention", "--workers", "1"]
    assert main([*argv, "--epochs", "3", "--patience", "3"]) == 0
    assert main([*argv, "--epochs", "1"]) == 0
    assert sorted(path.name for path in (out / "checkpoints").glob("epoch-*.keras")) == ["epoch-01.keras"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """(data, model directory) of a finished one-epoch tiny run, which tests copy before changing."""
    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    directory = tmp_path_factory.mktemp("finished_run")
    data = write_jsonl_gz(directory / "issues.jsonl.gz", make_rows(count=200, repositories=10))
    out = directory / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny", "--epochs", "1", "--workers", "1"]
    assert main(argv) == 0
    return data, out


def copy_of(run, tmp_path):
    import shutil

    return Path(shutil.copytree(run, tmp_path / "run"))


def model_directory_files(directory) -> dict[str, bytes]:
    """The files a model directory ships (its checkpoints left out)."""
    return {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}


def test_a_failed_or_interrupted_new_run_leaves_the_model_directory_as_it_was(
    finished_run, tmp_path, monkeypatch, capsys
):
    from issue_summarizer.cli.main import main
    from issue_summarizer.training import trainer as training
    from tests.conftest import make_rows, write_jsonl_gz

    data, run = finished_run
    out = copy_of(run, tmp_path)
    shipped = model_directory_files(out)
    other = write_jsonl_gz(tmp_path / "other.jsonl.gz", make_rows(count=200, repositories=10, seed=5))
    argv = ["train", "--data", str(other), "--out", str(out), "--config", "tiny", "--workers", "1"]
    assert main([*argv, "--learning-rate", "-1"]) == 2
    assert "learning_rate must be greater than 0" in capsys.readouterr().err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_model", interrupted)
    assert main([*argv, "--body-length", "20"]) == 130
    # The new run's description waits in its checkpoints; the directory still describes its model.
    assert model_directory_files(out) == shipped
    assert SummarizerConfig.load(out / "checkpoints").body_length == 20
    assert SummarizerConfig.load(out).body_length == 30
    # The old run's checkpoint went with the new run's start, so it cannot be resumed onto the new arrays.
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert model_directory_files(out) == shipped


def test_resume_without_a_checkpoint_is_refused(finished_run, tmp_path, capsys):
    """A directory that ships without checkpoints/ (as model/ does) is not silently trained anew."""
    import shutil

    from issue_summarizer.cli.main import main

    data, run = finished_run
    out = copy_of(run, tmp_path)
    shutil.rmtree(out / "checkpoints")
    shipped = model_directory_files(out)
    assert main(["train", "--data", str(data), "--out", str(out), "--config", "tiny", "--resume"]) == 2
    error = capsys.readouterr().err
    assert "no checkpoint to resume from (last.keras, state.json, arrays.npz missing" in error
    assert "run without --resume" in error
    assert model_directory_files(out) == shipped and not (out / "checkpoints").exists()


def test_a_corrupt_checkpoint_state_is_named(finished_run, tmp_path, capsys):
    from issue_summarizer.cli.main import main

    data, run = finished_run
    out = copy_of(run, tmp_path)
    (out / "checkpoints" / "state.json").write_text("{")
    assert main(["train", "--data", str(data), "--out", str(out), "--resume", "--epochs", "2"]) == 2
    error = capsys.readouterr().err
    assert f"{out / 'checkpoints' / 'state.json'}: not a valid checkpoint state" in error


def test_resume_refuses_other_data_and_settings_it_cannot_apply(finished_run, tmp_path, capsys):
    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    data, run = finished_run
    out = copy_of(run, tmp_path)
    before = directory_digest(out)
    resume = ["train", "--out", str(out), "--resume", "--epochs", "2"]
    other = write_jsonl_gz(tmp_path / "other.jsonl.gz", make_rows(count=200, repositories=10, seed=5))
    assert main([*resume, "--data", str(other)]) == 2
    assert f"the run was prepared from {data}, not {other}" in capsys.readouterr().err
    assert main([*resume, "--data", str(data), "--limit", "150"]) == 2
    assert "the run was prepared from 200 rows" in capsys.readouterr().err
    assert main([*resume, "--data", str(data), "--config", "tiny-attention", "--batch-size", "8"]) == 2
    error = capsys.readouterr().err
    assert "cannot apply --config tiny-attention (the run's: tiny), --batch-size 8 (the run's: 16)" in error
    assert main([*resume, "--data", str(data), "--body-length", "20", "--max-rows-per-repository", "0"]) == 2
    error = capsys.readouterr().err
    assert "--body-length 20 (the run's: 30)" in error and "--max-rows-per-repository" not in error
    assert directory_digest(out) == before  # Refused before anything was trained or written.
    # The flags that started the run may be given again.
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny", "--batch-size", "16"]
    assert main([*argv, "--resume", "--epochs", "2", "--workers", "1"]) == 0
    training = json.loads((out / "training.json").read_text(), parse_constant=pytest.fail)
    assert training["epochs_run"] == 1 and training["best_val_loss"] > 0


def test_a_resume_that_would_train_no_epoch_is_refused_before_anything_is_read(finished_run, tmp_path, capsys):
    """It would only replace model.keras and its records with the last epoch's."""
    from issue_summarizer.cli.main import main

    _, run = finished_run
    out = copy_of(run, tmp_path)
    before = directory_digest(out)
    # A --data that does not exist shows that no data is read before the refusal.
    resume = ["train", "--data", str(tmp_path / "missing.jsonl.gz"), "--out", str(out), "--resume"]
    for epochs in (["--epochs", "1"], []):  # The run's own --epochs is 1 too.
        assert main([*resume, *epochs]) == 2
        assert capsys.readouterr().err == (
            f"error: {out}: has already trained 1 epoch; --epochs must be more than that to resume\n"
        )
    assert directory_digest(out) == before


def test_best_epoch_index_takes_the_earliest_lowest_finite_loss():
    from issue_summarizer.training.trainer import best_epoch_index

    assert best_epoch_index([3.02, 2.90, 3.00, 2.90]) == 1
    assert best_epoch_index([float("nan"), 2.5, float("inf")]) == 1
    assert best_epoch_index([2.0, 2.5, 2.4], first=1) == 2
    assert best_epoch_index([float("nan")]) is None and best_epoch_index([]) is None


def test_a_resumed_run_keeps_the_best_epoch_of_the_whole_run(tmp_path, capsys):
    """An earlier epoch that no resumed epoch beats is what model.keras ships, as a first run's
    early stopping would ship it, and early stopping counts from it: with patience 1, one resumed
    epoch that does not beat it ends the run."""
    import keras

    from issue_summarizer.cli.main import main
    from tests.conftest import make_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=200, repositories=10))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(out), "--config", "tiny", "--workers", "1"]
    assert main([*argv, "--epochs", "2", "--patience", "1"]) == 0
    # A learning rate far too high makes the resumed epochs worse than the earlier ones.
    assert main([*argv, "--resume", "--epochs", "4", "--learning-rate", "0.5"]) == 0
    printed = capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    losses = history["val_loss"]
    assert len(losses) == 3  # Stopped after epoch 3, which did not beat epoch 2.
    best = int(np.argmin(losses)) + 1
    assert best == 2 and losses[2] > losses[1]
    shipped = keras.saving.load_model(out / "model.keras", compile=False).get_weights()
    best_checkpoint = keras.saving.load_model(out / "checkpoints" / "epoch-02.keras").get_weights()
    last_checkpoint = keras.saving.load_model(out / "checkpoints" / "epoch-03.keras").get_weights()
    assert all(np.array_equal(left, right) for left, right in zip(shipped, best_checkpoint, strict=True))
    assert not all(np.array_equal(left, right) for left, right in zip(shipped, last_checkpoint, strict=True))
    training = json.loads((out / "training.json").read_text(), parse_constant=pytest.fail)
    assert training["best_epoch"] == 2 and training["best_val_loss"] == losses[1]
    assert training["epochs_run"] == 1
    assert f"{out / 'model.keras'} holds epoch 2, the best by validation loss ({losses[1]:.4f})" in printed
    # Resuming to fewer epochs than the run has done is refused, and changes nothing.
    before = directory_digest(out)
    assert main([*argv, "--resume", "--epochs", "2"]) == 2
    assert f"{out}: has already trained 3 epochs; --epochs must be more than that" in capsys.readouterr().err
    assert directory_digest(out) == before


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"), ("--max-rows-per-repository", "-1")],
)
def test_out_of_range_training_flags_are_refused_before_anything_is_written(tmp_path, capsys, flag, value):
    from issue_summarizer.cli.main import main

    argv = ["train", "--data", str(tmp_path / "issues.jsonl.gz"), "--out", str(tmp_path / "run"), flag, value]
    assert main(argv) == 2
    assert f"argument {flag}: expected a whole number of at least" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
