"""What the comparison benchmarks share: a seeded sample of the by-repository split, training
one arm with the library's own code, greedy titles for the sampled test rows, and a table.

The split is the one `prepare` makes for a configuration (by repository, evaluation
repositories capped at 300 rows), computed on the whole data file, so every sampled test row
comes from a project that no arm saw.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from issue_summarizer.config import SummarizerConfig
from issue_summarizer.data.loading import LoadedData
from issue_summarizer.data.prepare import SPLITS, cap_rows_per_repository
from issue_summarizer.data.splitting import RepositorySplit, split_indices, split_repositories
from issue_summarizer.evaluation.metrics import score_titles
from issue_summarizer.text.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
DECODING_BATCH = 256
# The columns every arm fills in; each benchmark adds its own in front.
SCORE_COLUMNS = (
    ("train rows", "train_rows", ","),
    ("epochs", "epochs_run", "d"),
    ("train s", "seconds", ".0f"),
    ("ROUGE-1", "rouge1", ".4f"),
    ("ROUGE-2", "rouge2", ".4f"),
    ("ROUGE-L", "rougeL", ".4f"),
    ("BLEU", "bleu", ".2f"),
    ("copied", "copied", ".1%"),
    ("empty", "empty_share", ".1%"),
)


def repository_split(loaded: LoadedData, config: SummarizerConfig) -> RepositorySplit:
    """The split `prepare` makes for `config` when it is given none."""
    return split_repositories(
        loaded.frame["repo"].tolist(),
        validation_share=config.validation_share,
        test_share=config.test_share,
        seed=config.seed,
        max_rows_per_eval_repository=config.max_rows_per_eval_repository,
    )


def draw(rows: np.ndarray, count: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """`count` of `rows` at random, sorted."""
    if count > len(rows):
        raise ValueError(f"{what} has {len(rows):,} rows, fewer than the {count:,} asked for")
    return np.sort(rng.choice(rows, size=count, replace=False))


def subset(loaded: LoadedData, rows: np.ndarray) -> LoadedData:
    """The given rows of `loaded` as their own `LoadedData`."""
    frame = loaded.frame.iloc[rows].reset_index(drop=True)
    return LoadedData(frame, loaded.path, len(frame))


def sample_rows(
    loaded: LoadedData, config: SummarizerConfig, train_rows: int, validation_rows: int, test_rows: int
) -> tuple[LoadedData, RepositorySplit]:
    """The sampled rows as their own `LoadedData`, and the repository split of the whole file.

    The split is made as `prepare` makes it when it is given none. The sampled evaluation rows
    come from the capped evaluation rows, as `evaluation.select_rows` gives them.
    """
    split = repository_split(loaded, config)
    indices = split_indices(loaded.frame["repo"].tolist(), split)
    wanted = {"train": train_rows, "validation": validation_rows, "test": test_rows}
    rng = np.random.default_rng(config.seed)
    chosen = [draw(indices[name], wanted[name], rng, f"the {name} split") for name in SPLITS]
    return subset(loaded, np.sort(np.concatenate(chosen))), split


def capped_sample(
    loaded: LoadedData,
    config: SummarizerConfig,
    train_rows: int,
    extra_rows: int,
    validation_rows: int,
    test_rows: int,
    cap: int,
) -> tuple[dict[str, np.ndarray], RepositorySplit, np.random.Generator]:
    """Seeded row indices for the comparison arms, the repository split of the whole file, and
    the generator that drew them, for any further draws.

    "validation" and "test" come from the evaluation repositories; "more" is `train_rows +
    extra_rows` training rows drawn after capping each repository at `cap` rows, and "train"
    is `train_rows` of those.
    """
    split = repository_split(loaded, config)
    repositories = loaded.frame["repo"].tolist()
    indices = split_indices(repositories, split)
    rng = np.random.default_rng(config.seed)
    validation = draw(indices["validation"], validation_rows, rng, "the validation split")
    test = draw(indices["test"], test_rows, rng, "the test split")
    pool = cap_rows_per_repository(indices["train"], repositories, cap, config.seed)
    more = draw(pool, train_rows + extra_rows, rng, "the capped training split")
    train = np.sort(rng.permutation(more)[:train_rows])
    return {"train": train, "more": more, "validation": validation, "test": test}, split, rng


def train_and_score(
    arm: str,
    arrays: dict[str, np.ndarray],
    config: SummarizerConfig,
    vocabularies: tuple[Vocabulary, Vocabulary],
    test_tokens: list[list[str]],
    references: list[str],
    to_words: Callable[[list[str]], list[str]] = list,
    latency_bodies: Sequence[str] = (),
    latency_beam_width: int = 1,
    time_budget: float | None = None,
    validation: tuple[list[list[str]], list[str]] | None = None,
) -> dict:
    """Train one arm with the library's training code, title the test rows greedily and score them.

    `to_words` turns the decoded tokens of one title into the words that are scored. With
    `latency_bodies`, the median time to title each of them alone (text in and title out,
    after one warm-up title, at `latency_beam_width`) is reported too. `time_budget` stops
    training after that many seconds. `validation` (tokens, references) is scored the same way
    as the test rows, into `validation_rougeL`.
    """
    from issue_summarizer.inference.summarizer import Summarizer
    from issue_summarizer.training.trainer import train_model

    body_vocabulary, title_vocabulary = vocabularies
    print(f"training {arm}: {len(arrays['train_titles']):,} rows, {config.epochs} epochs", flush=True)
    with tempfile.TemporaryDirectory(prefix="comparison-arm-") as directory:
        model, result = train_model(arrays, config, directory, verbose=2, time_budget=time_budget)
    summarizer = Summarizer(model, config, body_vocabulary, title_vocabulary)
    options = summarizer.decoding_options(1, None)

    def greedy_titles(tokens: list[list[str]]) -> tuple[list[str], list[bool]]:
        predictions, copied = [], []
        for start in range(0, len(tokens), DECODING_BATCH):
            batch = summarizer.prepare_batch(tokens[start : start + DECODING_BATCH])
            for hypotheses, unknown in zip(summarizer.decode_batch(batch, options), batch.unknown_words, strict=True):
                ids = hypotheses[0].ids
                copied.append(any(token_id >= len(title_vocabulary) for token_id in ids))
                predictions.append(" ".join(to_words(summarizer.title_words(ids, unknown))))
        return predictions, copied

    predictions, copied = greedy_titles(test_tokens)
    metrics, _ = score_titles(predictions, references)
    if validation is not None:
        metrics["validation_rougeL"] = score_titles(greedy_titles(validation[0])[0], validation[1])[0]["rougeL"]
    body_known = body_vocabulary.coverage(test_tokens)
    latency_ms = None
    if latency_bodies:
        summarizer.summarize([latency_bodies[0]], beam_width=latency_beam_width)
        timings = []
        for body in latency_bodies:
            started = time.perf_counter()
            summarizer.summarize([body], beam_width=latency_beam_width)
            timings.append(time.perf_counter() - started)
        latency_ms = float(np.median(timings) * 1000)
    return {
        "arm": arm,
        "body_length": config.body_length,
        "title_length": config.title_length,
        "body_vocabulary": len(body_vocabulary),
        "title_vocabulary": len(title_vocabulary),
        "body_known": body_known,
        "train_rows": len(arrays["train_titles"]),
        "seconds": result.seconds,
        "samples_per_second": result.samples_per_second,
        "latency_ms": latency_ms,
        "epochs_run": result.epochs_run,
        "parameters": model.count_params(),
        "copied": float(np.mean(copied)) if copied else 0.0,
        **metrics,
    }


def _cell(row: dict, column: str, form: str) -> str:
    value = row.get(column)
    return "–" if value is None else format(value, form)


def table(rows: list[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """A markdown table of `rows`: `columns` are (header, key, format) triples; a missing value prints as "–"."""
    lines = [
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "|---" + "|---:" * (len(columns) - 1) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row, column, form) for _, column, form in columns) + " |")
    return "\n".join(lines)
