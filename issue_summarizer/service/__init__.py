"""Service, step 9: titles and title checks over HTTP (FastAPI under uvicorn, or Ray Serve), with
dynamic batching, Prometheus metrics and a GitHub App webhook."""
