# The HTTP service's image: `serve` under uvicorn, the pinned stack, the package and the shipped model.
#
#     docker build -f docker/service.Dockerfile -t issue-summarizer-service .
#     docker run --rm -p 8000:8000 --read-only --tmpfs /tmp issue-summarizer-service
#
# The model is baked in and read-only; the process runs as an unprivileged user and writes
# nothing but /tmp. Point a load balancer's liveness probe at /healthz and its readiness probe at
# /readyz (503 while the model loads, about 10 s). Settings are flags of `serve` (see docs/service.md);
# the GitHub App webhook is on when GITHUB_WEBHOOK_SECRET, GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY
# (or GITHUB_APP_PRIVATE_KEY_FILE, e.g. a mounted secret) are set.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONPATH=/app \
    HOME=/tmp

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY issue_summarizer /app/issue_summarizer
COPY model /app/model
RUN chmod -R a-w /app/model && useradd --system --no-create-home summarizer

USER summarizer
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
ENTRYPOINT ["python", "-m", "issue_summarizer"]
CMD ["serve", "--model", "/app/model", "--host", "0.0.0.0", "--port", "8000"]
