"""Average the weights of a training run's last few epoch checkpoints.

The mean of nearby points on the optimisation path often sits lower in the loss than any of
them (Polyak averaging; Vaswani et al. averaged the last checkpoints of every Transformer).
It costs no training, only a validation pass per candidate, so `average` keeps the mean only
when it lowers the validation loss of the weights `model.keras` holds now. Those are not
always the last checkpoint's: early stopping ships its best epoch, and an earlier `average`
its mean, either of which may beat the new mean.

    python -m issue_summarizer average --model runs/model-250 --last 3
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from issue_summarizer.config import CONFIG_FILE, SummarizerConfig
from issue_summarizer.data.prepare import ARRAYS_FILE
from issue_summarizer.training.trainer import AVERAGING_FILE, CHECKPOINT_DIRECTORY, split_inputs, training_dataset

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
_EPOCH_FILE = re.compile(r"epoch-(\d+)\.keras$")


def epoch_checkpoints(directory: str | Path) -> list[Path]:
    """The run's per-epoch checkpoints, oldest first."""
    checkpoints = Path(directory) / CHECKPOINT_DIRECTORY
    found = [
        (int(match.group(1)), path)
        for path in checkpoints.glob("epoch-*.keras")
        if (match := _EPOCH_FILE.search(path.name))
    ]
    return [path for _, path in sorted(found)]


def average_weights(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several models' weights, which must have the same shapes."""
    if not weight_lists:
        raise ValueError("nothing to average")
    shapes = [[weight.shape for weight in weights] for weights in weight_lists]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError("the checkpoints have different weight shapes; were they trained with one configuration?")
    return [np.mean(np.stack(group), axis=0).astype(group[0].dtype) for group in zip(*weight_lists, strict=True)]


@dataclass
class AveragingResult:
    checkpoints: list[str]
    last_loss: float
    averaged_loss: float
    # The validation loss of the weights model.keras holds, or None where there is no model.keras yet.
    model_loss: float | None = None

    @property
    def helps(self) -> bool:
        """Whether the mean beats what would otherwise be shipped: model.keras, or the last checkpoint."""
        return self.averaged_loss < (self.last_loss if self.model_loss is None else self.model_loss)


def average_last_checkpoints(directory: str | Path, last: int) -> tuple[keras.Model, AveragingResult]:
    """(the model holding the mean of the last `last` epoch checkpoints, an `AveragingResult`
    with the validation losses of the mean, of the last checkpoint and of the weights in
    `model.keras`, all on the run's prepared validation rows)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: {'not a directory' if directory.exists() else 'no such directory'}")
    if last < 2:
        raise ValueError("average at least 2 checkpoints")
    paths = epoch_checkpoints(directory)
    if len(paths) < last:
        raise ValueError(f"{directory}: {len(paths)} epoch checkpoints, fewer than the {last} asked for")
    checkpoints = directory / CHECKPOINT_DIRECTORY
    if (checkpoints / CONFIG_FILE).is_file():
        # Its checkpoints and arrays belong to the new description waiting there, not to the
        # directory's config.json and model.keras.
        raise ValueError(
            f"{directory}: a training run in {checkpoints} has not finished; "
            "finish it with `train --resume` before averaging its checkpoints"
        )
    arrays_path = checkpoints / ARRAYS_FILE
    if not arrays_path.is_file():
        raise ValueError(f"{arrays_path}: missing; the validation rows are needed to judge the average")
    config = SummarizerConfig.load(directory)
    # Keras is imported only now, so that the checks above answer a mistyped command at once.
    import keras

    import issue_summarizer.models.building  # noqa: F401  Registers the custom layers for deserialization.

    chosen = paths[-last:]
    # Each checkpoint's weights are copied out as it is loaded, so that judging other weights in
    # the last checkpoint's model below cannot change what is averaged.
    checkpoint_weights = []
    for path in chosen:
        last_model = keras.saving.load_model(path)
        checkpoint_weights.append(last_model.get_weights())
    with np.load(arrays_path) as arrays:
        validation = split_inputs(
            {key: arrays[key] for key in arrays.files if key.startswith("validation")}, "validation", config
        )
    data = training_dataset(*validation, config.batch_size, shuffle_seed=None)
    last_loss = float(last_model.evaluate(data, verbose=0))
    model_loss = None
    model_path = directory / MODEL_FILE
    if model_path.is_file():
        # model.keras is saved without its optimizer and loss, so its weights are judged in the
        # compiled checkpoint model, by the same loss as the mean.
        try:
            last_model.set_weights(keras.saving.load_model(model_path, compile=False).get_weights())
        except ValueError as error:
            raise ValueError(f"{model_path}: its weights do not fit the run's checkpoints ({error})") from None
        model_loss = float(last_model.evaluate(data, verbose=0))
    averaged = average_weights(checkpoint_weights)
    last_model.set_weights(averaged)
    averaged_loss = float(last_model.evaluate(data, verbose=0))
    return last_model, AveragingResult([path.name for path in chosen], last_loss, averaged_loss, model_loss)


def average_command(args) -> None:
    """`average`: replace the model directory's `model.keras` by the mean of its last checkpoints
    when that lowers the validation loss (or always, with `--force`)."""
    from issue_summarizer.atomic_files import write_atomically
    from issue_summarizer.models.building import save_for_inference

    directory = Path(args.model)
    model, result = average_last_checkpoints(directory, args.last)
    shipped = "" if result.model_loss is None else f"{MODEL_FILE} {result.model_loss:.4f}, "
    print(
        f"validation loss: {shipped}last checkpoint {result.last_loss:.4f}, "
        f"mean of {', '.join(result.checkpoints)} {result.averaged_loss:.4f}"
    )
    kept = result.helps or args.force
    if kept:
        save_for_inference(model, SummarizerConfig.load(directory), directory / MODEL_FILE)
        print(f"wrote the averaged weights to {directory / MODEL_FILE}")
    else:
        compared = "the last checkpoint's" if result.model_loss is None else f"that of {MODEL_FILE}"
        print(f"the average does not lower the validation loss below {compared}; {MODEL_FILE} is unchanged")
    record = {**result.__dict__, "kept": kept}
    if not kept and _holds_a_kept_mean(directory):
        # model.keras still holds that earlier mean, which its record describes (the Overview reads it).
        print(f"{directory / AVERAGING_FILE} keeps describing the mean that {MODEL_FILE} holds")
        return
    write_atomically(directory / AVERAGING_FILE, lambda path: path.write_text(json.dumps(record, indent=1)))


def _holds_a_kept_mean(directory: Path) -> bool:
    """Whether the directory's averaging record says model.keras holds a mean written earlier."""
    try:
        return bool(json.loads((directory / AVERAGING_FILE).read_text(encoding="utf-8")).get("kept"))
    except (OSError, ValueError, AttributeError):
        return False
