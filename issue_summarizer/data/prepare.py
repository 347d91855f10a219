"""The whole text pipeline: split by repository, clean, tokenize, fit vocabularies, encode, pad.

`prepare` turns loaded rows into arrays that a model can train on, and `save_prepared`
writes them with everything needed to reproduce or serve them: vocabularies, length
statistics (aggregate counts only), the split and the data's provenance.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from issue_summarizer.config import CONFIG_FILE, SummarizerConfig
from issue_summarizer.data.length_stats import DEFAULT_COVERAGE, LengthHistogram, save_length_stats
from issue_summarizer.data.loading import LoadedData
from issue_summarizer.data.splitting import RepositorySplit, split_indices, split_repositories
from issue_summarizer.text.encoding import encode_bodies, encode_for_copying, encode_titles
from issue_summarizer.text.title_tags import strip_title_tags
from issue_summarizer.text.tokenization import clean_and_tokenize
from issue_summarizer.text.vocabulary import Vocabulary

SPLITS = ("train", "validation", "test")
LENGTH_SAMPLE_SIZE = 20_000
ARRAYS_FILE = "arrays.npz"
BODY_VOCABULARY_FILE = "body_vocabulary.json"
TITLE_VOCABULARY_FILE = "title_vocabulary.json"
LENGTH_STATS_FILE = "length_stats.json"
SPLIT_FILE = "split.json"
PROVENANCE_FILE = "provenance.json"
# What `save_prepared` writes besides the arrays: the files that describe a model directory's data.
DESCRIPTION_FILES = (
    BODY_VOCABULARY_FILE,
    TITLE_VOCABULARY_FILE,
    LENGTH_STATS_FILE,
    SPLIT_FILE,
    PROVENANCE_FILE,
    CONFIG_FILE,
)


@dataclass
class PreparedData:
    config: SummarizerConfig
    body_vocabulary: Vocabulary
    title_vocabulary: Vocabulary
    arrays: dict[str, np.ndarray]
    histograms: dict[str, LengthHistogram]
    split: RepositorySplit
    provenance: dict = field(default_factory=dict)


@dataclass
class EncodedSplits:
    arrays: dict[str, np.ndarray]
    body_vocabulary: Vocabulary
    title_vocabulary: Vocabulary
    dropped: Counter


def encode_splits(
    body_tokens: Sequence[Sequence[str]],
    title_tokens: Sequence[Sequence[str]],
    positions: dict[str, Sequence[int]],
    row_ids: dict[str, np.ndarray],
    config: SummarizerConfig,
) -> EncodedSplits:
    """Fit both vocabularies on the training rows, then encode and pad every split.

    `positions[name]` picks a split's rows out of the token lists and `row_ids[name]` are the
    same rows' numbers in the data, saved as `{name}_rows`. Bodies must already be cut to
    `config.body_length`. Attention models also get copy ids; training and validation rows
    whose title has no known token are dropped and counted, because a title of only rare
    words teaches the model nothing but the rare-word marker.
    """
    train = positions["train"]
    body_vocabulary = Vocabulary.fit(
        (body_tokens[row] for row in train),
        with_markers=False,
        max_size=config.body_vocab_size,
        min_count=config.min_count,
    )
    title_vocabulary = Vocabulary.fit(
        (title_tokens[row] for row in train),
        with_markers=True,
        max_size=config.title_vocab_size,
        min_count=config.min_count,
    )
    arrays: dict[str, np.ndarray] = {}
    dropped: Counter = Counter()
    for name in SPLITS:
        bodies = [body_tokens[row] for row in positions[name]]
        titles = [title_tokens[row] for row in positions[name]]
        encoded_bodies = encode_bodies(bodies, body_vocabulary, config)
        if config.copies_from_body:
            copy_ids, encoded_titles, _ = encode_for_copying(bodies, titles, title_vocabulary, config)
        else:
            encoded_titles = encode_titles(titles, title_vocabulary, config)
        keep = np.ones(len(bodies), dtype=bool)
        if config.drop_empty_titles and name != "test":
            keep = (encoded_titles > 3).any(axis=1)
            dropped[f"{name}: title has no known word"] += int((~keep).sum())
        arrays[f"{name}_bodies"] = encoded_bodies[keep]
        arrays[f"{name}_titles"] = encoded_titles[keep]
        arrays[f"{name}_rows"] = np.asarray(row_ids[name])[keep]
        if config.copies_from_body:
            arrays[f"{name}_copy_ids"] = copy_ids[keep]
    return EncodedSplits(arrays, body_vocabulary, title_vocabulary, dropped)


def cap_rows_per_repository(rows: np.ndarray, repositories: list[str], cap: int, seed: int) -> np.ndarray:
    """Keep at most `cap` rows of each repository, chosen at random (seeded), in their original order."""
    rng = np.random.default_rng(seed)
    by_repository: dict[str, list[int]] = {}
    for row in rows:
        by_repository.setdefault(repositories[row], []).append(int(row))
    kept = []
    for repository in sorted(by_repository):
        members = by_repository[repository]
        kept.extend(rng.choice(members, size=cap, replace=False) if len(members) > cap else members)
    return np.sort(np.array(kept, dtype=np.int64))


def _progress(total: int, description: str, enabled: bool):
    bar = tqdm(total=total, desc=description, unit="doc", disable=not enabled, dynamic_ncols=True)
    return bar, bar.update


def prepare(
    loaded: LoadedData,
    config: SummarizerConfig,
    workers: int | None = None,
    show_progress: bool = True,
    split: RepositorySplit | None = None,
    extra: Sequence[LoadedData] = (),
) -> PreparedData:
    """Run the text pipeline on loaded rows. A given `split` is reused instead of made anew.

    `extra` data (other trackers, pull requests) only ever adds training rows: the split is
    made from `loaded` alone, and extra rows from a validation or test repository are left out.
    """
    frame = loaded.frame
    if "title" not in frame.columns:
        raise ValueError(f"{loaded.path}: training data needs a title column")
    repositories = frame["repo"].tolist()
    if split is None:
        split = split_repositories(
            repositories,
            validation_share=config.validation_share,
            test_share=config.test_share,
            seed=config.seed,
            max_rows_per_eval_repository=config.max_rows_per_eval_repository,
        )
    indices = split_indices(repositories, split)
    extra_rows = {}
    if extra:
        evaluation_repositories = set(split.validation) | set(split.test)
        extra_frames = [data.frame[["title", "body", "repo"]] for data in extra]
        frame = pd.concat([frame[["title", "body", "repo"]], *extra_frames], ignore_index=True)
        start = len(repositories)
        repositories = frame["repo"].tolist()
        added = [row for row in range(start, len(frame)) if repositories[row] not in evaluation_repositories]
        indices["train"] = np.concatenate([indices["train"], np.array(added, dtype=np.int64)])
        extra_rows = {
            "sources": [data.path for data in extra],
            "rows_read": int(len(frame) - start),
            "rows_from_evaluation_repositories_left_out": int(len(frame) - start - len(added)),
        }
    if config.max_rows_per_train_repository:
        indices["train"] = cap_rows_per_repository(
            indices["train"], repositories, config.max_rows_per_train_repository, config.seed
        )
    used = np.sort(np.concatenate([indices[name] for name in SPLITS]))
    position = {row: offset for offset, row in enumerate(used)}

    bodies = frame["body"].to_numpy()[used].tolist()
    titles = frame["title"].to_numpy()[used].tolist()
    if config.strip_title_tags:
        # "[Bug]" or "fix(types):" says what kind of report it is, not what it is about; a model
        # that learns them stamps them on every title.
        titles = [strip_title_tags(title) for title in titles]
    bar, update = _progress(len(used) * 2, "clean and tokenize", show_progress)
    with bar:
        title_tokens = clean_and_tokenize(titles, config.title_cleaning, workers=workers, progress=update)
        body_tokens = clean_and_tokenize(
            bodies, config.cleaning, max_tokens=config.body_length, workers=workers, progress=update
        )

    # Lengths need whole bodies, not the truncated windows, so they come from a seeded sample.
    positions = {name: [position[row] for row in indices[name]] for name in SPLITS}
    train_rows = positions["train"]
    rng = np.random.default_rng(config.seed)
    sample = rng.choice(train_rows, size=min(LENGTH_SAMPLE_SIZE, len(train_rows)), replace=False)
    bar, update = _progress(len(sample), "length statistics", show_progress)
    with bar:
        sample_tokens = clean_and_tokenize(
            [bodies[row] for row in sample], config.cleaning, workers=workers, progress=update
        )
    histograms = {
        "body": LengthHistogram.from_lengths(len(tokens) for tokens in sample_tokens),
        "title": LengthHistogram.from_lengths(len(title_tokens[row]) for row in train_rows),
    }

    encoded = encode_splits(body_tokens, title_tokens, positions, indices, config)
    body_vocabulary, title_vocabulary = encoded.body_vocabulary, encoded.title_vocabulary
    split_sizes = {
        name: {"rows": int(len(encoded.arrays[f"{name}_titles"])), "repositories": len(getattr(split, name))}
        for name in SPLITS
    }

    provenance = {
        "source": str(loaded.path),
        "rows_read": loaded.rows_read,
        "rows_dropped_on_load": dict(loaded.dropped),
        "rows_left_out_by_repository_caps": int(len(frame) - len(used)),
        "rows_dropped_in_pipeline": dict(encoded.dropped),
        "extra_training_data": extra_rows,
        "split": split_sizes,
        "body_vocabulary": {
            "size": len(body_vocabulary),
            "train_coverage": round(body_vocabulary.coverage(body_tokens[row] for row in train_rows), 4),
            "test_coverage": round(body_vocabulary.coverage(body_tokens[row] for row in positions["test"]), 4),
        },
        "title_vocabulary": {
            "size": len(title_vocabulary),
            "train_coverage": round(title_vocabulary.coverage(title_tokens[row] for row in train_rows), 4),
            "test_coverage": round(title_vocabulary.coverage(title_tokens[row] for row in positions["test"]), 4),
        },
        "suggested_lengths": {
            name: {"coverage": DEFAULT_COVERAGE, "length": histogram.suggest_length(DEFAULT_COVERAGE)}
            for name, histogram in histograms.items()
        },
    }
    return PreparedData(config, body_vocabulary, title_vocabulary, encoded.arrays, histograms, split, provenance)


def save_prepared(prepared: PreparedData, directory: str | Path, include_arrays: bool = True) -> None:
    """Write vocabularies, statistics, split, provenance and config (and the arrays) to `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if include_arrays:
        np.savez_compressed(directory / ARRAYS_FILE, **prepared.arrays)
    prepared.body_vocabulary.save(directory / BODY_VOCABULARY_FILE)
    prepared.title_vocabulary.save(directory / TITLE_VOCABULARY_FILE)
    save_length_stats(
        directory / LENGTH_STATS_FILE,
        prepared.histograms,
        {"body_sample_size": prepared.histograms["body"].total, "source": prepared.provenance.get("source")},
    )
    prepared.split.save(directory / SPLIT_FILE)
    (directory / PROVENANCE_FILE).write_text(json.dumps(prepared.provenance, indent=1), encoding="utf-8")
    prepared.config.save(directory)


def summary_lines(prepared: PreparedData, loaded: LoadedData) -> list[str]:
    """A human-readable summary of a `prepare` run."""
    provenance = prepared.provenance
    lines = [loaded.summary(), *loaded.problems]
    if provenance["rows_left_out_by_repository_caps"]:
        train_cap = prepared.config.max_rows_per_train_repository
        lines.append(
            f"capped rows per repository (evaluation {prepared.split.max_rows_per_eval_repository}, "
            f"training {train_cap or 'no cap'}): {provenance['rows_left_out_by_repository_caps']:,} rows left out"
        )
    for reason, count in provenance["rows_dropped_in_pipeline"].items():
        lines.append(f"dropped {count:,} rows ({reason})")
    for name, sizes in provenance["split"].items():
        lines.append(f"{name:>10}: {sizes['rows']:>7,} rows from {sizes['repositories']:>4} repositories")
    for name in ("body", "title"):
        vocabulary = provenance[f"{name}_vocabulary"]
        suggestion = provenance["suggested_lengths"][name]
        lines.append(
            f"{name} vocabulary {vocabulary['size']:,} words; coverage train {vocabulary['train_coverage']:.1%}, "
            f"test {vocabulary['test_coverage']:.1%}; suggested pad length at {suggestion['coverage']:.0%} "
            f"coverage: {suggestion['length']}"
        )
    return lines
