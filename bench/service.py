"""Load test of the HTTP service: titles/s, latency, errors and memory under concurrent clients.

    python bench/service.py [--model model] [--data ../shared/data/github_issues.jsonl.gz] [--seconds 20] [--no-readme]

One run measures, on real test-split bodies of the model's split:

1. the batched `summarize` path in this process (`scored_titles` at batch 256, the same call
   `summarize` makes, with the model's own decoding), titles/s with the model already loaded,
   the median of three passes over 1,000 bodies;
2. `serve` with its defaults (dynamic batching with `BatchingSettings`' defaults, the model in
   `default_model_processes()` worker processes) at 1, 8, 32 and 128 concurrent clients, each
   for `--seconds`: every client sends one body per request (`POST /v1/titles {"body": ...}`),
   waits for the answer and sends the next;
3. the same server with batching turned off (`--max-batch 1 --max-wait-ms 0 --model-processes 0`:
   one process decodes one request at a time, as iTiger's server does), at 1 and 32 clients.

For each it reports titles/s (answers with a title, per second of the level), p50/p95/p99
latency of all answers, the answers by status code, the server's peak resident memory (VmRSS of
its process and its model processes, sampled every 100 ms) and the cores its processes used.
Servers run as `python -m issue_summarizer serve`
subprocesses on 127.0.0.1; the clients are one asyncio process here (aiohttp). Linux only (/proc). The table
goes into bench/README.md between the service markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marked_tables import write_between_markers  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
MARKERS = ("<!-- service:start -->", "<!-- service:end -->")
BODIES = 2_000
CLI_BODIES = 1_000
CLI_PASSES = 3
# A body longer than the service's limit would be answered 413; the CLI reads only the start anyway.
MAX_CHARS = 20_000


@dataclass
class Level:
    name: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    titled: int = 0
    peak_rss_mb: float = 0.0
    cores: float = float("nan")  # CPU the server's processes used: seconds per second.
    mean_batch: float = float("nan")

    @property
    def titles_per_second(self) -> float:
        return self.titled / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        return float(np.percentile(self.latencies, share)) if self.latencies else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def batch_totals(url: str) -> tuple[float, float]:
    """The server's batch-size histogram so far: (sum of sizes, number of batches), from /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        for name in ("issue_summarizer_batch_size_sum", "issue_summarizer_batch_size_count"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    return values.get("issue_summarizer_batch_size_sum", 0.0), values.get("issue_summarizer_batch_size_count", 0.0)


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants: the server and its model processes."""
    tree, index = [pid], 0
    while index < len(tree):
        try:
            for task in Path(f"/proc/{tree[index]}/task").iterdir():
                tree += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
        index += 1
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory of the server's process tree, in MB."""
    total = 0.0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the server's process tree has used so far."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of stat.
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


class Server:
    """`python -m issue_summarizer serve` in a subprocess, ready when `/readyz` answers 200."""

    def __init__(self, model: Path, extra: list[str]) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "issue_summarizer", "serve", "--model", str(model), "--port", str(self.port)]
        self.process = subprocess.Popen(
            command + extra, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: {self.process.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:  # Not listening yet, or 503 while the model loads (HTTPError is an OSError).
                pass
            time.sleep(0.5)
        raise SystemExit("the server was not ready in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def load(server: Server, bodies: list[str], level: Level, seconds: float) -> None:
    """`level.clients` clients, each sending one body at a time for `seconds`.

    The clients use aiohttp: on these 2 shared cores the load generator competes with the server,
    and httpx's client cost about a fifth of a core at 32 clients (the server then served 66
    titles/s instead of 85 with aiohttp, the same server measured in one session).
    """
    import aiohttp

    stop_at = time.monotonic() + seconds
    peak = 0.0

    async def sample_memory() -> None:
        nonlocal peak
        while time.monotonic() < stop_at:
            peak = max(peak, rss_mb(server.process.pid))
            await asyncio.sleep(0.1)

    async def client(number: int, session: aiohttp.ClientSession) -> None:
        position = number * 7919
        while time.monotonic() < stop_at:
            body = bodies[position % len(bodies)]
            position += 1
            started = time.perf_counter()
            try:
                async with session.post(f"{server.url}/v1/titles", json={"body": body}) as answer:
                    status = answer.status
                    titled = status == 200 and bool((await answer.json()).get("title"))
            except (aiohttp.ClientError, TimeoutError) as error:
                status, titled = type(error).__name__, False
            level.latencies.append(time.perf_counter() - started)
            level.statuses[status] += 1
            level.titled += titled
            if status == 503:
                # Shed load: back off as the server asks would idle the level; a short pause is enough.
                await asyncio.sleep(0.05)

    connector = aiohttp.TCPConnector(limit=level.clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        started, cpu = time.monotonic(), cpu_seconds(server.process.pid)
        await asyncio.gather(sample_memory(), *(client(number, session) for number in range(level.clients)))
        level.seconds = time.monotonic() - started
        level.cores = (cpu_seconds(server.process.pid) - cpu) / level.seconds
    level.peak_rss_mb = peak


def cli_titles_per_second(model: Path, bodies: list[str], passes: int = CLI_PASSES) -> tuple[list[float], list[float]]:
    """The `summarize` path in this process: `scored_titles` at batch 256, model loaded beforehand.

    Titles/s of each of `passes` passes over the bodies, and the cores each pass used. One pass on
    this shared 2-core machine varied by up to 15% between runs minutes apart (99-115 titles/s),
    so the table compares the server with the median pass, as robust a figure as the server's
    20-second levels, and shows every pass.
    """
    from issue_summarizer.inference.confidence import load_calibration, scored_titles
    from issue_summarizer.inference.summarizer import Summarizer

    summarizer = Summarizer.load(model)
    calibration = load_calibration(model)
    scored_titles(summarizer, bodies[:64], calibration, batch_size=256)  # Traces the graphs.
    rates, cores = [], []
    for _ in range(passes):
        started, cpu = time.perf_counter(), time.process_time()
        scored_titles(summarizer, bodies, calibration, batch_size=256)
        elapsed = time.perf_counter() - started
        rates.append(len(bodies) / elapsed)
        cores.append((time.process_time() - cpu) / elapsed)
    return rates, cores


def run_levels(model: Path, bodies: list[str], extra: list[str], levels: list[Level], seconds: float) -> None:
    server = Server(model, extra)
    try:
        server.wait_ready()
        # One untimed second of load, so that the timed levels do not pay for the first traces.
        asyncio.run(load(server, bodies, Level("warm-up", 4), 3.0))
        for level in levels:
            print(f"{level.name}: {level.clients} clients for {seconds:g} s", file=sys.stderr)
            items, batches = batch_totals(server.url)
            asyncio.run(load(server, bodies, level, seconds))
            more_items, more_batches = batch_totals(server.url)
            if more_batches > batches:
                level.mean_batch = (more_items - items) / (more_batches - batches)
    finally:
        server.stop()


def table(passes: list[float], cli_cores: list[float], levels: list[Level], count: int, seconds: float) -> str:
    cli = float(np.median(passes))
    lines = [
        f"{count:,} test-split bodies of `model/split.json`, one per request, {seconds:g} s per level, "
        "2-core machine, server and clients on it together. Titles/s counts answers with a title.",
        "",
        "| server | clients | titles/s | p50 ms | p95 ms | p99 ms | answers by status | mean batch | peak RSS MB "
        "| cores used |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for level in levels:
        statuses = ", ".join(f"{status}: {number:,}" for status, number in sorted(level.statuses.items(), key=str))
        lines.append(
            f"| {level.name} | {level.clients} | {level.titles_per_second:.1f} | {level.percentile(50) * 1000:.0f} "
            f"| {level.percentile(95) * 1000:.0f} | {level.percentile(99) * 1000:.0f} | {statuses} "
            f"| {level.mean_batch:.1f} | {level.peak_rss_mb:.0f} | {level.cores:.2f} |"
        )
    batched = {level.clients: level for level in levels if level.name == "dynamic batching"}
    unbatched = {level.clients: level for level in levels if level.name.startswith("one at a time")}
    lines += [
        "",
        f"Batched `summarize` path (in process, batch 256, model loaded; median of {len(passes)} passes over "
        f"{CLI_BODIES:,} bodies, which gave {', '.join(f'{rate:.1f}' for rate in passes)}): **{cli:.1f} titles/s**, "
        f"using {float(np.median(cli_cores)):.2f} cores (one process: the interpreter lock holds beam search and "
        "tokenization to one core between TensorFlow calls).",
    ]
    if 32 in batched and 32 in unbatched:
        at32 = batched[32]
        lines.append(
            f"At 32 clients: {at32.titles_per_second / cli:.0%} of the batched path (target ≥ 80%), "
            f"{at32.titles_per_second / max(unbatched[32].titles_per_second, 1e-9):.1f}× the unbatched server "
            f"(target ≥ 3×), p95 {at32.percentile(95) * 1000:.0f} ms (target ≤ 1,000), "
            f"errors {sum(n for s, n in at32.statuses.items() if s != 200)} (target 0)."
        )
    if 32 in batched and 128 in batched:
        at128 = batched[128]
        other = sorted(str(status) for status in at128.statuses if status not in (200, 503))
        growth = at128.peak_rss_mb / max(batched[32].peak_rss_mb, 1e-9) - 1
        lines.append(
            f"At 128 clients: statuses other than 200 and 503: {', '.join(other) or 'none'} (target none); "
            f"peak RSS {growth:+.1%} against 32 clients (target within ±10%)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each level runs")
    parser.add_argument("--no-readme", action="store_true", help="only print the table")
    parser.add_argument(
        "--server-args", default="", help="extra `serve` flags for the batching server, e.g. '--max-wait-ms 20'"
    )
    parser.add_argument("--clients", default="1,8,32,128", help="client counts of the batching server's levels")
    args = parser.parse_args()
    model = args.model.resolve()
    frame = select_rows(load_issues(args.data), "test", RepositorySplit.load(model / "split.json"))
    frame = frame.sample(n=min(BODIES, len(frame)), random_state=0)
    bodies = [body[:MAX_CHARS] for body in frame["body"].tolist()]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    print("timing the batched summarize path", file=sys.stderr)
    passes, cli_cores = cli_titles_per_second(model, bodies[:CLI_BODIES])
    levels = [Level("dynamic batching", int(clients)) for clients in args.clients.split(",")]
    run_levels(model, bodies, args.server_args.split(), levels, args.seconds)
    # iTiger's design: one process decodes one request at a time.
    one_at_a_time = ["--max-batch", "1", "--max-wait-ms", "0", "--model-processes", "0"]
    unbatched = [Level(f"one at a time ({' '.join(one_at_a_time)})", clients) for clients in (1, 32)]
    run_levels(model, bodies, one_at_a_time, unbatched, args.seconds)
    text = table(passes, cli_cores, levels + unbatched, len(bodies), args.seconds)
    print(text)
    print(json.dumps({"cli_titles_per_second": [round(rate, 1) for rate in passes]}), file=sys.stderr)
    if not args.no_readme:
        write_between_markers(ROOT / "bench" / "README.md", text, MARKERS)


if __name__ == "__main__":
    main()
