"""Benchmark the Streamlit app in a real browser (Debian's Chromium through Playwright).

    python bench/app.py [--model model] [--data ../shared/data/github_issues.jsonl.gz] [--sessions 10]

Measures, against a fresh `streamlit run app.py`:
* cold start: from starting the server process to the first page shown with the model loaded;
* generate: from clicking "Generate title" to the title in the page, median of 10 clicks in one session;
* concurrency: 10 browser sessions (separate contexts) that each open the Summarize page and
  generate titles at the same time: failures, median and worst click-to-title latency.

Latencies are measured by the page's own clock (a MutationObserver notes when the title
appears), so Playwright's polling interval does not inflate them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from issue_summarizer.app.examples import EXAMPLE_ISSUES  # noqa: E402
from tests.browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MODEL_LOADED,
    WATCH_FOR_TITLE,
    AppServer,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
TARGET_COLD_START_SECONDS = 15.0
TARGET_GENERATE_SECONDS = 1.0
VIEWPORT = {"width": 1440, "height": 1200}


async def open_summarize(page, url: str, body: str) -> None:
    await page.goto(f"{url}/summarize")
    await page.locator(MODEL_LOADED).wait_for(timeout=120_000)
    area = page.get_by_label("Issue body")
    await area.fill(body)
    await area.press("Control+Enter")


async def generate(page, generation: int, timeout_ms: float = 60_000) -> tuple[str, float]:
    """Click Generate; return the session's `generation`-th title and the seconds from click to title."""
    selector = f".st-key-generation_{generation} h3"
    button = page.get_by_role("button", name="Generate title")
    await button.wait_for(timeout=timeout_ms)
    await page.evaluate(WATCH_FOR_TITLE, selector)
    clicked_at = await page.evaluate("performance.now()")
    await button.click()
    await page.wait_for_function("window.__titleShownAt !== null", timeout=timeout_ms, polling="raf")
    shown_at = await page.evaluate("window.__titleShownAt")
    title = (await page.locator(selector).inner_text()).strip()
    if not title:
        raise RuntimeError("empty title")
    return title, (shown_at - clicked_at) / 1000


async def session(browser, url: str, body: str, clicks: int) -> list[float]:
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await open_summarize(page, url, body)
        return [(await generate(page, generation))[1] for generation in range(1, clicks + 1)]
    finally:
        await context.close()


def machine_cpu() -> tuple[int, int]:
    """(all, idle) jiffies since boot, from /proc/stat (Linux)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cold_start(browser, server: AppServer) -> float:
    """Seconds from starting the server to the Overview page shown with the model loaded."""
    page = await browser.new_page(viewport=VIEWPORT)
    while True:
        try:
            await page.goto(server.url, timeout=2_000)
            break
        except Exception:  # The server is not listening yet.
            if server.process.poll() is not None:
                raise RuntimeError(f"streamlit exited; see {server.log_path}") from None
            await asyncio.sleep(0.05)
    await page.locator(MODEL_LOADED).wait_for(timeout=120_000)
    await page.get_by_role("heading", name="Issue Summarizer").wait_for(timeout=60_000)
    seconds = time.perf_counter() - server.started_at
    await page.close()
    return seconds


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    bodies = list(EXAMPLE_ISSUES.values())
    results: dict = {}
    async with async_playwright() as playwright:
        # The browser starts before the server, so cold start measures the app, not Chromium.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        log = Path(tempfile.mkdtemp(prefix="bench_app_")) / "streamlit.log"
        with AppServer(args.model, args.data, log) as server:
            results["cold_start"] = await cold_start(browser, server)

            context = await browser.new_context(viewport=VIEWPORT)
            page = await context.new_page()
            await open_summarize(page, server.url, bodies[0])
            results["generate"] = [(await generate(page, number))[1] for number in range(1, args.clicks + 1)]
            await context.close()

            # The browsers share this machine's cores with the server, so the CPU figures say how
            # much of the concurrent latency is the server's own work.
            started, machine_before = time.perf_counter(), machine_cpu()
            server_before = process_cpu_seconds(server.process.pid)
            outcomes = await asyncio.gather(
                *(
                    session(browser, server.url, bodies[index % len(bodies)], args.clicks_per_session)
                    for index in range(args.sessions)
                ),
                return_exceptions=True,
            )
            results["concurrent_wall"] = time.perf_counter() - started
            machine_after = machine_cpu()
            results["server_cpu"] = process_cpu_seconds(server.process.pid) - server_before
            busy = 1 - (machine_after[1] - machine_before[1]) / max(machine_after[0] - machine_before[0], 1)
            results["machine_busy"] = busy
            results["concurrent_latencies"] = [
                value for outcome in outcomes if isinstance(outcome, list) for value in outcome
            ]
            results["concurrent_failures"] = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        await browser.close()
    return results


def print_table(results: dict, args) -> None:
    generate = results["generate"]
    concurrent = results["concurrent_latencies"]
    failures = results["concurrent_failures"]
    clicks = args.sessions * args.clicks_per_session
    rows = [
        (
            "cold start (server start to model loaded)",
            f"{results['cold_start']:.2f} s",
            f"<= {TARGET_COLD_START_SECONDS:.0f} s",
        ),
        (
            f"generate, median of {len(generate)}",
            f"{statistics.median(generate):.3f} s",
            f"<= {TARGET_GENERATE_SECONDS:.0f} s",
        ),
        (f"generate, worst of {len(generate)}", f"{max(generate):.3f} s", ""),
        (f"{args.sessions} sessions x {args.clicks_per_session} titles: failed sessions", f"{len(failures)}", "0"),
        ("  titles written", f"{len(concurrent)} of {clicks}", ""),
        ("  median click-to-title", f"{statistics.median(concurrent):.3f} s" if concurrent else "-", ""),
        ("  worst click-to-title", f"{max(concurrent):.3f} s" if concurrent else "-", ""),
        ("  wall time, pages opened to last title", f"{results['concurrent_wall']:.1f} s", ""),
        ("  server CPU time in that wall time", f"{results['server_cpu']:.1f} s", ""),
        (f"  machine CPU busy ({os.cpu_count()} cores, browsers included)", f"{results['machine_busy']:.0%}", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'result':>14}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")
    for failure in failures:
        print(f"failure: {type(failure).__name__}: {str(failure).splitlines()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_file() else None)
    parser.add_argument("--clicks", type=int, default=10, help="generate clicks in the single session")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent browser sessions")
    parser.add_argument("--clicks-per-session", type=int, default=3)
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"{CHROMIUM} is missing; install Debian's chromium package")
    print(f"model {args.model}, data {args.data}, chromium {CHROMIUM}")
    print_table(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
