"""Can a better choice among the beam's titles raise ROUGE-L? Measured on the validation split.

    python bench/reranking.py --model model --data ../shared/data/github_issues.jsonl.gz

Beam search keeps several finished titles per issue and shows the one with the best
length-normalised log-probability. This benchmark decodes every usable validation row once
with beam 8, keeping all 8 titles, and scores each title against the real one (ROUGE-L F1 on
cleaned titles, as `evaluate` scores them). It then compares ways of choosing among them with
the model's shipped decoding (its tuned beam width, best title first), each with a 95% paired
bootstrap interval:

- the oracle: the best of the 8 titles for each issue (an upper bound no chooser can pass);
- consensus (minimum Bayes risk): the title with the highest mean ROUGE-L against all the
  titles of its beam (itself included), weighted equally or by the model's probability;
- a reranker: the model's score plus weighted features (overlap with the body's first 12
  tokens, the share of title words found in the body, consensus, length), with weights chosen
  by grid search on half of the validation repositories and scored on the other half, then the
  other way round, so that every row is scored by weights fitted without its repository.

The test split is not read: nothing here is chosen for the shipped model unless it gains
beyond the interval on validation.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from issue_summarizer.data.input_checks import check_body, is_summarizable  # noqa: E402
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.evaluation.significance import paired_bootstrap  # noqa: E402
from issue_summarizer.evaluation.tuning import row_scores  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize  # noqa: E402

BEAM_WIDTH = 8
LEAD_TOKENS = 12
FEATURE_WEIGHTS = {
    "lead": (0.0, 0.5, 1.0, 2.0),
    "in_body": (0.0, 0.5, 1.0),
    "consensus": (0.0, 0.5, 1.0, 2.0),
    "length": (0.0, 0.02, 0.05, 0.1),
}


def longest_common_subsequence(first: list[str], second: list[str]) -> int:
    previous = [0] * (len(second) + 1)
    for word in first:
        current = [0]
        for position, other in enumerate(second):
            current.append(previous[position] + 1 if word == other else max(previous[position + 1], current[position]))
        previous = current
    return previous[-1]


def overlap_f1(first: list[str], second: list[str]) -> float:
    """ROUGE-L F1 between two token lists (no stemming: a cheap feature, not the score)."""
    common = longest_common_subsequence(first, second)
    return 0.0 if common == 0 else 2 * common / (len(first) + len(second))


def consensus(tokens: list[list[str]], weights: np.ndarray) -> np.ndarray:
    """Each title's expected overlap with the beam's titles, weighted by `weights`."""
    return np.array(
        [sum(w * overlap_f1(title, other) for w, other in zip(weights, tokens, strict=True)) for title in tokens]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "model"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"))
    parser.add_argument("--rows", type=int, default=0, help="validation rows to sample (0: all)")
    args = parser.parse_args()

    summarizer = Summarizer.load(args.model)
    seed = summarizer.config.seed
    split = RepositorySplit.load(Path(args.model) / "split.json")
    frame = select_rows(load_issues(args.data), "validation", split)
    frame = frame[[is_summarizable(body) for body in frame["body"]]]
    if args.rows and len(frame) > args.rows:
        frame = frame.sample(n=args.rows, random_state=seed)
    bodies = frame["body"].tolist()
    cleaning = summarizer.config.title_cleaning
    references = [" ".join(tokens) for tokens in clean_and_tokenize(frame["title"].tolist(), cleaning)]

    def scores_of(titles: list[str]) -> np.ndarray:
        return row_scores(summarizer, titles, references)

    started = time.perf_counter()
    shipped = [alternatives[0].text for alternatives in summarizer.generate_titles(bodies)]
    shipped_seconds = time.perf_counter() - started
    started = time.perf_counter()
    beams = summarizer.generate_titles(bodies, BEAM_WIDTH, num_alternatives=BEAM_WIDTH)
    beam_seconds = time.perf_counter() - started
    # Rows with fewer finished titles repeat their last one, which no chooser prefers.
    beams = [[alternatives[min(rank, len(alternatives) - 1)] for rank in range(BEAM_WIDTH)] for alternatives in beams]
    candidate_scores = np.stack([scores_of([beam[rank].text for beam in beams]) for rank in range(BEAM_WIDTH)], axis=1)
    baseline = scores_of(shipped)

    body_tokens = summarizer.tokenize([check_body(body).text for body in bodies])
    penalty = summarizer.config.length_penalty
    features = {name: np.zeros((len(beams), BEAM_WIDTH)) for name in ("score", *FEATURE_WEIGHTS)}
    uniform_consensus = np.zeros((len(beams), BEAM_WIDTH))
    for row, beam in enumerate(beams):
        tokens = [[token.lower() for token in title.tokens] for title in beam]
        body = [token.lower() for token in body_tokens[row]]
        known = set(body)
        # A title's score is its log-probability over length ** length_penalty, its <end> counted.
        lengths = np.array([len(title.tokens) + int(title.finished) for title in beam])
        log_probabilities = np.array([title.score for title in beam]) * np.maximum(lengths, 1) ** penalty
        probabilities = np.exp(log_probabilities - log_probabilities.max())
        uniform_consensus[row] = consensus(tokens, np.full(BEAM_WIDTH, 1 / BEAM_WIDTH))
        features["consensus"][row] = consensus(tokens, probabilities / probabilities.sum())
        features["score"][row] = [title.score for title in beam]
        features["lead"][row] = [overlap_f1(title, body[:LEAD_TOKENS]) for title in tokens]
        features["in_body"][row] = [np.mean([word in known for word in title]) if title else 0.0 for title in tokens]
        features["length"][row] = [len(title) for title in tokens]

    def chosen(ranking: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return candidate_scores[rows][np.arange(len(ranking)), ranking.argmax(axis=1)]

    def reranked(weights: dict, rows: np.ndarray) -> np.ndarray:
        ranking = features["score"][rows] + sum(weight * features[name][rows] for name, weight in weights.items())
        return chosen(ranking, rows)

    repositories = frame["repo"].to_numpy()
    names = sorted(set(repositories))
    np.random.default_rng(seed).shuffle(names)
    first_half = np.isin(repositories, names[: len(names) // 2])
    cross_fitted = np.zeros(len(beams))
    fitted = []
    for fit_rows, score_rows in ((first_half, ~first_half), (~first_half, first_half)):
        settings = itertools.product(*FEATURE_WEIGHTS.values())
        grid = (dict(zip(FEATURE_WEIGHTS, values, strict=True)) for values in settings)
        best = max(grid, key=lambda weights: reranked(weights, fit_rows).mean())
        cross_fitted[score_rows] = reranked(best, score_rows)
        fitted.append(best)

    arms = [
        (f"shipped decoding (beam {summarizer.config.beam_width}, best score)", baseline),
        (f"beam {BEAM_WIDTH}, best score", candidate_scores[:, 0]),
        (f"beam {BEAM_WIDTH}, consensus, equal weights", chosen(uniform_consensus)),
        (f"beam {BEAM_WIDTH}, consensus, weighted by probability", chosen(features["consensus"])),
        (f"beam {BEAM_WIDTH}, reranker fitted on the other half of the repositories", cross_fitted),
        (f"beam {BEAM_WIDTH}, oracle (best of {BEAM_WIDTH} by ROUGE-L)", candidate_scores.max(axis=1)),
    ]
    print(
        f"{len(beams):,} validation rows from {len(names)} repositories; decoding took "
        f"{shipped_seconds:.0f} s (shipped) and {beam_seconds:.0f} s (beam {BEAM_WIDTH}, all titles)"
    )
    print(f"reranker weights fitted on each half: {fitted[0]} and {fitted[1]}\n")
    print("| choice | ROUGE-L | gain over shipped (95% paired bootstrap interval) |")
    print("|---|---:|---|")
    for name, scores in arms:
        interval = "–"
        if scores is not baseline:
            gain = paired_bootstrap(scores, baseline, seed=seed)
            interval = f"{gain.mean:+.4f} [{gain.low:+.4f}, {gain.high:+.4f}]"
        print(f"| {name} | {scores.mean():.4f} | {interval} |")
    ranks = " / ".join(f"{value:.4f}" for value in candidate_scores.mean(axis=0))
    print(f"\nmean ROUGE-L of the beam's titles by rank, best score first: {ranks}")


if __name__ == "__main__":
    main()
