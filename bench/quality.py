"""Score the lead baseline, the seed model and the default model on one test split, in one run.

    python bench/quality.py [--model model] [--seed-model models/seed] [--data ../shared/data/github_issues.jsonl.gz]

The test split is the default model's (by repository, at most 300 rows per repository), so
every row comes from a project neither model saw. Prints ROUGE-1/2/L F1, BLEU, the copy rate
(titles holding a word outside the title vocabulary, which only copying can produce) and the
shares of empty titles and of titles repeating a word 3 times, then writes the table into
README.md between the quality markers and, as `quality.json`, into the default model's
directory, where the app's Overview page reads it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.data_loading import load_issues  # noqa: E402
from issue_summarizer.evaluation import evaluate_frame, select_rows  # noqa: E402
from issue_summarizer.model_card import decoding_description  # noqa: E402
from issue_summarizer.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.summarizer import Summarizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
MARKERS = ("<!-- quality:start -->", "<!-- quality:end -->")
COLUMNS = ("rouge1", "rouge2", "rougeL", "bleu", "copy_rate", "empty_share", "repeat_share")


def _cell(value: float | None, column: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if column == "bleu" else f"{value:.4f}"


def table(rows: list[tuple[str, dict]], test_rows: int, repositories: int, command: str) -> str:
    lines = [
        f"Test split: {test_rows:,} issues from {repositories} repositories that no model saw. "
        f"Measured with `{command}`.",
        "",
        "| titles | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 | BLEU | copy rate | empty | repeats a word 3× |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, metrics in rows:
        cells = [_cell(metrics.get(column), column) for column in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_into_readme(text: str) -> None:
    readme = ROOT / "README.md"
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MARKERS[0]) + ".*?" + re.escape(MARKERS[1]), re.DOTALL)
    if not pattern.search(content):
        print("README.md has no quality markers; table not written", file=sys.stderr)
        return
    readme.write_text(pattern.sub(f"{MARKERS[0]}\n{text}\n{MARKERS[1]}", content), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--seed-model", type=Path, default=ROOT / "models" / "seed")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-readme", action="store_true", help="only print the table")
    args = parser.parse_args()
    default = Summarizer.load(args.model)
    split = RepositorySplit.load(args.model / "split.json")
    frame = select_rows(load_issues(args.data), "test", split)
    rows = []
    started = time.perf_counter()
    metrics, _ = evaluate_frame(default, frame)
    rows.append(("lead-12 (first 12 words of the cleaned body)", metrics["lead_12"]))
    if args.seed_model.exists() and args.seed_model.resolve() != args.model.resolve():
        seed_metrics, _ = evaluate_frame(Summarizer.load(args.seed_model), frame)
        seed_metrics["model"]["copy_rate"] = None  # The seed cannot copy: its titles come from its vocabulary.
        rows.append((f"seed ({args.seed_model.name}, greedy)", seed_metrics["model"]))
    label = f"{default.config.name} (`{args.model.name}/`, {decoding_description(metrics)})"
    rows.append((label, metrics["model"]))
    command = "python bench/quality.py"
    text = table(rows, len(frame), frame["repo"].nunique(), command)
    print(text)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if not args.no_readme:
        write_into_readme(text)
        quality = {
            "command": command,
            "test_rows": len(frame),
            "test_repositories": int(frame["repo"].nunique()),
            "rows": [{"titles": name, **metrics} for name, metrics in rows],
        }
        (args.model / "quality.json").write_text(json.dumps(quality, indent=1))


if __name__ == "__main__":
    main()
