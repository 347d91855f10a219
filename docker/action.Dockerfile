# The GitHub Action's image: the package, its pinned dependencies and the shipped model, baked in.
#
#     docker build -f docker/action.Dockerfile -t issue-summarizer-action .
#
# GitHub runs it with the repository's workspace as the working directory, so the model is found
# by the absolute ISSUE_SUMMARIZER_MODEL, and the entry point is the same command the tests run:
# `python -m issue_summarizer action`, which reads only the environment GitHub sets.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    ISSUE_SUMMARIZER_MODEL=/app/model \
    PYTHONPATH=/app

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY issue_summarizer /app/issue_summarizer
COPY model /app/model

# The model directory is read only: nothing the action does may change it.
RUN chmod -R a-w /app/model

ENTRYPOINT ["python", "-m", "issue_summarizer"]
CMD ["action"]
