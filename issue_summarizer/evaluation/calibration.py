"""Fitting the confidence of titles on validation rows, and measuring how well it is calibrated.

    python -m issue_summarizer calibrate --model model --data ../shared/data/github_issues.jsonl.gz

decodes the model's validation split as the model decodes by default, marks each title
acceptable or not (`inference.confidence.PROXY`: ROUGE-L >= 0.3 against the real title, as
`evaluate` scores it), fits a logistic regression from the title's features to that outcome
(scikit-learn), and writes it, with how it was fitted, to the model directory's
`confidence.json`. Only validation rows are used, so the test split stays untouched for
measuring the result (`bench/quality.py`): the reliability table (predicted against observed
in ten bins), its expected calibration error, and the ROUGE-L of the most confident titles.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.config import CleaningOptions
from issue_summarizer.data.input_checks import is_summarizable
from issue_summarizer.data.loading import LoadedData, load_issues, parse_column_mapping
from issue_summarizer.data.splitting import RepositorySplit
from issue_summarizer.evaluation.metrics import rouge_rows, select_rows
from issue_summarizer.inference.confidence import (
    ACCEPTABLE_ROUGE_L,
    FEATURES,
    PROXY,
    SCORE_FEATURE,
    Calibration,
    LogisticLink,
    TitleFeatures,
    scored_titles,
)
from issue_summarizer.inference.summarizer import Summarizer, titles_digest
from issue_summarizer.text.tokenization import clean_and_tokenize

CALIBRATION_SPLIT = "validation"
RELIABILITY_BINS = 10
TOP_SHARES = (0.25, 0.5, 0.75, 1.0)
# A body with nothing to title gets the acceptable share of such validation bodies, smoothed
# towards this low prior as if it had been seen on this many more bodies: validation holds few.
NOTHING_TO_TITLE_PRIOR = 0.1
NOTHING_TO_TITLE_PRIOR_ROWS = 10
# Logistic regression's default L2 strength on standardised features: a few thousand rows and
# seven features, so it barely regularises, but it keeps a degenerate fit (one class) finite.
REGULARISATION = 1.0


def rouge_l_of_titles(titles: Sequence[str], raw_titles: Sequence[str], cleaning: CleaningOptions) -> np.ndarray:
    """ROUGE-L F1 of each title against its real title, both cleaned and tokenized as `evaluate` scores them."""
    references = [" ".join(tokens) for tokens in clean_and_tokenize(list(raw_titles), cleaning)]
    predictions = [" ".join(tokens) for tokens in clean_and_tokenize(list(titles), cleaning)]
    return rouge_rows(predictions, references)["rougeL"].to_numpy()


def acceptable(rouge_l: Sequence[float] | np.ndarray) -> np.ndarray:
    """Whether each title meets the proxy for an acceptable title (`inference.confidence.PROXY`)."""
    return np.asarray(rouge_l, dtype=float) >= ACCEPTABLE_ROUGE_L


def feature_matrix(features: Sequence[TitleFeatures], names: Sequence[str]) -> np.ndarray:
    """One row per title, one column per named feature; a missing value is NaN."""
    rows = [[np.nan if (value := getattr(item, name)) is None else float(value) for name in names] for item in features]
    return np.asarray(rows, dtype=float).reshape(len(features), len(names))


def fit_link(matrix: np.ndarray, outcomes: np.ndarray, names: Sequence[str]) -> LogisticLink:
    """A logistic regression of `outcomes` on the standardised columns of `matrix`.

    A missing value (NaN) is replaced by its column's mean, which is what `LogisticLink` assumes
    for it. When the fit gives `title_score` a negative coefficient (which would let a better
    score lower the confidence), the score is left out and its coefficient set to 0, so the
    confidence never falls as the score rises.
    """
    from sklearn.linear_model import LogisticRegression

    outcomes = np.asarray(outcomes, dtype=bool)
    if len(outcomes) == 0 or outcomes.all() or not outcomes.any():
        raise ValueError(
            f"cannot fit a confidence: the {len(outcomes):,} titles are all acceptable or all not; "
            "it needs validation rows of both kinds"
        )
    names = list(names)
    # A column with no value at all (the margin, when every title was decoded greedily) gets 0.
    present = np.isfinite(matrix)
    counts = present.sum(axis=0)
    means = np.where(present, matrix, 0.0).sum(axis=0) / np.maximum(counts, 1)
    filled = np.where(np.isfinite(matrix), matrix, means)
    scales = filled.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    standardised = (filled - means) / scales
    used = list(range(len(names)))
    for _ in range(2):
        model = LogisticRegression(C=REGULARISATION, max_iter=1000).fit(standardised[:, used], outcomes)
        coefficients = np.zeros(len(names))
        coefficients[used] = model.coef_[0]
        if SCORE_FEATURE not in names or coefficients[names.index(SCORE_FEATURE)] >= 0:
            break
        used.remove(names.index(SCORE_FEATURE))
    coefficients[[index for index in range(len(names)) if index not in used]] = 0.0
    return LogisticLink(
        tuple(names),
        tuple(float(value) for value in means),
        tuple(float(value) for value in scales),
        tuple(float(value) for value in coefficients),
        float(model.intercept_[0]),
    )


def fit_calibration(
    features: Sequence[TitleFeatures], outcomes: Sequence[bool], fit: dict | None = None
) -> Calibration:
    """The confidence fitted on titles' features and whether each was acceptable.

    Bodies with nothing to title are left out of the regression and get their own smoothed
    acceptable share; `title_score` alone is fitted on every row as the baseline.
    """
    outcomes = np.asarray(outcomes, dtype=bool)
    if len(features) != len(outcomes):
        raise ValueError(f"{len(features)} titles but {len(outcomes)} outcomes")
    flagged = np.array([bool(item.problem) for item in features], dtype=bool)
    matrix = feature_matrix(features, FEATURES)
    link = fit_link(matrix[~flagged], outcomes[~flagged], FEATURES)
    baseline = fit_link(matrix[:, [FEATURES.index(SCORE_FEATURE)]], outcomes, [SCORE_FEATURE])
    hits, count = int(outcomes[flagged].sum()), int(flagged.sum())
    nothing = (hits + NOTHING_TO_TITLE_PRIOR * NOTHING_TO_TITLE_PRIOR_ROWS) / (count + NOTHING_TO_TITLE_PRIOR_ROWS)
    fit = {
        **(fit or {}),
        "rows": len(outcomes),
        "fitted_rows": int((~flagged).sum()),
        "acceptable_share": round(float(outcomes.mean()), 4),
        "nothing_to_title_rows": count,
        "nothing_to_title_acceptable": hits,
    }
    return Calibration(link, round(float(nothing), 4), baseline, fit)


def reliability_table(
    confidences: Sequence[float], outcomes: Sequence[bool], bins: int = RELIABILITY_BINS
) -> pd.DataFrame:
    """Predicted against observed in `bins` equal-width bins of confidence: rows, mean confidence
    and acceptable share in each (empty bins are left out)."""
    confidences = np.asarray(confidences, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    keep = np.isfinite(confidences)
    confidences, outcomes = confidences[keep], outcomes[keep]
    index = np.minimum((confidences * bins).astype(int), bins - 1)
    rows = []
    for number in range(bins):
        inside = index == number
        if inside.any():
            rows.append(
                {
                    "bin": f"{number / bins:.1f}–{(number + 1) / bins:.1f}",
                    "rows": int(inside.sum()),
                    "predicted": float(confidences[inside].mean()),
                    "observed": float(outcomes[inside].mean()),
                }
            )
    return pd.DataFrame(rows, columns=["bin", "rows", "predicted", "observed"])


def expected_calibration_error(table: pd.DataFrame) -> float:
    """The rows-weighted mean gap between predicted and observed over a reliability table's bins."""
    if table.empty:
        return float("nan")
    weights = table["rows"] / table["rows"].sum()
    return float((weights * (table["predicted"] - table["observed"]).abs()).sum())


def rouge_of_most_confident(
    confidences: Sequence[float], rouge_l: Sequence[float], shares: Sequence[float] = TOP_SHARES
) -> dict[float, float]:
    """Mean ROUGE-L of the most confident `share` of titles, for each share (ties in input order)."""
    confidences = np.asarray(confidences, dtype=float)
    rouge_l = np.asarray(rouge_l, dtype=float)
    order = np.argsort(-np.nan_to_num(confidences, nan=-1.0), kind="stable")
    results = {}
    for share in shares:
        count = max(int(round(share * len(order))), 1)
        results[share] = float(rouge_l[order[:count]].mean()) if len(order) else float("nan")
    return results


def split_of(model_directory: str | Path) -> RepositorySplit:
    """The model's split by repository, or a ValueError in one line when it has none."""
    directory = Path(model_directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such model directory")
    split_path = directory / "split.json"
    if not split_path.is_file():
        raise ValueError(
            f"{directory}: no split.json, so its validation rows are unknown; calibrate a model that `train` wrote"
        )
    return RepositorySplit.load(split_path)


def calibration_rows(loaded: LoadedData, model_directory: str | Path) -> pd.DataFrame:
    """The validation rows of `loaded` that the model reads, or a ValueError in one line saying why there are none."""
    frame = select_rows(loaded, CALIBRATION_SPLIT, split_of(model_directory))
    frame = frame[[is_summarizable(body) for body in frame["body"]]].reset_index(drop=True)
    if frame.empty:
        raise ValueError(
            f"{loaded.path}: none of its {len(loaded.frame):,} usable rows is in the model's validation split, "
            "so there is nothing to fit the confidence on; use the data the model was trained on"
        )
    return frame


def calibrate(
    summarizer: Summarizer, frame: pd.DataFrame, beam_width: int | None = None, progress=None
) -> tuple[Calibration, pd.DataFrame]:
    """Decode `frame` (validation rows with real titles), fit the confidence, and return it with
    a table of each row's title, features, ROUGE-L and fitted confidence."""
    scored = scored_titles(summarizer, frame["body"].tolist(), None, beam_width, progress=progress)
    titles = [item.title.text for item in scored]
    rouge_l = rouge_l_of_titles(titles, frame["title"].tolist(), summarizer.config.title_cleaning)
    outcomes = acceptable(rouge_l)
    features = [item.features for item in scored]
    options = summarizer.decoding_options(beam_width, None)
    calibration = fit_calibration(
        features,
        outcomes,
        {
            "split": CALIBRATION_SPLIT,
            "proxy": PROXY,
            "date": datetime.date.today().isoformat(),
            "beam_width": options.beam_width,
            "length_penalty": options.length_penalty,
        },
    )
    table = pd.DataFrame([item.values() for item in features])
    table["problem"] = [item.problem or "" for item in features]
    table["predicted_title"] = titles
    table["rougeL"] = rouge_l
    table["acceptable"] = outcomes
    table["confidence"] = [calibration.confidence(item) for item in features]
    return calibration, table


def format_reliability(table: pd.DataFrame) -> str:
    lines = ["| confidence | titles | predicted | observed |", "|---|---:|---:|---:|"]
    lines += [f"| {row.bin} | {row.rows:,} | {row.predicted:.3f} | {row.observed:.3f} |" for row in table.itertuples()]
    return "\n".join(lines)


def calibrate_model_directory(model_directory: str | Path, loaded: LoadedData, limit: int | None = None) -> Calibration:
    """Fit the confidence of a model directory on its validation rows of `loaded` and write `confidence.json`."""
    from tqdm.auto import tqdm

    frame = calibration_rows(loaded, model_directory)
    if limit is not None:
        frame = frame.iloc[:limit]
    summarizer = Summarizer.load(model_directory)
    with tqdm(total=len(frame), desc="calibrate", unit="issue") as bar:
        calibration, table = calibrate(summarizer, frame, progress=bar.update)
    fit = {
        **calibration.fit,
        "data": str(loaded.path),
        "model_digest": titles_digest(model_directory),
        "expected_calibration_error": round(
            expected_calibration_error(reliability_table(table["confidence"], table["acceptable"])), 4
        ),
    }
    calibration = Calibration(calibration.link, calibration.nothing_to_title, calibration.baseline, fit)
    path = calibration.save(model_directory)
    reliability = reliability_table(table["confidence"], table["acceptable"])
    print(format_reliability(reliability))
    print(
        f"fitted on {fit['rows']:,} validation titles ({fit['acceptable_share']:.1%} acceptable: {PROXY}); "
        f"expected calibration error on them {fit['expected_calibration_error']:.4f}; "
        f"{fit['nothing_to_title_rows']:,} bodies with nothing to title get {calibration.nothing_to_title:.1%}"
    )
    print(f"wrote {path}")
    return calibration


def calibrate_command(args) -> None:
    # Refused before the data is read, which for the whole corpus takes a while.
    split_of(args.model)
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns))
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    calibrate_model_directory(args.model, loaded, limit=args.limit)


def confidence_report(predictions: pd.DataFrame, calibration: Calibration) -> str:
    """Markdown tables of how well the confidence ranks and is calibrated on `predictions` (an
    `evaluate` table with `confidence`, `score` and `rougeL`), beside `title_score` alone mapped to
    [0, 1] by the fit's baseline: the ROUGE-L of the most confident titles, the expected calibration
    error, and both reliability tables."""
    titled = predictions[predictions["confidence"].notna()]
    outcomes = acceptable(titled["rougeL"])
    rankings = {"calibrated confidence": titled["confidence"].to_numpy(dtype=float)}
    if calibration.baseline is not None:
        baseline = [calibration.baseline_confidence(score) for score in titled["score"]]
        rankings["`title_score` alone (mapped to [0, 1] on validation)"] = np.asarray(baseline, dtype=float)
    headers = " | ".join(f"most confident {share:.0%}" if share < 1 else "all" for share in TOP_SHARES)
    lines = [
        f"| titles ranked by | {headers} | expected calibration error |",
        "|---|" + "---:|" * (len(TOP_SHARES) + 1),
    ]
    tables = []
    for name, confidences in rankings.items():
        rouge = rouge_of_most_confident(confidences, titled["rougeL"])
        reliability = reliability_table(confidences, outcomes)
        error = expected_calibration_error(reliability)
        cells = " | ".join(f"{rouge[share]:.4f}" for share in TOP_SHARES)
        lines.append(f"| {name} | {cells} | {error:.4f} |")
        tables.append(f"Reliability, {name} (ten bins of predicted confidence):\n\n{format_reliability(reliability)}")
    fit = calibration.fit
    header = (
        f"{len(titled):,} test titles, {outcomes.mean():.1%} of them acceptable ({PROXY}). The confidence was "
        f"fitted on {fit.get('rows', 0):,} validation titles ({fit.get('date', 'date unknown')}); ROUGE-L is the "
        "mean of the most confident share of titles."
    )
    return "\n\n".join([header, "\n".join(lines), *tables])
