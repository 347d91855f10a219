"""`serve --engine ray`: the same FastAPI application (`service/api.py`) on Ray Serve, in replicas.

    python -m issue_summarizer serve --model model --engine ray --replicas 2 [--address ray://HOST:10001]

Each replica loads the model once (`ModelWork`) in its constructor, so Serve routes requests to
a replica only when its model is ready, and builds the application from `create_app` with a
backend of its own (`RayBackend`): every route, error answer and metric is the local server's.
Batching is Serve's `@serve.batch` (max batch and wait from `BatchingSettings`) on two methods,
titles and checks, whose model calls share one thread (Keras models are not thread-safe).

Overload is refused twice over: a replica holds at most `max_queue` items (503 with
`Retry-After`, as locally), and Serve keeps at most about `max_queue` requests on a replica
(`max_ongoing_requests`) and `max_queue` more waiting for one (`max_queued_requests`), beyond
which its proxy answers 503 itself, in plain text. `/metrics` counts the replica that answered
it: scrape Ray's own metrics for the whole deployment.

Ray is optional (`requirements-ray.txt`): it is imported only when this engine runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from issue_summarizer.quiet_imports import quiet_tensorflow_start_up
from issue_summarizer.service.api import ServiceSettings, ServiceState, create_app
from issue_summarizer.service.batching import BatchingSettings, Overloaded
from issue_summarizer.service.metrics import ServiceMetrics
from issue_summarizer.service.model_work import CheckAnswer, ModelWork, TitleAnswer

logger = logging.getLogger("issue_summarizer.service")
APP_NAME = "issue-summarizer"
# Constructor failures (a model that cannot load) before Serve gives up on the deployment,
# rather than Ray's default of loading TensorFlow twenty times over.
CONSTRUCTOR_RETRIES = 2


def concurrent_batches(batching: BatchingSettings) -> int:
    """Serve batches one replica lets into `RayBackend` at once: as many as `max_queue` items make."""
    return max(1, math.ceil(batching.max_queue / batching.max_batch))


def _deployment_class(batching: BatchingSettings):
    """The replica class, defined here so that importing this module does not import Ray, and so
    that `@serve.batch` takes the batching settings (they are fixed when it decorates)."""
    from ray import serve

    batched = serve.batch(
        max_batch_size=batching.max_batch,
        batch_wait_timeout_s=batching.max_wait,
        max_concurrent_batches=concurrent_batches(batching),
    )

    class RayBackend:
        """What `create_app` asks of a backend, over `@serve.batch` in this replica.

        Serve cuts its next batch as soon as the last one is cut, whether or not the model is
        free, so under load it would queue many small batches. Its batches are therefore let in
        together (`max_concurrent_batches`) and those still waiting for the model thread are
        merged, up to `max_batch` items, as the local batcher's queue would have gathered them.
        """

        def __init__(self, work: ModelWork, settings: BatchingSettings, on_batch=None) -> None:
            self.work = work
            self.settings = settings
            self.on_batch = on_batch
            self.error: str | None = None
            self.ready = True  # The replica's constructor loaded the model.
            self._pending = 0  # items in this replica's requests, waiting or decoding
            self._waiting: deque[tuple[object, list, asyncio.Future]] = deque()
            self._lane: asyncio.Task | None = None
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

        @property
        def queue_depth(self) -> int:
            return self._pending

        async def _decode(self, call, items: list) -> list:
            future = asyncio.get_running_loop().create_future()
            self._waiting.append((call, items, future))
            if self._lane is None or self._lane.done():
                self._lane = asyncio.get_running_loop().create_task(self._drain())
            return await future

        async def _drain(self) -> None:
            """Decode the waiting batches, those of one kind (titles, checks) merged up to `max_batch`."""
            loop = asyncio.get_running_loop()
            while self._waiting:
                call, size, group, rest = self._waiting[0][0], 0, [], deque()
                for entry in self._waiting:
                    if entry[0] == call and (not group or size + len(entry[1]) <= self.settings.max_batch):
                        group.append(entry)
                        size += len(entry[1])
                    else:
                        rest.append(entry)
                self._waiting = rest
                items = [item for _, batch, _ in group for item in batch]
                if self.on_batch:
                    self.on_batch(len(items))
                try:
                    results = await loop.run_in_executor(self._executor, call, items)
                except Exception as error:  # Every batch in the group gets the error, not a hang.
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                start = 0
                for _, batch, future in group:
                    if not future.done():
                        future.set_result(results[start : start + len(batch)])
                    start += len(batch)

        @batched
        async def _title_batch(self, bodies: list[str]) -> list[TitleAnswer]:
            return await self._decode(self.work.titles, bodies)

        @batched
        async def _check_batch(self, pairs: list[tuple[str, str]]) -> list[CheckAnswer]:
            return await self._decode(self.work.checks, pairs)

        async def _submit(self, handler, items: list, timeout: float | None) -> list:
            if self._pending + len(items) > self.settings.max_queue:
                raise Overloaded(max(1, round(self._pending / self.settings.max_batch)))
            self._pending += len(items)
            try:
                return list(await asyncio.wait_for(asyncio.gather(*(handler(item) for item in items)), timeout))
            finally:
                self._pending -= len(items)

        async def titles(self, bodies: list[str], timeout: float | None = None) -> list[TitleAnswer]:
            return await self._submit(self._title_batch, bodies, timeout)

        async def checks(self, pairs: list[tuple[str, str]], timeout: float | None = None) -> list[CheckAnswer]:
            return await self._submit(self._check_batch, pairs, timeout)

        async def close(self) -> None:
            if self._lane is not None:
                self._lane.cancel()
            self._executor.shutdown(wait=False, cancel_futures=True)

    class TitleService:
        """One replica: the model, its backend and the FastAPI application over them."""

        def __init__(self, model_directory: str, batching: BatchingSettings, beam_width, timeout: float) -> None:
            # Only the import is silenced: a model that fails to load still says why.
            quiet_tensorflow_start_up()

            metrics = ServiceMetrics()
            backend = RayBackend(ModelWork(model_directory, beam_width), batching, metrics.observe_batch)
            self.state = ServiceState(backend, ServiceSettings(request_timeout=timeout), metrics)

        def __serve_build_asgi_app__(self):
            # Called by Serve after the constructor: the application reads this replica's backend.
            return create_app(self.state, load_in_background=False)

    return serve.ingress()(TitleService)


def build_deployment(
    model_directory: str | Path,
    batching: BatchingSettings | None = None,
    beam_width: int | None = None,
    replicas: int = 1,
    timeout: float = 30.0,
):
    """The bound Serve application: `replicas` copies of the model, each behind the FastAPI app."""
    from ray import serve

    batching = batching or BatchingSettings()
    deployment = serve.deployment(
        _deployment_class(batching),
        name="TitleService",
        num_replicas=replicas,
        # Enough requests on a replica for its batches to fill (Serve warns below this); more
        # wait in Serve's queue, and past `max_queue` of those its proxy answers 503 itself.
        max_ongoing_requests=batching.max_batch * concurrent_batches(batching),
        max_queued_requests=batching.max_queue,
        max_constructor_retry_count=CONSTRUCTOR_RETRIES,
        # The request log is off, as under uvicorn here (log_level="warning").
        logging_config={"log_level": "WARNING", "enable_access_log": False},
    )
    # Absolute: a replica's working directory is not the caller's.
    return deployment.bind(str(Path(model_directory).resolve()), batching, beam_width, timeout)


def start_serve(host: str, port: int, address: str | None = None, timeout: float | None = None) -> None:
    """Connect to the Ray cluster at `address` (or start one here) and start Serve's HTTP proxy."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    http_options = {"host": host, "port": port}
    if timeout is not None:
        # A request still waiting for a replica well after the app's own 504 ends with Serve's 408.
        http_options["request_timeout_s"] = timeout + 5
    serve.start(http_options=http_options, logging_config={"log_level": "WARNING", "enable_access_log": False})


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def serve_with_ray(args, batching: BatchingSettings, webhook=None) -> None:
    """Deploy on Ray Serve at `args.host:args.port` and block until interrupted (Ctrl-C, or SIGTERM as
    from `docker stop`), then take the application down: Ray too when it was started here."""
    import ray
    from ray import serve

    # Serve's start-up lines ("Started Serve", "Connecting to existing Serve app"): the line below says it.
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    if webhook is not None:
        logger.warning("the GitHub App webhook is served by the local engine only; run `serve` without --engine ray")
    start_serve(args.host, args.port, args.address, args.timeout)
    signal.signal(signal.SIGTERM, _interrupted)  # After ray.init, which sets a handler of its own.
    try:
        application = build_deployment(args.model, batching, args.beam_width, args.replicas, args.timeout)
        serve.run(application, name=APP_NAME, route_prefix="/")
        replicas = f"{args.replicas} replica{'s' if args.replicas != 1 else ''}"
        print(
            f"serving {args.model} on http://{args.host}:{args.port} with Ray Serve, {replicas} (docs at /docs)",
            file=sys.stderr,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if args.address:
            serve.delete(APP_NAME)  # Leave the cluster as it was, less this application.
        else:
            ray.shutdown()  # Serve's actors with it (serve.shutdown first only logs Ray's retries).
