"""`serve`: the HTTP API (FastAPI under uvicorn, or on Ray Serve), with dynamic batching.

    python -m issue_summarizer serve --model model --host 127.0.0.1 --port 8000
    python -m issue_summarizer serve --model model --engine ray --replicas 2 [--address ray://HOST:10001]

OpenAPI documentation is at /docs. The GitHub App webhook (`POST /github/webhook`) is served when
`GITHUB_WEBHOOK_SECRET`, `GITHUB_APP_ID` and `GITHUB_APP_PRIVATE_KEY` (or `_FILE`) are set; see
docs/service.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from issue_summarizer.cli.arguments import (
    add_model_argument,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def add_parser(commands) -> None:
    from issue_summarizer.service.batching import BatchingSettings

    defaults = BatchingSettings()
    parser = commands.add_parser("serve", help="serve titles and title checks over HTTP, with dynamic batching")
    add_model_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=positive_int, default=8000, help="port to listen on")
    parser.add_argument(
        "--beam-width", type=positive_int, help="1 for greedy decoding (default: the model's tuned width)"
    )
    parser.add_argument(
        "--max-batch", type=positive_int, default=defaults.max_batch, help="most bodies decoded together"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=non_negative_float,
        default=defaults.max_wait * 1000,
        help="the longest gap between requests gathered into one batch once several clients send, in ms",
    )
    parser.add_argument(
        "--max-queue",
        type=positive_int,
        default=defaults.max_queue,
        help="bodies waiting beyond which requests get 503 with Retry-After",
    )
    parser.add_argument(
        "--model-processes",
        type=non_negative_int,
        default=None,
        help="worker processes that each hold the model and decode a batch at a time; 0 decodes in the "
        "server's own process (default: one per core, at most 2)",
    )
    parser.add_argument("--timeout", type=positive_float, default=30.0, help="seconds a request may wait (504 after)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="uvicorn here, or Ray Serve")
    parser.add_argument("--address", help="with --engine ray: an existing Ray cluster (default: start one here)")
    parser.add_argument("--replicas", type=positive_int, default=1, help="with --engine ray: model replicas")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.inference.summarizer import check_beam_width, check_model_directory
    from issue_summarizer.service.batching import BatchingSettings
    from issue_summarizer.service.webhook import webhook_from_environment

    if args.beam_width is not None:
        check_beam_width(args.beam_width)
    if args.engine != "ray" and (args.address is not None or args.replicas != 1):
        raise ValueError("--address and --replicas need --engine ray")
    if args.engine == "ray" and args.model_processes is not None:
        raise ValueError("--model-processes is for the local engine; Ray Serve scales with --replicas")
    check_model_directory(args.model)
    batching = BatchingSettings(max_batch=args.max_batch, max_wait=args.max_wait_ms / 1000, max_queue=args.max_queue)
    # Read before the model loads, so that a misconfigured App fails at once; the backend comes later.
    webhook = webhook_from_environment(os.environ)
    if args.engine == "ray":
        from issue_summarizer.service.ray_serve import serve_with_ray

        serve_with_ray(args, batching, webhook)
        return
    import uvicorn

    from issue_summarizer.service.api import ServiceSettings, ServiceState, create_app
    from issue_summarizer.service.backend import LocalBackend, default_model_processes
    from issue_summarizer.service.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    processes = default_model_processes() if args.model_processes is None else args.model_processes
    backend = LocalBackend(args.model, batching, args.beam_width, metrics.observe_batch, processes)
    if webhook is not None:
        webhook.backend = backend
    state = ServiceState(backend, ServiceSettings(request_timeout=args.timeout), metrics, webhook)
    print(f"serving {args.model} on http://{args.host}:{args.port} (docs at /docs)", file=sys.stderr)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")
