"""Run the app with `streamlit run` and drive it from Chromium; shared by the browser tests and `bench/app.py`.

Selectors the app guarantees (see `app_pages/summarize.py` and `issue_summarizer/app_state.py`):

* `.st-key-model_status`: the sidebar's model box; it says "Model loaded." once the model is in memory.
* `.st-key-generated_title h3`: the generated title.
* `.st-key-generation_N h3`: the same title, present once the session's N-th title is shown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {
    "overview": "",
    "summarize": "summarize",
    "title_check": "title_check",
    "holdout_browser": "holdout_browser",
    "lengths": "lengths",
    "similar_issues": "similar_issues",
}
MODEL_LOADED = ".st-key-model_status :text('Model loaded.')"
TITLE = ".st-key-generated_title h3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_only_prefix(directory: str | Path) -> list[str]:
    """A command prefix that runs a program with `directory` mounted read-only, or [] where that is impossible.

    Root ignores file modes, so `chmod` alone proves nothing in CI. A private mount namespace
    (util-linux `unshare`) with a read-only bind mount makes writes fail even for root.
    Elsewhere the caller falls back to taking write permission away.
    """
    if not shutil.which("unshare"):
        return []
    prefix = ["unshare", "--map-root-user", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"']
    prefix.append(str(directory))
    probe = subprocess.run([*prefix, "sh", "-c", f'! touch "{directory}/.write-probe"'], capture_output=True)
    return prefix if probe.returncode == 0 else []


class AppServer:
    """`streamlit run app.py` in a subprocess, stopped (by its own process id) on exit.

    With `read_only_model`, the server sees the model directory read-only, as a container
    image or a read-only volume would serve it.
    """

    def __init__(
        self,
        model_directory: str | Path,
        data_path: str | Path | None,
        log_path: Path,
        cache_directory: str | Path | None = None,
        read_only_model: bool = False,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model_directory = str(model_directory)
        self.data_path = "" if data_path is None else str(data_path)
        self.log_path = log_path
        self.cache_directory = cache_directory
        self.read_only_model = read_only_model
        self.extra_environment = environment or {}
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.model_mounted_read_only = False

    def __enter__(self) -> AppServer:
        environment = dict(
            os.environ, ISSUE_SUMMARIZER_MODEL=self.model_directory, ISSUE_SUMMARIZER_DATA=self.data_path
        )
        if self.cache_directory is not None:
            environment["ISSUE_SUMMARIZER_CACHE"] = str(self.cache_directory)
        environment.update(self.extra_environment)
        prefix = read_only_prefix(self.model_directory) if self.read_only_model else []
        self.model_mounted_read_only = bool(prefix)
        command = [
            *prefix,
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        self.log = self.log_path.open("w")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )
        return self

    def wait_until_healthy(self, timeout: float = 60) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"streamlit did not answer within {timeout} s; see {self.log_path}")

    def __exit__(self, *exception) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_model(page, timeout_ms: float = 120_000) -> None:
    page.locator(MODEL_LOADED).wait_for(timeout=timeout_ms)


def enter_body(page, body: str) -> None:
    """Type a body into the Summarize page and commit it (Streamlit applies a text area on Ctrl+Enter)."""
    area = page.get_by_label("Issue body")
    area.fill(body)
    area.press("Control+Enter")


# Playwright polls for new elements at growing intervals (up to 500 ms), too coarse to time a
# title that takes a fraction of a second, so the page itself records when the title appears.
WATCH_FOR_TITLE = """selector => {
    window.__titleShownAt = null;
    const seen = () => {
        if (document.querySelector(selector)) { window.__titleShownAt = performance.now(); return true; }
        return false;
    };
    if (seen()) return;
    const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def generate_title(page, generation: int, timeout_ms: float = 60_000) -> tuple[str, float]:
    """Click Generate and wait for the session's `generation`-th title; return it and the seconds it took.

    The time runs from the click to the title being in the DOM, both measured by the page's clock.
    """
    selector = f".st-key-generation_{generation} h3"
    button = page.get_by_role("button", name="Generate title")
    button.wait_for(timeout=timeout_ms)
    page.evaluate(WATCH_FOR_TITLE, selector)
    clicked_at = page.evaluate("performance.now()")
    button.click()
    page.wait_for_function("window.__titleShownAt !== null", timeout=timeout_ms, polling="raf")
    shown_at = page.evaluate("window.__titleShownAt")
    return page.locator(selector).inner_text().strip(), (shown_at - clicked_at) / 1000
