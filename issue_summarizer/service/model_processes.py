"""The model in worker processes, so that several batches decode at once.

One Python process decodes one batch at a time, and only part of that time in TensorFlow: beam
search, tokenization and title restoration hold the interpreter lock. On 2 cores a server that
decoded in its own process used 1.3 of them. Each worker process here loads its own copy of the
model with `threads` TensorFlow threads and decodes whole batches; the server's process keeps
the HTTP layer, the queue, the metrics and the webhook, and sends each batch to an idle worker
over a pipe (bodies in, `TitleAnswer`s or `CheckAnswer`s out).

Measured on 2 cores (docs/service.md): titling batches of 32 test bodies, one process with
TensorFlow's default threads gave 88-94 titles/s; two processes with one thread each, 157 in all.

A worker that dies (killed, out of memory) fails the batch it held, and a new one is started in
its place; the others go on serving.

Workers are spawned, so each imports the parent's main module first, as `multiprocessing` does:
`python -m issue_summarizer serve` is safe (its `__main__` is skipped), and a script that starts
a `LocalBackend` with processes needs the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from issue_summarizer.quiet_imports import quiet_tensorflow_start_up

logger = logging.getLogger("issue_summarizer.service")

# Seconds a worker may take to import TensorFlow and load the model before the server gives up.
LOAD_TIMEOUT = 600.0


class ModelProcessError(RuntimeError):
    """A worker could not load the model, or stopped while decoding."""


def first_line(error: BaseException) -> str:
    """An error's first line, at most 300 characters (its name when it has no message): what a
    log line or `/readyz` says, without TensorFlow's pages of graph details."""
    return (str(error).splitlines() or [type(error).__name__])[0][:300]


def _serve(connection: Connection, model_directory: str, beam_width: int | None, threads: int) -> None:
    """A worker's life: load the model, say so, then answer (method, items) until told to stop."""
    # A fresh interpreter: TensorFlow's start-up lines are silenced here as the command line does.
    quiet_tensorflow_start_up()
    import tensorflow as tf

    try:
        # Set before the model runs anything: TensorFlow fixes its thread pools on first use.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:  # Already running (the main module started it): slower, not wrong.
        logger.warning("a model process keeps TensorFlow's default threads: %s", first_line(error))
    from issue_summarizer.service.model_work import ModelWork

    try:
        work = ModelWork(model_directory, beam_width)
    except Exception as error:  # Whatever it is, the server reports it rather than waiting.
        connection.send(("failed", first_line(error)))
        return
    connection.send(("ready", None))
    methods = {"titles": work.titles, "checks": work.checks}
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # The server went away.
        if message is None:
            return
        method, items = message
        try:
            connection.send(("ok", methods[method](items)))
        except Exception as error:  # One bad batch must not end the worker.
            connection.send(("error", f"{type(error).__name__}: {first_line(error)}"))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection


class ModelProcesses:
    """`count` worker processes, each with the model loaded; `call` decodes one batch in an idle one.

    `call` blocks its thread until the batch is decoded, so callers run it in a thread pool of
    `count` threads (`LocalBackend` does): the threads only wait on pipes.
    """

    def __init__(self, model_directory: str | Path, beam_width: int | None, count: int, threads: int = 1) -> None:
        if count < 1 or threads < 1:
            raise ValueError(f"need at least one worker and one thread each, got {count} and {threads}")
        self.model_directory = str(model_directory)
        self.beam_width = beam_width
        self.count = count
        self.threads = threads
        # Spawned, not forked: a fork of a process that runs threads (the event loop's, the
        # batcher's) can inherit a lock held by one of them.
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False

    def start(self) -> None:
        """Start every worker and wait until each has loaded the model; `ModelProcessError` says why one could not."""
        starting = [self._spawn() for _ in range(self.count)]
        try:
            for worker in starting:
                self._wait_ready(worker)
        except ModelProcessError:
            for worker in starting:
                self._stop(worker)
            raise
        for worker in starting:
            self._idle.put(worker)

    def call(self, method: str, items: list) -> list:
        """The results of `method` ("titles" or "checks") for `items`, from an idle worker."""
        worker = self._idle.get()
        try:
            worker.connection.send((method, items))
            status, result = worker.connection.recv()
        except (EOFError, OSError) as error:
            # The worker died with the batch: this batch fails, and a new worker takes its place.
            logger.error("a model process stopped (exit code %s); starting another", worker.process.exitcode)
            threading.Thread(target=self._replace, args=(worker,), daemon=True, name="model-restart").start()
            raise ModelProcessError("the model process stopped while decoding; try again") from error
        self._idle.put(worker)
        if status != "ok":
            raise ModelProcessError(result)
        return result

    def close(self) -> None:
        """Stop the idle workers (a worker busy with a batch stops when the server's process ends)."""
        self._closed = True
        while True:
            try:
                self._stop(self._idle.get_nowait())
            except queue.Empty:
                return

    def _spawn(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(theirs, self.model_directory, self.beam_width, self.threads),
            daemon=True,
            name="model",
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def _wait_ready(self, worker: _Worker) -> None:
        if not worker.connection.poll(LOAD_TIMEOUT):
            raise ModelProcessError(f"a model process did not load the model in {LOAD_TIMEOUT:.0f} s")
        try:
            status, detail = worker.connection.recv()
        except (EOFError, OSError) as error:
            exit_code = worker.process.exitcode
            raise ModelProcessError(f"a model process stopped while loading (exit code {exit_code})") from error
        if status != "ready":
            raise ModelProcessError(detail)

    def _replace(self, dead: _Worker) -> None:
        self._stop(dead)
        if self._closed:
            return
        worker = self._spawn()
        try:
            self._wait_ready(worker)
        except ModelProcessError as error:
            logger.error("could not restart a model process: %s", error)
            self._stop(worker)
            return
        self._idle.put(worker)

    @staticmethod
    def _stop(worker: _Worker) -> None:
        try:
            worker.connection.send(None)
        except (OSError, ValueError):
            pass
        worker.connection.close()
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
