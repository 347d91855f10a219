"""Streaming `summarize` on a million rows against the whole-file path, and the local engine against Ray.

    python bench/streaming.py [--data ../shared/data/github_issues.jsonl.gz] [--rows 1000000]
                              [--whole-rows 5000] [--minutes 5] [--ray-rows 3000] [--model model]

The input is built by repeating the shared corpus until it has `--rows` rows (JSON lines, in a
temporary directory that is removed afterwards). Every arm is the real command line in its own
process; peak memory is the largest sum, over the process and its children, of their
proportional resident sets (PSS), sampled every 0.2 s. The arms:

* **whole file**: `summarize --chunk-rows N` on the first `--whole-rows` rows, which reads,
  titles and writes the whole file at once, as `summarize` did before it streamed.
* **streaming, 1,000,000 rows**: `summarize --chunk-rows 2000` on the whole file, stopped after
  `--minutes`: at this model's speed a million titles take hours on 2 cores. Its titles/s count
  the rows that its progress file records as written.
* **reading only, 1,000,000 rows**: the same chunked reader and row checks over every row,
  without titling, which shows whether memory stays flat to the end of the file.
* **local / ray**: `summarize` on the first `--ray-rows` rows with `--engine local` and with
  `--engine ray` (one actor, a Ray started by the command), the same file and settings.

Every arm decodes with the model's tuned settings.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
STREAM_CHUNK_ROWS = 2000


def process_tree_rss(root: int) -> int:
    """Proportional resident bytes (PSS) of `root` and every process below it: pages shared
    between them, such as a forked tokenizer worker's copy of the parent, count once."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            rollup = ""
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                rss[pid] = int(line.split()[1]) * 1024
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], seconds: float | None = None, progress: Path | None = None) -> dict:
    """Run `command`, sampling its memory; stop it after `seconds` if given."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, timeline = 0, []
    while process.poll() is None:
        elapsed = time.perf_counter() - started
        peak = max(peak, process_tree_rss(process.pid))
        if progress is not None and progress.is_file():
            try:
                rows = json.loads(progress.read_text())["rows"]
            except (ValueError, KeyError, OSError):
                rows = None
            if rows is not None and (not timeline or timeline[-1][1] != rows):
                timeline.append((elapsed, rows, peak))
        if seconds is not None and elapsed > seconds:
            process.terminate()
            break
        time.sleep(0.2)
    output, _ = process.communicate()
    if seconds is None and process.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{output[-3000:]}")
    return {"seconds": time.perf_counter() - started, "peak": peak, "timeline": timeline, "output": output}


def build_input(data: Path, rows: int, path: Path) -> None:
    """`rows` rows: the corpus's lines repeated."""
    with gzip.open(data, "rt", encoding="utf-8") as handle:
        lines = [line if line.endswith("\n") else line + "\n" for line in handle if line.strip()]
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < rows:
            batch = lines[: rows - written]
            out.writelines(batch)
            written += len(batch)


def first_rows(source: Path, rows: int, path: Path) -> Path:
    with source.open(encoding="utf-8") as handle, path.open("w", encoding="utf-8") as out:
        for number, line in enumerate(handle):
            if number == rows:
                break
            out.write(line)
    return path


READ_ONLY = """
import sys
from issue_summarizer.data.loading import issues_from_table, read_chunks
rows = 0
for raw in read_chunks(sys.argv[1], int(sys.argv[2])):
    loaded = issues_from_table(raw, sys.argv[1], require_title=False, drop_bad_rows=False, first_row=rows + 1)
    rows += len(raw)
print(rows)
"""


def gib(value: float) -> str:
    return f"{value / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--whole-rows", type=int, default=5_000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ray-rows", type=int, default=3_000)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    command_line = shlex.join(["python", "bench/streaming.py", *sys.argv[1:]])
    python = sys.executable
    results = []
    with tempfile.TemporaryDirectory(prefix="streaming-bench-") as directory:
        directory = Path(directory)
        big = directory / "million.jsonl"
        started = time.perf_counter()
        build_input(args.data, args.rows, big)
        print(
            f"built {args.rows:,} rows ({big.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - started:.0f} s"
        )
        summarize = [python, "-m", "issue_summarizer", "summarize", "--model", str(args.model)]

        whole = first_rows(big, args.whole_rows, directory / "whole.jsonl")
        run = run_measured(
            [
                *summarize,
                "--input",
                str(whole),
                "--output",
                str(directory / "whole-out.jsonl"),
                "--chunk-rows",
                str(args.whole_rows),
            ]
        )
        results.append((f"whole file, {args.whole_rows:,} rows", args.whole_rows, run))
        print(f"whole file: {args.whole_rows / run['seconds']:.1f} titles/s, peak {gib(run['peak'])}", flush=True)

        output = directory / "stream-out.jsonl"
        run = run_measured(
            [*summarize, "--input", str(big), "--output", str(output), "--chunk-rows", str(STREAM_CHUNK_ROWS)],
            seconds=args.minutes * 60,
            progress=output.with_name(output.name + ".progress.json"),
        )
        done = run["timeline"][-1][1] if run["timeline"] else 0
        results.append((f"streaming, {args.rows:,}-row file, stopped after {args.minutes:g} min", done, run))
        print(f"streaming: {done:,} rows in {run['seconds']:.0f} s, peak {gib(run['peak'])}", flush=True)
        for elapsed, rows, peak in run["timeline"]:
            print(f"  {elapsed:6.0f} s  {rows:>7,} rows written  peak so far {gib(peak)}")

        run = run_measured([python, "-c", READ_ONLY, str(big), "10000"])
        results.append((f"reading only, {args.rows:,} rows, 10,000 a chunk", args.rows, run))
        print(f"reading only: {args.rows / run['seconds']:,.0f} rows/s, peak {gib(run['peak'])}", flush=True)

        if not args.skip_ray:
            sample = first_rows(big, args.ray_rows, directory / "ray.jsonl")
            for engine in ("local", "ray"):
                run = run_measured(
                    [
                        *summarize,
                        "--input",
                        str(sample),
                        "--output",
                        str(directory / f"{engine}.jsonl"),
                        "--engine",
                        engine,
                    ]
                )
                results.append((f"{engine} engine, {args.ray_rows:,} rows", args.ray_rows, run))
                print(f"{engine}: {args.ray_rows / run['seconds']:.1f} titles/s", flush=True)

    print()
    print(f"Measured with `{command_line}` (titles/s include starting the process and loading the model).")
    print()
    print("| arm | rows titled | seconds | titles/s | peak memory (PSS) |")
    print("|---|---:|---:|---:|---:|")
    for name, rows, run in results:
        print(f"| {name} | {rows:,} | {run['seconds']:.0f} | {rows / run['seconds']:,.1f} | {gib(run['peak'])} |")
    stream = next(run for name, _, run in results if name.startswith("streaming"))
    if len(stream["timeline"]) >= 2:
        (first_time, first_rows_done, _), (last_time, last_rows, _) = stream["timeline"][0], stream["timeline"][-1]
        rate = (last_rows - first_rows_done) / (last_time - first_time)
        print(f"\nStreaming, steady state between its first and last written chunk: {rate:.1f} titles/s.")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
