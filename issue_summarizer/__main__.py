"""Command line: `python -m issue_summarizer {prepare,train,tune,summarize,evaluate} ...`.

Every user error (a bad file, a missing model, an argument out of range) ends with one line
on stderr and exit status 2, never a traceback or a usage block. Files and arguments are
checked before TensorFlow loads wherever the check does not need the model.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
MODEL_FILE = "model.keras"


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send what native code writes to stderr (file descriptor 2) nowhere, for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's module with native stderr silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str):
        # Everything else (resources, source, file names) as the real loader answers it.
        if name == "loader":
            raise AttributeError(name)  # Not set yet (a copy being made): no endless lookup.
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _stderr_silenced():
            self.loader.exec_module(module)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow and Keras, when something first imports them, without their start-up lines.

    Their native libraries log through absl before it is initialized ("All log messages before
    absl::InitializeLog() ...", "oneDNN custom operations are on ..."), which TF_CPP_MIN_LOG_LEVEL
    does not reach, so every command that loads the model would print them before its own output
    or its one `error:` line. Only the import is silenced: an import that fails still raises its
    exception, and TensorFlow's later warnings (after TF_CPP_MIN_LOG_LEVEL applies) still show.
    oneDNN itself stays on (TF_ENABLE_ONEDNN_OPTS is left alone), so numbers do not change.
    """

    NAMES = ("tensorflow", "keras")

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.NAMES:
            return None
        # Found by the other finders, with this one out of the way.
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_start_up() -> None:
    """Install `_QuietTensorFlowImport` (once); the command line does, before any command runs."""
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default in --help, unless its help already speaks of it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """The parser of the command and of each subcommand (argparse makes subparsers of the parent's class).

    A bad argument ends with one `error:` line and exit status 2, like every other user error
    (`main`), rather than a usage block first.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        # The top level has only commands to offer, which its --help lists.
        hint = f" (see {self.prog} --help)" if self._subparsers is not None else ""
        self.exit(2, f"error: {message}{hint}\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of rows, epochs, beams, ...)."""
    return _bounded_int(text, 1, "a whole number of at least 1")


def at_least_two(text: str) -> int:
    """An argparse type: a whole number of at least 2 (a mean of one checkpoint is that checkpoint)."""
    return _bounded_int(text, 2, "a whole number of at least 2")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0, for counts where 0 has a documented meaning."""
    return _bounded_int(text, 0, "a whole number of at least 0")


def _bounded_int(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _load(args, require_title: bool):
    from issue_summarizer.data_loading import load_issues, parse_column_mapping

    loaded = load_issues(
        args.data if hasattr(args, "data") and args.data else args.input,
        preset=args.preset,
        columns=parse_column_mapping(args.columns),
        require_title=require_title,
        limit=args.limit,
    )
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return loaded


def command_prepare(args) -> None:
    from issue_summarizer.config import DEFAULT_CONFIGURATION, named_configuration
    from issue_summarizer.prepare import prepare, save_prepared, summary_lines

    config = named_configuration(args.config or DEFAULT_CONFIGURATION)
    if (args.out / MODEL_FILE).exists():
        # prepare writes its own config.json and vocabularies, which would then no longer
        # describe the model beside them; `train` replaces them only together with the model.
        raise ValueError(
            f"{args.out}: holds a trained model ({MODEL_FILE}), whose config.json and vocabularies prepare would "
            "replace; choose another --out"
        )
    if args.out.exists() and not args.out.is_dir():
        # Checked before the data is read and prepared, which can take minutes.
        raise ValueError(f"{args.out}: a file, not a directory; --out names the directory to write")
    loaded = _load(args, require_title=True)
    started = time.perf_counter()
    prepared = prepare(loaded, config, workers=args.workers)
    save_prepared(prepared, args.out)
    for line in summary_lines(prepared, loaded):
        print(line)
    print(f"prepared in {time.perf_counter() - started:.1f} s; wrote {args.out}")


def command_train(args) -> None:
    from issue_summarizer.evaluation import evaluate_model_directory
    from issue_summarizer.training import train_command

    loaded = train_command(args)
    if loaded is not None:  # None on the workers of a multi-worker run other than the chief.
        evaluate_model_directory(args.out, loaded, "test")


def _refuse_remote_input_locally(args) -> None:
    """Say which engine reads object storage, rather than report "no such file" for an s3:// input."""
    if args.engine == "local" and "://" in args.input:
        from issue_summarizer.data_loading import DataLoadError

        raise DataLoadError(f"{args.input}: the local engine reads local files only; use --engine ray for a URL")


def command_summarize(args) -> None:
    _refuse_remote_input_locally(args)
    if args.engine == "ray":
        from issue_summarizer.ray_engine import summarize_with_ray

        summarize_with_ray(args)
        return
    from issue_summarizer.batch import summarize_file

    summarize_file(args)


def command_embed(args) -> None:
    _refuse_remote_input_locally(args)
    if args.engine == "ray":
        from issue_summarizer.ray_engine import embed_with_ray

        embed_with_ray(args)
        return
    from issue_summarizer.embedding_file import embed_file

    embed_file(args)


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", choices=["local", "ray"], default="local", help="local (default), or Ray Data actors"
    )
    parser.add_argument("--address", help="with --engine ray: an existing Ray cluster (default: start one here)")
    parser.add_argument(
        "--ray-actors", type=positive_int, default=1, help="with --engine ray: model actors (default: 1)"
    )


def command_evaluate(args) -> None:
    from issue_summarizer.evaluation import evaluate_command

    evaluate_command(args)


def command_average(args) -> None:
    from issue_summarizer.checkpoint_averaging import average_command

    average_command(args)


def command_compare(args) -> None:
    from issue_summarizer.significance import compare_command

    compare_command(args)


def command_tune(args) -> None:
    from issue_summarizer.decoding_search import tune_command

    tune_command(args)


def command_warm_cache(args) -> None:
    from issue_summarizer.cache_warming import warm_cache_command

    warm_cache_command(args)


def _add_data_arguments(
    parser: argparse.ArgumentParser, flag: str, remote: bool = False, limit_help: str = "read only the first N rows"
) -> None:
    # Path() would fold "s3://bucket/x" into "s3:/bucket/x", so inputs that Ray may read from
    # object storage stay strings.
    parser.add_argument(
        flag,
        required=True,
        type=str if remote else Path,
        help="CSV, TSV, JSONL(.gz) or parquet file" + (" (with --engine ray also s3:// or gs://)" if remote else ""),
    )
    parser.add_argument("--preset", choices=["kaggle", "news", "corpus"], help="column names of a known format")
    parser.add_argument("--columns", help="column mapping, e.g. title=issue_title,body=body,repo=repo")
    parser.add_argument("--limit", type=positive_int, help=limit_help)


def build_parser() -> argparse.ArgumentParser:
    # config.py reads no TensorFlow, so the names come from the one list `train` accepts.
    from issue_summarizer.config import CONFIGURATIONS, DEFAULT_CONFIGURATION

    configurations = f"named configuration: {', '.join(CONFIGURATIONS)} (default: {DEFAULT_CONFIGURATION})"
    parser = _Parser(
        prog="python -m issue_summarizer", description="Issue Summarizer: write a GitHub issue's title from its body."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser("prepare", help="clean, tokenize, split and encode a data file")
    _add_data_arguments(prepare, "--data")
    prepare.add_argument("--out", required=True, type=Path, help="directory for arrays, vocabularies and stats")
    prepare.add_argument("--config", choices=CONFIGURATIONS, metavar="NAME", help=configurations)
    prepare.add_argument("--workers", type=positive_int, help="processes for tokenizing (default: all cores)")
    prepare.set_defaults(run=command_prepare)

    train = commands.add_parser("train", help="prepare the data and train a model directory")
    _add_data_arguments(train, "--data")
    train.add_argument("--out", required=True, type=Path, help="model directory to write")
    train.add_argument(
        "--config", choices=CONFIGURATIONS, metavar="NAME", help=f"{configurations}; with --resume, the run's own"
    )
    train.add_argument("--epochs", type=positive_int, help="override the configuration's epochs")
    train.add_argument("--batch-size", type=positive_int, help="override the configuration's batch size")
    train.add_argument(
        "--precision", choices=["float32", "mixed_bfloat16"], help="override the configuration's precision"
    )
    train.add_argument(
        "--length-buckets",
        type=non_negative_int,
        help="override the configuration's length bucketing (N similar-length batch shapes; 0 is off)",
    )
    train.add_argument("--body-length", type=positive_int, help="override the configuration's body window, in tokens")
    train.add_argument(
        "--title-length",
        type=positive_int,
        help="override the configuration's title length, markers included; with --resume, the run's arrays are "
        "prepared again from the same --data and --extra-data",
    )
    train.add_argument("--patience", type=non_negative_int, help="override the configuration's early-stopping patience")
    train.add_argument(
        "--learning-rate-decay",
        type=float,
        help="multiply the learning rate by this after an epoch without a better validation loss (1: never)",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --out, with the run's own --data and settings",
    )
    train.add_argument("--label-smoothing", type=float, help="override the configuration's label smoothing (0: off)")
    train.add_argument(
        "--learning-rate",
        type=float,
        help="override the configuration's learning rate; with --resume, the rate from now on",
    )
    train.add_argument(
        "--time-budget", type=float, help="stop after this many seconds of training, even inside an epoch"
    )
    train.add_argument(
        "--extra-data",
        type=Path,
        action="append",
        help="more training rows (other trackers, pull requests); repeatable",
    )
    train.add_argument(
        "--max-rows-per-repository", type=non_negative_int, help="cap training rows per repository (0: no cap)"
    )
    train.add_argument("--workers", type=positive_int, help="processes for tokenizing (default: all cores)")
    train.set_defaults(run=command_train)

    average = commands.add_parser(
        "average", help="average a run's last epoch checkpoints, kept if it lowers the validation loss"
    )
    average.add_argument("--model", type=Path, required=True, help="model directory of a training run (--out)")
    average.add_argument(
        "--last", type=at_least_two, default=3, help="how many of the last epoch checkpoints, at least 2 (default: 3)"
    )
    average.add_argument("--force", action="store_true", help="write the average even if it does not help")
    average.set_defaults(run=command_average)

    summarize = commands.add_parser("summarize", help="write a predicted title for every row of a file")
    summarize.add_argument("--model", type=Path, default=Path("model"), help="model directory (default: model)")
    _add_data_arguments(summarize, "--input", remote=True)
    summarize.add_argument("--output", required=True, type=Path, help="CSV, JSONL(.gz) or parquet file to write")
    summarize.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    summarize.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        help="bodies decoded together; more is faster until memory runs out, and the titles are the same",
    )
    # 2,000 rows keep a run under 2 GiB (bench/streaming.py); 10,000 peaked at 2.16 GiB.
    summarize.add_argument(
        "--chunk-rows", type=positive_int, default=2_000, help="rows read, titled and written at a time"
    )
    summarize.add_argument("--resume", action="store_true", help="continue an interrupted run after its last chunk")
    _add_engine_arguments(summarize)
    summarize.set_defaults(run=command_summarize)

    embed = commands.add_parser("embed", help="write the encoder's vector of every row of a file to parquet")
    embed.add_argument("--model", type=Path, default=Path("model"), help="model directory (default: model)")
    _add_data_arguments(embed, "--input", remote=True)
    embed.add_argument("--output", required=True, type=Path, help="parquet file to write")
    embed.add_argument("--chunk-rows", type=positive_int, default=10_000, help="rows read and embedded at a time")
    _add_engine_arguments(embed)
    embed.set_defaults(run=command_embed)

    evaluate = commands.add_parser("evaluate", help="ROUGE and BLEU of a model and the lead baseline")
    evaluate.add_argument("--model", type=Path, default=Path("model"), help="model directory (default: model)")
    _add_data_arguments(evaluate, "--data", limit_help="score only the first N rows of the chosen --split")
    evaluate.add_argument(
        "--split",
        default="test",
        choices=["test", "validation", "train", "all"],
        help="rows of --data in the model's test, validation or train split, or all of them",
    )
    evaluate.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    evaluate.add_argument("--out", type=Path, help="directory for metrics and predictions (default: the model's)")
    evaluate.set_defaults(run=command_evaluate)

    tune = commands.add_parser("tune", help="choose decoding defaults by validation ROUGE-L")
    tune.add_argument("--model", type=Path, default=Path("model"), help="model directory (default: model)")
    _add_data_arguments(tune, "--data", limit_help="use only the first N validation rows, before --rows samples")
    tune.add_argument(
        "--rows", type=non_negative_int, default=1000, help="validation rows to score (default: 1000; 0: all)"
    )
    # The grid's axes (defaults in decoding_search.py, which this module must not import: it loads TensorFlow).
    tune.add_argument("--beam-widths", type=positive_int, nargs="+", help="grid: beam widths (default: 1 4 8)")
    tune.add_argument("--length-penalties", type=float, nargs="+", help="grid: length penalties (default: 0.6 1 1.4)")
    tune.add_argument(
        "--ngram-blocks", type=non_negative_int, nargs="+", help="grid: blocked repeated n-grams (default: 0 1 2)"
    )
    tune.add_argument(
        "--min-lengths", type=non_negative_int, nargs="+", help="grid: minimum title words (default: 0 4)"
    )
    tune.set_defaults(run=command_tune)

    compare = commands.add_parser("compare", help="is one model's score on the same rows better than another's?")
    compare.add_argument("--baseline", required=True, type=Path, help="predictions file of `evaluate`")
    compare.add_argument("--candidate", required=True, type=Path, help="predictions file of `evaluate`, same rows")
    compare.add_argument("--metric", default="rougeL", help="per-row column: rougeL (default) or lead_rougeL")
    compare.set_defaults(run=command_compare)

    warm = commands.add_parser(
        "warm-cache", help="compute what the app's Holdout browser and Similar issues pages compute on a first visit"
    )
    # No --limit, --preset or --columns: the app reads the whole file with the default columns,
    # and the cache is keyed by the file, so anything else would be stored as what it is not.
    warm.add_argument(
        "--model", type=Path, help="model directory the app uses (default: $ISSUE_SUMMARIZER_MODEL, else model/)"
    )
    warm.add_argument(
        "--data", type=Path, help="data file the app reads (default: $ISSUE_SUMMARIZER_DATA, else the shared corpus)"
    )
    warm.add_argument("--force", action="store_true", help="compute again what is already cached")
    warm.set_defaults(run=command_warm_cache)
    return parser


def _describe_os_error(error: OSError) -> str:
    if error.filename is None or error.strerror is None:
        return str(error)  # Raised with a message of our own, such as "model/config.json: missing".
    return f"{error.filename}: {error.strerror}"


def main(argv: list[str] | None = None) -> int:
    from issue_summarizer.data_loading import DataLoadError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:
        # argparse exits after --help (0) and after its one `error:` line (2); callers of main() get the status.
        return exit.code if isinstance(exit.code, int) else 2
    try:
        args.run(args)
    except (DataLoadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file the system refused (a directory given for a file, a full disk, no permission):
        # one line that names it, as for every other user error.
        print(f"error: {_describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    quiet_tensorflow_start_up()
    sys.exit(main())
