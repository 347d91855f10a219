"""Train a model directory: prepare the data, fit with teacher forcing, checkpoint, resume.

    python -m issue_summarizer train --data ../shared/data/github_issues.jsonl.gz --out model

The directory ends up self-describing: `model.keras`, `config.json`, both vocabularies,
`length_stats.json`, `split.json`, `provenance.json` (source file, row counts, split sizes,
no text), `history.json` and `training.json`. Encoded arrays and checkpoints go to
`checkpoints/` inside it, which is never committed because it is derived from issue text.

A run keeps its new description files in `checkpoints/` too, and moves them into the model
directory only once its `model.keras` is saved: until then the directory goes on describing
the model it holds, even if the run fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.config import CONFIG_FILE, DEFAULT_CONFIGURATION, SummarizerConfig, named_configuration
from issue_summarizer.data.loading import LoadedData, load_issues, parse_column_mapping
from issue_summarizer.data.prepare import (
    ARRAYS_FILE,
    BODY_VOCABULARY_FILE,
    DESCRIPTION_FILES,
    PROVENANCE_FILE,
    SPLIT_FILE,
    TITLE_VOCABULARY_FILE,
    prepare,
    save_prepared,
    summary_lines,
)
from issue_summarizer.data.splitting import RepositorySplit
from issue_summarizer.text.copying import to_decoder_input
from issue_summarizer.text.padding import bucket_lengths, cut_padding
from issue_summarizer.text.vocabulary import Vocabulary

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CHECKPOINT_DIRECTORY = "checkpoints"
CHECKPOINT_MODEL = "last.keras"
CHECKPOINT_STATE = "state.json"
# Every epoch's weights are also kept under their own name, so the last few can be averaged.
EPOCH_CHECKPOINT = "epoch-{epoch:02d}.keras"
HISTORY_FILE = "history.json"
TRAINING_FILE = "training.json"
# Which checkpoints `average` put into model.keras; a new `train` replaces those weights, so it removes it.
AVERAGING_FILE = "averaging.json"


def teacher_forcing(
    bodies: np.ndarray, titles: np.ndarray, copy_ids: np.ndarray | None = None, vocabulary_size: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Inputs, targets and sample weights: the decoder reads the title up to its last token and
    predicts it from the first word on; padding positions carry no weight in the loss.

    With `copy_ids` (the attention model), titles hold extended ids: targets keep them, so the
    model learns to copy, while the decoder reads copied words as the rare-word id.
    """
    targets = titles[:, 1:]
    weights = (targets != 0).astype(np.float32)
    if copy_ids is None:
        return [bodies, titles[:, :-1]], targets, weights
    return [bodies, copy_ids, to_decoder_input(titles[:, :-1], vocabulary_size)], targets, weights


def split_inputs(arrays: dict[str, np.ndarray], name: str, config: SummarizerConfig):
    """`teacher_forcing` for one split of prepared arrays."""
    return teacher_forcing(
        arrays[f"{name}_bodies"], arrays[f"{name}_titles"], arrays.get(f"{name}_copy_ids"), config.title_vocab_size
    )


def training_dataset(
    inputs: list[np.ndarray], targets: np.ndarray, weights: np.ndarray, batch_size: int, shuffle_seed: int | None
):
    """A `tf.data` pipeline of batches: reshuffled every epoch when `shuffle_seed` is given, and
    prefetched, so that preparing the next batch overlaps with training on this one."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((tuple(inputs), targets, weights))
    if shuffle_seed is not None:
        data = data.shuffle(len(targets), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices in batches whose rows share one bucket length, rows and batches in random order."""
    batches = []
    for length in np.unique(lengths):
        rows = rng.permutation(np.flatnonzero(lengths == length))
        batches.extend(rows[start : start + batch_size] for start in range(0, len(rows), batch_size))
    return [batches[index] for index in rng.permutation(len(batches))]


def bucketed_dataset(
    inputs: list[np.ndarray],
    targets: np.ndarray,
    weights: np.ndarray,
    config: SummarizerConfig,
    shuffle_seed: int,
):
    """Length-bucketed training batches, each cut to its bucket's length, reshuffled every epoch.

    Only padding is cut: every body in a batch is at most the batch's length long, and the cut
    is made on the padding side. The body-aligned inputs (body ids, and copy ids for attention
    models) come first in `inputs`.
    """
    import tensorflow as tf

    aligned = 2 if config.copies_from_body else 1
    lengths = bucket_lengths(inputs[0], config.length_buckets)
    epochs = itertools.count(shuffle_seed)

    def batches():
        # tf.data calls this once per epoch, so every epoch gets its own order.
        for rows in bucketed_batches(lengths, config.batch_size, np.random.default_rng(next(epochs))):
            length = int(lengths[rows[0]])
            batch = tuple(
                cut_padding(array[rows], length, config.body_padding) if index < aligned else array[rows]
                for index, array in enumerate(inputs)
            )
            yield batch, targets[rows], weights[rows]

    signature = (
        tuple(tf.TensorSpec((None, None), array.dtype) for array in inputs),
        tf.TensorSpec((None, targets.shape[1]), targets.dtype),
        tf.TensorSpec((None, weights.shape[1]), weights.dtype),
    )
    count = sum(-(-int(n) // config.batch_size) for n in np.unique(lengths, return_counts=True)[1])
    data = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return data.apply(tf.data.experimental.assert_cardinality(count)).prefetch(tf.data.AUTOTUNE)


def _training_batches(inputs, targets, weights, config: SummarizerConfig, shuffle_seed: int):
    if config.length_buckets:
        return bucketed_dataset(inputs, targets, weights, config, shuffle_seed)
    return training_dataset(inputs, targets, weights, config.batch_size, shuffle_seed)


@dataclass
class TrainingResult:
    history: dict[str, list[float]]
    seconds: float
    samples_per_second: float
    epochs_run: int
    # The epoch (counted from 1) whose weights the model holds: the run's best by validation loss,
    # or None where no epoch has a finite validation loss to judge by.
    best_epoch: int | None = None


def validation_settings(config: SummarizerConfig) -> dict:
    """The settings that decide what a validation loss measures. Losses measured under other
    settings (another label smoothing, titles cut to another length) cannot be compared."""
    return {"label_smoothing": float(config.label_smoothing), "title_length": int(config.title_length)}


def best_epoch_index(validation_losses: list[float], first: int = 0) -> int | None:
    """The index of the lowest finite validation loss from `first` on, the earliest on a tie
    (as `EarlyStopping` keeps the first epoch that reached its best), or None where there is none."""
    candidates = [(loss, index) for index, loss in enumerate(validation_losses) if index >= first and np.isfinite(loss)]
    return min(candidates)[1] if candidates else None


def _time_budget_callback():
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stops training after the first batch that ends past `seconds`; the epoch is then
        validated and checkpointed as usual. Comparisons at an equal training time use it."""

        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds
            self.started = time.perf_counter()
            self.batches_in_last_epoch: int | None = None

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self.started > self.seconds:
                self.model.stop_training = True
                self.batches_in_last_epoch = batch + 1

    return TimeBudget


def _make_callbacks(
    directory: Path,
    config: SummarizerConfig,
    initial_epoch: int,
    history: dict,
    time_budget: float | None = None,
    comparable_from: int = 0,
):
    """The callbacks of a run. `comparable_from` is the index of the run's first epoch whose
    validation loss was measured as this run's are; a resumed run's early stopping counts from
    the best of those epochs, so that it stops, as a first run would, after `patience` epochs that
    do not beat the run's best."""
    import keras

    from issue_summarizer.models.layers import save_atomically

    checkpoints = directory / CHECKPOINT_DIRECTORY

    class EpochCheckpoint(keras.callbacks.Callback):
        """Saves the model and the epoch count after every epoch, so `--resume` can continue.

        In a multi-worker run every worker saves, because saving creates variables and so takes
        part in the workers' collective operations; the other workers save into a temporary
        directory that is removed after training (`train_command`).
        """

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            # Each file is written whole or not at all, so a run interrupted here still resumes.
            save_atomically(self.model, checkpoints / CHECKPOINT_MODEL)
            write_atomically(
                checkpoints / EPOCH_CHECKPOINT.format(epoch=epoch + 1),
                lambda path: shutil.copyfile(checkpoints / CHECKPOINT_MODEL, path),
            )
            # What the validation losses measured, so that a resumed run knows which of them it can compare.
            state = json.dumps(
                {
                    "epoch": epoch + 1,
                    "history": history,
                    "validated_with": validation_settings(config),
                    "comparable_from": comparable_from,
                }
            )
            write_atomically(checkpoints / CHECKPOINT_STATE, lambda path: path.write_text(state))

    earlier = best_epoch_index(history.get("val_loss", [])[:initial_epoch], comparable_from)
    best_so_far = None if earlier is None else history["val_loss"][earlier]

    class RunEarlyStopping(keras.callbacks.EarlyStopping):
        """Early stopping that starts from the best validation loss of the run's earlier epochs,
        so that a resumed epoch counts as an improvement only when it beats them too. Its
        patience still starts at the resumption, so a run resumed at a lower rate gets it whole."""

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.best = best_so_far

    early_stopping = RunEarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True, start_from_epoch=initial_epoch
    )
    callbacks = [EpochCheckpoint(), early_stopping]
    if time_budget is not None:
        callbacks.insert(0, _time_budget_callback()(time_budget))
    if config.learning_rate_decay < 1:
        # Runs before the checkpoint, so that a resumed run continues at the lowered rate.
        reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=config.learning_rate_decay, patience=0)
        callbacks.insert(0, reduce)
    return callbacks


def _work_around_keras_multi_worker_reductions(model) -> None:
    """Let Keras 3.15's `fit` run under `MultiWorkerMirroredStrategy` (tensorflow/tensorflow#72388).

    Keras averages each step's metrics over the workers with `reduce("MEAN", axis=0)`, which
    fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"): the steps
    here return them as 1-element vectors, which that reduction turns back into scalars.
    `fit` would also rebuild the already built model from one batch averaged over the workers,
    which fails on integer inputs; clearing the remembered strategy skips that, and `fit` still
    runs under the strategy, which it takes from the scope.
    """
    from keras import ops

    def vector_metrics(step):
        return lambda data: {name: ops.reshape(value, (1,)) for name, value in step(data).items()}

    model.optimizer.build(model.trainable_variables)
    model._distribute_strategy = None
    model.train_step = vector_metrics(model.train_step)
    model.test_step = vector_metrics(model.test_step)


def _label_smoothing(model) -> float:
    """The label smoothing of a compiled checkpoint model's loss."""
    from issue_summarizer.models.layers import SmoothedCrossEntropy

    return float(model.loss.smoothing) if isinstance(model.loss, SmoothedCrossEntropy) else 0.0


def _continue_with(model, config: SummarizerConfig, learning_rate: float | None) -> None:
    """Set a resumed model's learning rate and loss, keeping its optimizer's moments."""
    from issue_summarizer.models.layers import training_loss

    if learning_rate is not None:
        model.optimizer.learning_rate.assign(learning_rate)
    if _label_smoothing(model) != config.label_smoothing:
        model.compile(optimizer=model.optimizer, loss=training_loss(config), weighted_metrics=[])


def read_checkpoint_state(path: Path) -> tuple[int, dict[str, list[float]]]:
    """The epochs done and the history recorded in a checkpoint's `state.json`, or a
    `ValueError` that names the file."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return int(state["epoch"]), dict(state["history"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: not a valid checkpoint state ({type(error).__name__}: {error}); "
            "run without --resume to start a new run"
        ) from None


def _comparable_from(
    state_path: Path, config: SummarizerConfig, initial_epoch: int, checkpoint_smoothing: float
) -> int:
    """The index of a resumed run's first epoch whose validation loss can be compared with the
    epochs it trains now: its earlier epochs', unless this run measures the loss otherwise."""
    state = json.loads(state_path.read_text(encoding="utf-8"))
    recorded = state.get("validated_with")
    if recorded is None:
        # A checkpoint from before the settings were recorded: its loss's label smoothing is all
        # there is to compare (its title length is not recorded anywhere that survives a resumption).
        same = checkpoint_smoothing == config.label_smoothing
        return 0 if same else initial_epoch
    if recorded != validation_settings(config):
        return initial_epoch
    comparable_from = state.get("comparable_from", 0)
    return comparable_from if isinstance(comparable_from, int) and 0 <= comparable_from <= initial_epoch else 0


def _keep_best_epoch(model, history: dict, comparable_from: int, early_stopping, checkpoints: Path) -> int | None:
    """Give the model the weights of the run's best epoch by validation loss, and return that
    epoch, counted from 1.

    Early stopping restores the best of the epochs this `fit` trained. A resumed run's best may
    be an earlier epoch, whose weights only its epoch checkpoint still holds.
    """
    import keras

    losses = history.get("val_loss", [])
    best = best_epoch_index(losses, comparable_from)
    held = early_stopping.best_epoch if early_stopping.best_weights is not None else len(losses) - 1
    if best is None or best == held:
        return None if best is None else best + 1
    path = checkpoints / EPOCH_CHECKPOINT.format(epoch=best + 1)
    if not path.is_file():
        print(f"{path}: missing, so the weights of epoch {held + 1} are kept though epoch {best + 1} was better")
        return held + 1
    model.set_weights(keras.saving.load_model(path, compile=False).get_weights())
    return best + 1


def epochs_already_trained_message(directory: Path, done: int) -> str:
    """Why a resumption that would train no epoch is refused."""
    epochs = "1 epoch" if done == 1 else f"{done} epochs"
    return f"{directory}: has already trained {epochs}; --epochs must be more than that to resume"


def train_model(
    arrays: dict[str, np.ndarray],
    config: SummarizerConfig,
    directory: str | Path,
    resume: bool = False,
    verbose: int = 1,
    time_budget: float | None = None,
    strategy=None,
    resume_learning_rate: float | None = None,
):
    """Fit a model on prepared arrays and return it with a `TrainingResult`.

    A resumed run continues with the checkpoint's optimizer state and learning rate, or at
    `resume_learning_rate` when given (fine-tuning a finished run at a lower rate), and with
    `config.label_smoothing`, which may differ from the checkpoint's.

    With a `tf.distribute` `strategy`, the model is built and trained under it.

    With `time_budget` (seconds), training stops after the batch that passes it, even inside
    an epoch, and that last partial epoch is validated and checkpointed like a whole one.
    """
    import keras

    from issue_summarizer.models.building import build_training_model
    from issue_summarizer.models.layers import precision_policy

    directory = Path(directory)
    checkpoints = directory / CHECKPOINT_DIRECTORY
    checkpoints.mkdir(parents=True, exist_ok=True)
    if not resume:
        # A new run must not leave an earlier run's epochs behind for `average` to mix in.
        for stale in checkpoints.glob(EPOCH_CHECKPOINT.replace("{epoch:02d}", "*")):
            stale.unlink()
    keras.utils.set_random_seed(config.seed)
    initial_epoch, history, comparable_from = 0, {}, 0
    state_file = checkpoints / CHECKPOINT_STATE
    inputs, targets, weights = split_inputs(arrays, "train", config)
    validation = split_inputs(arrays, "validation", config)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with precision_policy(config.precision), scope:
        if resume and state_file.is_file() and (checkpoints / CHECKPOINT_MODEL).is_file():
            initial_epoch, history = read_checkpoint_state(state_file)
            if initial_epoch >= config.epochs:
                # It would train nothing, and only replace the model directory's files with the last epoch's.
                raise ValueError(epochs_already_trained_message(directory, initial_epoch))
            model = keras.saving.load_model(checkpoints / CHECKPOINT_MODEL)
            comparable_from = _comparable_from(state_file, config, initial_epoch, _label_smoothing(model))
            _continue_with(model, config, resume_learning_rate)
            print(f"resuming from epoch {initial_epoch} at learning rate {float(model.optimizer.learning_rate):.2g}")
            if comparable_from:
                print(
                    f"validation losses before epoch {comparable_from + 1} were measured with another label "
                    "smoothing or title length, so the run keeps its best epoch from there on"
                )
        else:
            model = build_training_model(config)
        if strategy is not None:
            _work_around_keras_multi_worker_reductions(model)
        started = time.perf_counter()
        callbacks = _make_callbacks(directory, config, initial_epoch, history, time_budget, comparable_from)
        model.fit(
            _training_batches(inputs, targets, weights, config, shuffle_seed=config.seed + initial_epoch),
            validation_data=training_dataset(*validation, config.batch_size, shuffle_seed=None),
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # The dataset reshuffles itself every epoch.
            callbacks=callbacks,
            verbose=verbose,
        )
    seconds = time.perf_counter() - started
    # An earlier epoch's checkpoint is loaded outside the strategy's scope: a model built inside
    # it would take part in the workers' collective operations, which the other workers might not join.
    early_stopping = next(callback for callback in callbacks if isinstance(callback, keras.callbacks.EarlyStopping))
    best_epoch = _keep_best_epoch(model, history, comparable_from, early_stopping, checkpoints)
    epochs_run = len(history.get("loss", [])) - initial_epoch
    samples = epochs_run * len(targets)
    partial = [callback.batches_in_last_epoch for callback in callbacks if hasattr(callback, "batches_in_last_epoch")]
    if partial and partial[0] is not None:
        # The last epoch stopped early: count the batches it ran (the last full batch is an upper bound).
        samples -= len(targets) - min(partial[0] * config.batch_size, len(targets))
    return model, TrainingResult(history, seconds, samples / seconds if seconds else 0.0, epochs_run, best_epoch)


def _config_from_args(args) -> SummarizerConfig:
    config = named_configuration(args.config or DEFAULT_CONFIGURATION)
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "length_buckets": args.length_buckets,
        "body_length": args.body_length,
        "title_length": args.title_length,
        "patience": args.patience,
        "learning_rate_decay": args.learning_rate_decay,
        "label_smoothing": args.label_smoothing,
        "learning_rate": args.learning_rate,
    }
    config = config.updated(**{key: value for key, value in overrides.items() if value is not None})
    if args.max_rows_per_repository is not None:
        config = config.updated(max_rows_per_train_repository=args.max_rows_per_repository or None)
    return config


def _prepare_again(loaded: LoadedData, args, config: SummarizerConfig, directory: Path) -> dict[str, np.ndarray]:
    """A resumed run's data prepared again under `config`, whose title length differs.

    The recurrent decoder reads titles of any length, so a run can go on to learn from titles
    it used to cut. Its embeddings and output layer belong to its vocabularies, so the same data
    must give the same split and vocabularies; other data is refused. (The rows kept may differ
    a little: a title whose first words are all rare is kept once its later words are read.)
    The new files go to the checkpoint directory, and reach the model directory only when
    training has finished (`_promote_run_files`), so an interrupted run leaves the model
    directory describing the model it holds.
    """
    if config.architecture == "transformer":
        raise ValueError(
            f"{directory}: a Transformer's title positions are learned up to its title length, "
            "so its run cannot go on with another --title-length; start a new run instead"
        )
    checkpoints = directory / CHECKPOINT_DIRECTORY
    extra = [load_issues(path, require_title=True) for path in args.extra_data or []]
    prepared = prepare(loaded, config, workers=args.workers, extra=extra)
    same_split = RepositorySplit.load(run_file(directory, SPLIT_FILE)) == prepared.split
    same_vocabularies = all(
        Vocabulary.load(run_file(directory, name)).tokens == vocabulary.tokens
        for name, vocabulary in (
            (BODY_VOCABULARY_FILE, prepared.body_vocabulary),
            (TITLE_VOCABULARY_FILE, prepared.title_vocabulary),
        )
    )
    if not (same_split and same_vocabularies):
        raise ValueError(
            f"{directory}: this data gives another split or other vocabularies than the run's; "
            "resume with the run's own --data and --extra-data"
        )
    save_prepared(prepared, checkpoints, include_arrays=False)
    np.savez_compressed(checkpoints / ARRAYS_FILE, **prepared.arrays)
    print(f"prepared the run's arrays again with titles of {config.title_length} tokens")
    return prepared.arrays


def run_file(directory: Path, name: str) -> Path:
    """A run's own description file: the one waiting in its checkpoints while the run is under
    way (a new run's, or a resumed run's with new settings), else the model directory's."""
    pending = directory / CHECKPOINT_DIRECTORY / name
    return pending if pending.is_file() else directory / name


def _promote_run_files(directory: Path) -> None:
    """Move a finished run's new description files from its checkpoints into the directory."""
    for name in DESCRIPTION_FILES:
        pending = directory / CHECKPOINT_DIRECTORY / name
        if pending.is_file():
            os.replace(pending, directory / name)


def _start_new_run(checkpoints: Path) -> None:
    """Remove an earlier run's checkpoint, so that `--resume` cannot later load its weights
    with this run's arrays and vocabularies (and `average` cannot mix in its epochs)."""
    checkpoints.mkdir(parents=True, exist_ok=True)
    for stale in (CHECKPOINT_MODEL, CHECKPOINT_STATE):
        (checkpoints / stale).unlink(missing_ok=True)
    for stale in checkpoints.glob(EPOCH_CHECKPOINT.replace("{epoch:02d}", "*")):
        stale.unlink()


def _require_checkpoint(directory: Path) -> int:
    """Refuse `--resume` where there is nothing to resume, rather than train a new model over the
    old; return the epochs the checkpoint has done."""
    checkpoints = directory / CHECKPOINT_DIRECTORY
    missing = [name for name in (CHECKPOINT_MODEL, CHECKPOINT_STATE, ARRAYS_FILE) if not (checkpoints / name).is_file()]
    if missing:
        raise ValueError(
            f"{directory}: no checkpoint to resume from ({', '.join(missing)} missing in {checkpoints}); "
            "run without --resume to start a new run"
        )
    return read_checkpoint_state(checkpoints / CHECKPOINT_STATE)[0]


def _refuse_settings_resume_cannot_apply(args, config: SummarizerConfig, directory: Path, workers: int) -> None:
    """A resumed run goes on with its own data, vocabularies, batches and model, so it refuses
    flags that would change them, rather than ignore them. A flag that repeats the run's own
    value is fine: the command that started a run can be given again with `--resume`."""
    max_rows = args.max_rows_per_repository
    # (flag, its value as given, that value as the run's configuration would hold it, the run's value)
    flags = [
        ("--config", args.config, args.config, config.name),
        ("--batch-size", args.batch_size, args.batch_size and args.batch_size * workers, config.batch_size),
        ("--precision", args.precision, args.precision, config.precision),
        ("--length-buckets", args.length_buckets, args.length_buckets, config.length_buckets),
        ("--body-length", args.body_length, args.body_length, config.body_length),
        ("--patience", args.patience, args.patience, config.patience),
        ("--learning-rate-decay", args.learning_rate_decay, args.learning_rate_decay, config.learning_rate_decay),
        ("--max-rows-per-repository", max_rows, max_rows or None, config.max_rows_per_train_repository),
    ]
    conflicts = [
        f"{flag} {given} (the run's: {'no cap' if run_value is None else run_value})"
        for flag, given, wanted, run_value in flags
        if given is not None and wanted != run_value
    ]
    if conflicts:
        raise ValueError(
            f"{directory}: --resume goes on with the run's own settings and cannot apply {', '.join(conflicts)}; "
            "leave those flags out, or run without --resume to start a new run with them"
        )


def _same_source(recorded: str, given: str | Path) -> bool:
    """Whether the file a run recorded as its source is the file given now."""
    recorded_path, given_path = Path(recorded), Path(given)
    if recorded_path == given_path:
        return True
    if recorded_path.exists() and given_path.exists():
        return os.path.samefile(recorded_path, given_path)
    # A path recorded from another working directory or machine (a copied run) cannot be followed
    # from here; the file's name is then all there is to compare, and the count of rows read,
    # checked once the data is loaded, catches other data under the same name.
    return not recorded_path.exists() and recorded_path.name == given_path.name


def _run_provenance(directory: Path) -> dict | None:
    path = run_file(directory, PROVENANCE_FILE)
    if not path.is_file():
        return None  # A directory from before provenance was recorded: nothing to compare with.
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _refuse_other_data(args, directory: Path, loaded: LoadedData | None = None) -> None:
    """A resumed run trains on the arrays it prepared, so other data would be ignored for
    training and then used to test it. Refuse it: a `--data` that is not the run's source, an
    `--extra-data` list that is not the run's, and (once `loaded`) another number of rows read,
    which a changed file or another `--limit` gives."""
    provenance = _run_provenance(directory)
    if provenance is None:
        return
    advice = "resume with the run's own --data, or run without --resume to start a new run on this data"
    source = provenance.get("source")
    if source and not _same_source(source, args.data):
        raise ValueError(f"{directory}: the run was prepared from {source}, not {args.data}; {advice}")
    recorded_extra = (provenance.get("extra_training_data") or {}).get("sources") or []
    given_extra = args.extra_data or []
    if given_extra and (
        len(given_extra) != len(recorded_extra)
        or not all(_same_source(old, new) for old, new in zip(recorded_extra, given_extra, strict=True))
    ):
        recorded = ", ".join(recorded_extra) or "none"
        raise ValueError(
            f"{directory}: the run's extra training data was {recorded}, not {', '.join(map(str, given_extra))}; "
            "resume with the run's own --extra-data, or without it"
        )
    rows_read = provenance.get("rows_read")
    if loaded is not None and rows_read is not None and loaded.rows_read != rows_read:
        raise ValueError(
            f"{directory}: the run was prepared from {rows_read:,} rows of {source}, and {args.data} now gives "
            f"{loaded.rows_read:,} (a changed file, or another --limit); {advice}"
        )


def train_command(args) -> LoadedData | None:
    """`train`: prepare (or reuse the prepared arrays when resuming), then fit and save.

    Under `TF_CONFIG` every worker runs this; the chief writes the model directory, and the
    other workers keep their files in a temporary directory and return None.
    """
    from issue_summarizer.models.building import save_for_inference
    from issue_summarizer.training.distributed import cluster_from_environment, multi_worker_strategy, scaled_config

    cluster = cluster_from_environment()
    # The strategy must exist before any other TensorFlow operation of the process.
    strategy = multi_worker_strategy() if cluster else None
    is_chief = cluster is None or cluster.is_chief
    workers = cluster.workers if cluster else 1
    if cluster:
        print(f"worker {cluster.index} of {workers}{' (chief)' if is_chief else ''}")
    directory = (
        Path(args.out) if is_chief else Path(tempfile.mkdtemp(prefix=f"issue-summarizer-worker-{cluster.index}-"))
    )
    checkpoints = directory / CHECKPOINT_DIRECTORY
    arrays_path = checkpoints / ARRAYS_FILE
    # The other workers keep no checkpoint of their own; they take part in the chief's run.
    resuming = args.resume and is_chief
    if resuming:
        # Everything a resumed run cannot do is refused before any data is read or trained on.
        done = _require_checkpoint(directory)
        # The run's own configuration: the checkpoint's while a run is under way.
        config = SummarizerConfig.load(checkpoints if (checkpoints / CONFIG_FILE).is_file() else directory)
        _refuse_settings_resume_cannot_apply(args, config, directory, workers)
        if (args.epochs or config.epochs) <= done:
            # It would train nothing, and only replace model.keras and its records with the last epoch's.
            raise ValueError(epochs_already_trained_message(directory, done))
        _refuse_other_data(args, directory)
    else:
        config = scaled_config(_config_from_args(args), workers)
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns), limit=args.limit)
    if resuming:
        _refuse_other_data(args, directory, loaded)
        # A run can be stretched, and its last epochs can run at a lower learning rate, with
        # label smoothing or on longer titles.
        overrides = {"epochs": args.epochs, "label_smoothing": args.label_smoothing, "title_length": args.title_length}
        overrides = {key: value for key, value in overrides.items() if value is not None}
        new_title_length = overrides.get("title_length", config.title_length) != config.title_length
        config = config.updated(**overrides)
        if new_title_length:
            arrays = _prepare_again(loaded, args, config, directory)
        else:
            arrays = dict(np.load(arrays_path))
            print(f"reusing prepared arrays from {arrays_path}")
        if overrides:
            # The directory's own config.json describes its model.keras until training has finished.
            config.save(checkpoints)
    else:
        extra = [load_issues(path, require_title=True) for path in args.extra_data or []]
        prepared = prepare(loaded, config, workers=args.workers, extra=extra)
        for line in summary_lines(prepared, loaded):
            print(line)
        # The new description waits in the checkpoints until model.keras matches it (`_promote_run_files`).
        _start_new_run(checkpoints)
        save_prepared(prepared, checkpoints, include_arrays=False)
        np.savez_compressed(arrays_path, **prepared.arrays)
        arrays = prepared.arrays
    model, result = train_model(
        arrays,
        config,
        directory,
        resume=args.resume,
        time_budget=args.time_budget,
        strategy=strategy,
        resume_learning_rate=args.learning_rate if args.resume else None,
    )
    if not is_chief:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"worker {cluster.index}: trained {result.epochs_run} epochs; the chief writes the model")
        return None
    # model.keras first, then the files that describe it: until both are in place, an
    # interrupted run leaves the old model with its own description.
    save_for_inference(model, config, directory / "model.keras")
    _promote_run_files(directory)
    config.save(directory)
    # model.keras now holds this run's best epoch, not an average `average` recorded.
    (directory / AVERAGING_FILE).unlink(missing_ok=True)
    (directory / HISTORY_FILE).write_text(json.dumps(result.history, indent=1))
    validation_losses = result.history.get("val_loss", [])
    best = result.best_epoch
    training = {
        "configuration": config.name,
        "epochs_run": result.epochs_run,
        "seconds": round(result.seconds, 1),
        "samples_per_second": round(result.samples_per_second, 1),
        "train_rows": int(len(arrays["train_titles"])),
        # The epoch model.keras holds, and its loss: null, not NaN (which is not JSON), when no
        # epoch has a finite validation loss.
        "best_epoch": best,
        "best_val_loss": validation_losses[best - 1] if best else None,
    }
    (directory / TRAINING_FILE).write_text(json.dumps(training, indent=1))
    print(f"trained {result.epochs_run} epochs in {result.seconds:.0f} s ({result.samples_per_second:.0f} samples/s)")
    if best:
        loss = training["best_val_loss"]
        print(f"{directory / 'model.keras'} holds epoch {best}, the best by validation loss ({loss:.4f})")
    return loaded
