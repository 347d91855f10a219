"""A deterministic train/validation/test split by repository.

No repository appears in two splits, so validation and test figures describe projects
that the model never saw. The largest repositories (golang/go, rust-lang/rust, ...) always
go to training: in an evaluation split they would either dominate it or, once capped,
waste thousands of rows. Evaluation splits are capped per repository for the same reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass
class RepositorySplit:
    train: list[str]
    validation: list[str]
    test: list[str]
    seed: int
    max_rows_per_eval_repository: int

    def name_of(self) -> dict[str, str]:
        return {repo: name for name in ("train", "validation", "test") for repo in getattr(self, name)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RepositorySplit:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def split_repositories(
    repositories: Sequence[str],
    validation_share: float = 0.05,
    test_share: float = 0.08,
    seed: int = 0,
    max_rows_per_eval_repository: int = 300,
    train_only_above_rows: int = 3000,
) -> RepositorySplit:
    """Assign each repository to one split.

    `repositories` holds one entry per row, so the shares are shares of rows counted after
    the per-repository cap. Repositories are visited in a seeded random order, so the split
    is the same for the same data and seed.
    """
    if not 0 <= validation_share < 1 or not 0 <= test_share < 1 or validation_share + test_share >= 1:
        raise ValueError("validation_share and test_share must be in [0, 1) and sum to less than 1")
    counts = Counter(repositories)
    if len(counts) < 3:
        raise ValueError(f"a split by repository needs at least 3 repositories, found {len(counts)}")
    total_rows = sum(counts.values())
    order = sorted(counts)
    np.random.default_rng(seed).shuffle(order)
    targets = {"test": test_share * total_rows, "validation": validation_share * total_rows}
    filled = {"test": 0, "validation": 0}
    assigned: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for repo in order:
        capped = min(counts[repo], max_rows_per_eval_repository)
        destination = "train"
        if counts[repo] <= train_only_above_rows:
            for name in ("test", "validation"):
                if filled[name] < targets[name]:
                    destination = name
                    filled[name] += capped
                    break
        assigned[destination].append(repo)
    # Tiny inputs (tests, fixtures) may leave an evaluation split empty; give it one repository.
    for name in ("test", "validation"):
        if not assigned[name] and len(assigned["train"]) > 1:
            assigned[name].append(assigned["train"].pop())
    return RepositorySplit(
        train=sorted(assigned["train"]),
        validation=sorted(assigned["validation"]),
        test=sorted(assigned["test"]),
        seed=seed,
        max_rows_per_eval_repository=max_rows_per_eval_repository,
    )


def split_indices(repositories: Sequence[str], split: RepositorySplit) -> dict[str, np.ndarray]:
    """Row indices of each split, capping evaluation splits to the first rows of each repository."""
    names = split.name_of()
    seen: Counter = Counter()
    indices: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for row, repo in enumerate(repositories):
        name = names.get(repo)
        if name is None:
            raise ValueError(f"repository {repo!r} is in no split")
        if name != "train":
            seen[repo] += 1
            if seen[repo] > split.max_rows_per_eval_repository:
                continue
        indices[name].append(row)
    return {name: np.array(rows, dtype=np.int64) for name, rows in indices.items()}
